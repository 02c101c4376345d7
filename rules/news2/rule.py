"""The NEWS2 rule over time: raises, updates (escalates, steps down) and clears one alert per
resident from successive scores, with persistence and hysteresis."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Final, Literal

from rules.news2.chart import (
    ALERT_BANDS,
    RULE_ID,
    SEVERITY_BY_BAND,
    AlertBand,
    Band,
    Parameter,
    band_rank,
)
from rules.news2.config import News2Config
from rules.news2.score import News2Result, compute_news2
from rules.types import AlertCandidate, ResidentProfile, Vital

HeldSince = tuple[datetime | None, datetime | None, datetime | None]


@dataclass(frozen=True, slots=True)
class News2State:
    """Per-resident NEWS2 rule state. The initial state is `News2State()`.

    `held_since[i]`: since when every complete score has been in ALERT_BANDS[i] or worse,
    dips shorter than `dip_tolerance_s` aside (`dipped_at[i]`: when the current dip began;
    None: not now). `alert_band`/`alert_total`: what the open alert last said (None: no
    alert open). `below_since`/`below_peak`: since when the score has stayed below the
    alert's band, and the worst band seen meanwhile (the step-down hysteresis window)."""

    held_since: HeldSince = (None, None, None)
    alert_band: AlertBand | None = None
    alert_total: int | None = None
    below_since: datetime | None = None
    below_peak: Band | None = None
    dipped_at: HeldSince = (None, None, None)  # since when a held band is in a short dip


def news2_step(
    state: News2State,
    latest: Mapping[str, Vital],
    *,
    profile: ResidentProfile,
    now: datetime,
    config: News2Config,
) -> tuple[News2State, list[AlertCandidate]]:
    """Advance the NEWS2 rule for one resident; call on every parameter change and on ticks.

    Raises once a band of low_medium or worse has held for its `raise_after_s` (dips shorter
    than `dip_tolerance_s` aside); updates the open alert when its band changes or its total
    worsens (escalating only after the same persistence, stepping down only after the score
    stays below the alert's band for `clear_after_s`); clears after `clear_after_s` back in
    "low". An incomplete score never clears or steps down (silence is not wellness, nor is an
    overdue round); it raises or escalates only when the evidence already proves the band
    (`proven_band`: a lower bound over every value within its `max_age_s`), saying so."""
    # While an alert is open its band sets the observation interval: an alert raised at
    # "hourly" does not stand down on a round that is only current for a lower score.
    result = compute_news2(
        latest,
        scale=profile.news2_scale,
        now=now,
        config=config,
        level_at_least=state.alert_band,
    )
    if result.band is None or result.total is None:
        # Missing parameters can only add points: what is present is a lower bound.
        lower = result.proven_band
        if lower is None or (
            state.alert_band is not None and band_rank(lower) <= band_rank(state.alert_band)
        ):
            return News2State(alert_band=state.alert_band, alert_total=state.alert_total), []
        # Still marked incomplete, so it is never shown as a complete score.
        result = replace(result, total=result.proven_total, band=lower)
    assert result.band is not None and result.total is not None
    band, total = result.band, result.total
    held_since, dipped = _held_since(state, band, now, config.dip_tolerance_s)
    confirmed = _confirmed_band(held_since, band, now, config)

    if state.alert_band is None:
        if confirmed is None:
            return News2State(held_since=held_since, dipped_at=dipped), []
        return _emit("raise", confirmed, result, profile, held_since, dipped)

    alert_band = state.alert_band
    if band_rank(band) >= band_rank(alert_band):
        if confirmed is not None and band_rank(confirmed) > band_rank(alert_band):
            return _emit("update", confirmed, result, profile, held_since, dipped)
        # Worse within the band: say so. Better within it is not news (the step-down window
        # reports lasting improvement), and a total flickering 5-6 must not stream updates.
        if state.alert_total is None or total > state.alert_total:
            return _emit("update", alert_band, result, profile, held_since, dipped)
        return News2State(held_since, alert_band, state.alert_total, dipped_at=dipped), []

    # Below the alert's band: step down only once a whole window has stayed below it, and then
    # only to the worst band seen in that window (so a momentary low at its end cannot clear).
    if state.below_since is None or state.below_peak is None:
        below_since, peak = now, band
    else:
        below_since, peak = state.below_since, max(state.below_peak, band, key=band_rank)
    if (now - below_since).total_seconds() < config.clear_after_s:
        return (
            News2State(held_since, alert_band, state.alert_total, below_since, peak, dipped),
            [],
        )
    step_down = _alert_band(peak)
    if step_down is not None:
        return _emit("update", step_down, result, profile, held_since, dipped)
    clear = AlertCandidate(
        rule_id=RULE_ID,
        action="clear",
        subject=profile.subject,
        dedupe_key=_dedupe_key(profile),
        severity=SEVERITY_BY_BAND[alert_band],
        ts=now,
        title=f"NEWS2 {total}: back to low clinical risk",
        values=_values(result, None),
    )
    return News2State(held_since=held_since, dipped_at=dipped), [clear]


