"""Ground truth the physiology made on its own, scripted or not: a sustained NEWS2 of 5, a
fall-risk resident out of bed at night too long."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from device_sim.scenarios.spec import ScenarioSpec
from device_sim.scenarios.truth import Label
from rules.engine import RulesConfig
from rules.news2 import PARAMETERS, compute_news2
from rules.types import ResidentProfile, Vital


def spontaneous_news2(
    spec: ScenarioSpec,
    profile: ResidentProfile,
    vitals: Sequence[Vital],
    labelled: Sequence[Label],
    config: RulesConfig,
) -> list[Label]:
    """Ground truth the physiology made on its own: a complete NEWS2 of 5 or more held for
    the rule's persistence is medium clinical risk (RCP 2017), scripted or not."""
    hold = timedelta(seconds=config.news2.raise_after_s.medium)
    covered = [(lab.onset, lab.window_end) for lab in labelled if lab.family == "news2"]
    params = set(PARAMETERS)
    latest: dict[str, Vital] = {}
    out: list[Label] = []
    run: datetime | None = None
    labelled_run = False
    for v in vitals:  # in timestamp order (from the stream)
        if v.metric not in params:
            continue
        if v.metric in latest and v.ts < latest[v.metric].ts:
            continue
        latest[v.metric] = v
        result = compute_news2(latest, scale=profile.news2_scale, now=v.ts, config=config.news2)
        if result.total is None or result.total < 5:
            run, labelled_run = None, False
            continue
        run = run or v.ts
        if labelled_run or v.ts - run < hold:
            continue
        labelled_run = True
        if any(on <= run <= until for on, until in covered):
            continue
        out.append(
            Label(
                spec.name,
                profile.subject,
                "news2",
                True,
                run,
                run,
                min(run + timedelta(hours=2), spec.end),
                "spontaneous_news2",
                "high",
                "NEWS2 >= 5",
                run,
            )
        )
    return out


def spontaneous_night_exits(
    spec: ScenarioSpec,
    profile: ResidentProfile,
    occupied: Sequence[Vital],
    labelled: Sequence[Label],
    config: RulesConfig,
) -> list[Label]:
    """Ground truth the physiology made on its own: a fall-risk resident out of bed at night
    for longer than the rule allows (a long toilet visit, a sleepless hour in the chair) is a
    real event a caregiver should check on, not a false alert."""
    limit = timedelta(seconds=config.bed.return_within_s)
    covered = [(lab.onset, lab.window_end) for lab in labelled if lab.family == "bed.exit_night"]
    out: list[Label] = []
    left: datetime | None = None
    for v in [*occupied, None]:
        if v is not None and v.value < 0.5:
            left = left or v.ts
            continue
        back = v.ts if v is not None else spec.end
        if (
            left is not None
            and back - left >= limit  # the rule pages at exactly the limit
            and config.bed.night.contains(left, profile.timezone)
            and not any(on <= left + limit <= until for on, until in covered)
        ):
            due = left + limit
            out.append(
                Label(
                    spec.name,
                    profile.subject,
                    "bed.exit_night",
                    True,
                    left,
                    due,
                    min(due + timedelta(minutes=30), spec.end),
                    "spontaneous_night_exit",
                )
            )
        left = None
    return out
