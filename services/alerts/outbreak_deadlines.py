"""Case files left unreported: an outbreak case file neither reported to disease control nor
ruled out within `AlertsConfig.outbreak_report_within_s` of opening raises an
"outbreak.report_overdue" alert for its unit, paged by the "outbreak_overdue" audience's
escalation (the infection-control lead, then up). Closing the file stands the alert down.

Run in the alert service's step transaction: the file's row records when it was paged and
stood down, so a restart neither pages twice nor forgets one.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Final

from psycopg import AsyncConnection
from psycopg.rows import TupleRow

from rules.types import Action, AlertCandidate, unit_subject
from services.alerts.effects import Effect
from services.alerts.lifecycle import apply_candidate
from services.alerts.model import AlertBook
from services.careteam.policy import AlertsConfig
from services.careteam.roster import Roster

__all__ = ["AUDIENCE", "RULE_ID", "candidates", "step"]

RULE_ID: Final = "outbreak.report_overdue"
AUDIENCE: Final = "outbreak_overdue"


async def candidates(
    conn: AsyncConnection[TupleRow], now: datetime, within_s: float
) -> list[AlertCandidate]:
    """Raises for files newly overdue, clears for overdue files closed since; both marked."""
    overdue = await conn.execute(
        "UPDATE outbreaks SET overdue_paged_at = %s WHERE status = 'open'"
        " AND overdue_paged_at IS NULL AND opened_at <= %s"
        " RETURNING outbreak_id, site_id, unit_id, syndrome, drill",
        [now, now - timedelta(seconds=within_s)],
    )
    raised = [_candidate("raise", row, now, within_s) for row in await overdue.fetchall()]
    closed = await conn.execute(
        "UPDATE outbreaks SET overdue_cleared_at = %s WHERE status <> 'open'"
        " AND overdue_paged_at IS NOT NULL AND overdue_cleared_at IS NULL"
        " RETURNING outbreak_id, site_id, unit_id, syndrome, drill",
        [now],
    )
    return raised + [_candidate("clear", row, now, within_s) for row in await closed.fetchall()]


async def step(
    conn: AsyncConnection[TupleRow],
    book: AlertBook,
    now: datetime,
    config: AlertsConfig,
    roster: Roster,
) -> tuple[AlertBook, list[Effect]]:
    """Apply this step's overdue raises and clears to the book."""
    found = await candidates(conn, now, config.outbreak_report_within_s)
    if not found:
        return book, []
    # The file's closing is the end of the condition: its clear resolves the alert.
    config = config.model_copy(
        update={"self_clearing_rules": (*config.self_clearing_rules, RULE_ID)}
    )
    effects: list[Effect] = []
    for candidate in found:
        book, produced = apply_candidate(book, candidate, now=now, config=config, roster=roster)
        effects += produced
    return book, effects


def _candidate(action: Action, row: Any, now: datetime, within_s: float) -> AlertCandidate:
    outbreak_id, site_id, unit_id, syndrome, drill = row
    hours = within_s / 3600
    values: dict[str, float | str] = {
        "outbreak_id": outbreak_id,
        "syndrome": syndrome,
        "report_within_h": hours,
    }
    if drill:
        values["drill"] = 1
    # A site's file (no unit) is about the site.
    place = f"unit {unit_id}" if unit_id else f"site {site_id}"
    title = f"Outbreak case file {outbreak_id} ({syndrome}, {place}) not reported"
    title += f" within {hours:g} h"
    subject = unit_subject(site_id, unit_id) if unit_id else f"site:{site_id}"
    return AlertCandidate(
        rule_id=RULE_ID,
        action=action,
        subject=subject,
        dedupe_key=f"{RULE_ID}:{outbreak_id}",
        severity="high",
        ts=now,
        title=title,
        values=values,
        audience=AUDIENCE,
    )
