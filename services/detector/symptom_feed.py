"""One row of the detector's symptom feed into the rules: a resident's symptoms from a round
go to their unit's clusters; a member of staff's check-in with signs goes to the clusters of
the unit they work in (the row names it), as a staff case."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from rules.engine import Engine
from rules.outbreak_syndromes import SignReport
from rules.types import AlertCandidate
from services.detector.ward_inputs import SymptomObservation

__all__ = ["feed"]


def feed(
    engine: Engine,
    row: SymptomObservation,
    ensure_resident: Callable[[int], bool],
    touched: set[int],
    now: datetime,
) -> list[AlertCandidate]:
    """The candidates one row finds; a resident fed is added to `touched` (their state
    changed), an unknown one is skipped."""
    signs = frozenset(row.symptoms)
    if row.staff_person is not None and row.site_id is not None and row.unit_id is not None:
        report = SignReport("staff", row.staff_person, row.ts, signs, row.temperature)
        return engine.signs(row.site_id, row.unit_id, report, now=now)
    if row.resident_id is None or not ensure_resident(row.resident_id):
        return []
    touched.add(row.resident_id)
    return engine.symptoms(row.resident_id, row.ts, signs, now=now)
