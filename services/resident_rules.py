"""A resident's effective rule configuration: the defaults, then the site's overrides, then the
resident's own. The one loader the detector, the API's NEWS2 and the referral snapshot use, so
a page, a referral and the resident page never disagree about the same readings.

Each layer is validated on its own: a stored override that does not validate (legacy data,
written before a check existed) is logged and dropped for that layer only. A bad resident
override keeps the site's valid overrides; a bad site override keeps the defaults. The API
refuses new overrides that would not validate (`check_resident_overrides`)."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from rules.config import with_overrides
from rules.engine import RulesConfig
from rules.errors import OverrideError

log = logging.getLogger("carewatch.rules")

_DEFAULTS = RulesConfig()


def effective_rules(
    site_overrides: Mapping[str, Any] | None,
    resident_overrides: Mapping[str, Any] | None,
    *,
    resident_id: int,
    base: RulesConfig | None = None,
) -> RulesConfig:
    """The resident's configuration; never raises (a bad layer is logged and skipped)."""
    config, site_error, own_error = _resolve(base, _key(site_overrides), _key(resident_overrides))
    if site_error is not None:
        log.error(
            "resident %s: the site's rule overrides ignored, defaults apply (%s)",
            resident_id,
            site_error,
        )
    if own_error is not None:
        log.error(
            "resident %s: own rule overrides ignored, the site's configuration applies (%s)",
            resident_id,
            own_error,
        )
    return config


def check_resident_overrides(
    site_overrides: Mapping[str, Any] | None,
    resident_overrides: Mapping[str, Any],
    *,
    base: RulesConfig | None = None,
) -> None:
    """Raise OverrideError (naming each bad key) when `resident_overrides` would not validate
    once merged over the site's configuration, as the detector would apply them."""
    _, _, error = _resolve(base, _key(site_overrides), _key(resident_overrides))
    if error is not None:
        raise OverrideError(error.problems)


Resolved = tuple[RulesConfig, OverrideError | None, OverrideError | None]


def _key(overrides: Mapping[str, Any] | None) -> str:
    # Canonical JSON: equal overrides share one validated config (most residents of a site
    # have the same, usually none; validating each at every refresh costs the detector).
    return json.dumps(overrides or {}, sort_keys=True, separators=(",", ":"))


def _resolve(base: RulesConfig | None, site_json: str, own_json: str) -> Resolved:
    if base is None or base is _DEFAULTS:
        return _resolve_defaults(site_json, own_json)
    return _resolve_from(base, site_json, own_json)


@lru_cache(maxsize=4096)
def _resolve_defaults(site_json: str, own_json: str) -> Resolved:
    return _resolve_from(_DEFAULTS, site_json, own_json)


def _resolve_from(base: RulesConfig, site_json: str, own_json: str) -> Resolved:
    site, site_error = _layer(base, json.loads(site_json))
    config, own_error = _layer(site, json.loads(own_json))
    return config, site_error, own_error


def _layer(
    config: RulesConfig, overrides: Mapping[str, Any]
) -> tuple[RulesConfig, OverrideError | None]:
    """`config` with the overrides applied, or `config` itself and why they do not validate."""
    if not overrides:
        return config, None
    try:
        return with_overrides(config, overrides), None
    except OverrideError as exc:
        return config, exc
