"""A rule's referral reason as a code and parameters, put in words in the reader's language from
the one catalogue (services/catalogue.py): the API, the web page and the referral messages
all say it the same way. Rows stored before the codes keep their English text, shown as is."""

from __future__ import annotations

import math
from collections.abc import Mapping

from services.alerts.messages import figures
from services.catalogue import Language, has, text
from services.referrals.model import ReasonCode

__all__ = ["from_alert", "params_of", "render"]


def from_alert(rule_id: str, values: Mapping[str, float | str]) -> ReasonCode:
    """The reason of a suggestion opened by an alert: its rule and its figures (numbers, and
    NEWS2's band; the rules' other strings are ids and assumptions, not words for a reader)."""
    kept: list[tuple[str, str | float]] = [
        (key, float(value))
        for key, value in values.items()
        if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    ]
    band = values.get("band")
    if isinstance(band, str):
        kept.append(("band", band))
    return ReasonCode("alert", tuple(sorted([("rule", rule_id), *kept])))


def params_of(data: Mapping[str, object]) -> tuple[tuple[str, str | float], ...]:
    """Stored parameters (JSON) back to the model's pairs; anything else is left out."""
    pairs: list[tuple[str, str | float]] = []
    for key, value in sorted(data.items()):
        if isinstance(value, str):
            pairs.append((key, value))
        elif isinstance(value, int | float) and not isinstance(value, bool):
            pairs.append((key, float(value)))
    return tuple(pairs)


def render(language: Language, reason: ReasonCode | None, stored: str) -> str:
    """The reason in `language`; the stored text when there is no code (a nurse's own words,
    or a row from before the codes) or the code is unknown to this version."""
    if reason is None or reason.code != "alert":
        return stored
    params = dict(reason.params)
    rule = str(params.pop("rule", ""))
    key = f"rule.{rule}"
    name = text(language, key) if has(language, key) else (stored or rule)
    shown = figures(language, params, rule)
    if not shown:
        return text(language, "referrals.reason.alert", rule=name)
    return text(language, "referrals.reason.alert_values", rule=name, values=shown)