def _held_since(
    state: News2State, band: Band, now: datetime, tolerance_s: float
) -> tuple[HeldSince, HeldSince]:
    """Each alert band's hold start and dip start after a score in `band` at `now`."""
    rank = band_rank(band)
    held: list[datetime | None] = []
    dipped: list[datetime | None] = []
    for level, since, dip in zip(ALERT_BANDS, state.held_since, state.dipped_at, strict=True):
        if rank >= band_rank(level):
            held.append(since if since is not None else now)
            dipped.append(None)
        elif since is None:
            held.append(None)
            dipped.append(None)
        else:
            dip_start = dip if dip is not None else now
            still = (now - dip_start).total_seconds() <= tolerance_s
            held.append(since if still else None)
            dipped.append(dip_start if still else None)
    return (held[0], held[1], held[2]), (dipped[0], dipped[1], dipped[2])


def _confirmed_band(
    held_since: HeldSince, band: Band, now: datetime, config: News2Config
) -> AlertBand | None:
    """The worst band the score is in now that has held (it or worse, short dips aside) for
    its persistence, if any."""
    confirmed: AlertBand | None = None
    rank = band_rank(band)
    for level, since in zip(ALERT_BANDS, held_since, strict=True):
        held_s = None if since is None else (now - since).total_seconds()
        if (
            held_s is not None
            and rank >= band_rank(level)
            and held_s >= config.raise_after_s.for_band(level)
        ):
            confirmed = level
    return confirmed


def _alert_band(band: Band) -> AlertBand | None:
    return None if band == "low" else ALERT_BANDS[band_rank(band) - 1]


def _emit(
    action: Literal["raise", "update"],
    alert_band: AlertBand,
    result: News2Result,
    profile: ResidentProfile,
    held_since: HeldSince,
    dipped: HeldSince,
) -> tuple[News2State, list[AlertCandidate]]:
    assert result.total is not None and result.band is not None
    state = News2State(held_since, alert_band, result.total, dipped_at=dipped)
    if band_rank(result.band) < band_rank(alert_band):
        # Stepped down to a window's worst band while the score is lower still: the next
        # window starts now.
        state = News2State(held_since, alert_band, result.total, result.at, result.band, dipped)
    candidate = AlertCandidate(
        rule_id=RULE_ID,
        action=action,
        subject=profile.subject,
        dedupe_key=_dedupe_key(profile),
        severity=SEVERITY_BY_BAND[alert_band],
        ts=result.at,
        title=_title(result, alert_band),
        values=_values(result, alert_band),
        suggestion="referral" if alert_band == "high" else None,
    )
    return state, [candidate]


# How the page and the card name a parameter that is missing.
_SHOWN: Final[Mapping[Parameter, str]] = {
    "rr": "RR",
    "spo2": "SpO2",
    "on_o2": "air/oxygen",
    "sbp": "SBP",
    "hr": "HR",
    "acvpu": "ACVPU",
    "temp": "temp",
}


def _title(result: News2Result, alert_band: AlertBand) -> str:
    risk = f"{alert_band.replace('_', '-')} clinical risk"
    if result.complete:
        return f"NEWS2 {result.total}: {risk}"
    # A lower bound: say so, and what the score is still waiting for.
    missing = ", ".join(_SHOWN[p] for p in result.missing)
    return f"NEWS2 ≥ {result.proven_total}: {risk} (missing or out of date: {missing})"


def _dedupe_key(profile: ResidentProfile) -> str:
    return f"{RULE_ID}:{profile.subject}"


def _values(result: News2Result, alert_band: AlertBand | None) -> dict[str, float | str]:
    # "band" is the alert's (persistence-confirmed) band; "total" and the sub-scores are the
    # score at `ts`, which may be a band worse while an escalation is still being confirmed.
    assert result.total is not None and result.band is not None
    values: dict[str, float | str] = {
        "total": result.total,
        "band": alert_band or result.band,
        "scale": result.scale,
    }
    for s in result.sub_scores:
        values[s.parameter] = s.score
        if s.reading is not None:  # the reading scored, so a page shows values, not scores
            values[f"value_{s.parameter}"] = float(s.charted)
    if result.assumptions:
        values["assumptions"] = "; ".join(result.assumptions)
    if not result.complete:
        values["complete"] = "no: the total is a lower bound"
        values["missing"] = ",".join(result.missing)
    return values
