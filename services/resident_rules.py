"""A resident's rule configuration as the detector applies it: the defaults, then the site's
overrides, then the resident's own. The API's NEWS2 and the referral snapshot score with it,
so a page, a referral and the resident page never disagree about the same readings."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from rules.config import merge, with_overrides
from rules.engine import RulesConfig
from rules.errors import OverrideError

log = logging.getLogger("carewatch.rules")


def configured_rules(
    site_overrides: Mapping[str, Any] | None,
    resident_overrides: Mapping[str, Any] | None,
    *,
    resident_id: int,
) -> RulesConfig:
    try:
        return with_overrides(RulesConfig(), merge(site_overrides or {}, resident_overrides or {}))
    except OverrideError as exc:
        # The detector refuses these too and says so, then watches with the defaults; a
        # read of the score is not the place to stop either.
        log.warning("resident %s: rule overrides ignored (%s)", resident_id, exc)
        return RulesConfig()
