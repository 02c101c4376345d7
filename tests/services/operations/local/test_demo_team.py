"""The demo's care team (what `carewatch up` stores): a rota of day, evening and night shifts in
the site's time zone, with a caregiver and a charge nurse on shift to page at every minute of
every day at both demo sites, and a handover that finds the shift just ended (or ending within
the hour) instead of "no shifts"."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
import pytest

from services.careteam.handover import handover_window
from services.careteam.roster import on_duty
from services.careteam.store import store_team
from services.careteam.team import load_care_team, roster_of
from services.operations.local.demo import (
    DEMO_BY,
    DEMO_ZONE,
    HOME_SITE,
    HOME_UNIT,
    SITE,
    UNIT,
    demo_care_team,
    ensure_demo_team,
    ensure_home_resident,
)

HOME_RESIDENT = 7
PAGER = "json://127.0.0.1:8000/demo/pager"
TEAM = load_care_team(demo_care_team(PAGER, HOME_RESIDENT))
ZONE = ZoneInfo(DEMO_ZONE)
PLACES = ((SITE, UNIT), (HOME_SITE, HOME_UNIT))


def test_the_sites_zone_is_the_demos() -> None:
    assert {TEAM.alerts.timezone_of(site) for site, _ in PLACES} == {DEMO_ZONE}


@pytest.mark.parametrize(("site", "unit"), PLACES)
def test_every_minute_of_the_day_has_a_caregiver_and_a_charge_nurse_on_shift(
    site: str, unit: str
) -> None:
    roster = roster_of(TEAM, {HOME_RESIDENT: (HOME_SITE, HOME_UNIT, DEMO_ZONE)})
    # A Monday and a Sunday: no shift is limited to some weekdays.
    for day in (datetime(2026, 12, 7, tzinfo=ZONE), datetime(2026, 12, 13, tzinfo=ZONE)):
        for minute in range(24 * 60):
            at = day + timedelta(minutes=minute)
            for role in ("caregiver", "charge_nurse"):
                on = on_duty(roster, site, unit, role, at, ZONE)
                assert len(on) == 1, (role, at.isoformat(), on)
            assert on_duty(roster, site, unit, "physician", at, ZONE), at.isoformat()


@pytest.mark.parametrize(
    ("clock", "start", "end"),
    [
        # Ending within the hour: the report is written before the end of the shift.
        ((15, 30), (8, 0), (16, 0)),
        # Just ended: the shift handed over an hour ago.
        ((17, 0), (8, 0), (16, 0)),
        ((23, 10), (16, 0), (24, 0)),
        ((0, 30), (16, 0), (24, 0)),
        ((7, 59), (0, 0), (8, 0)),
        ((9, 0), (0, 0), (8, 0)),
    ],
)
def test_the_handover_finds_the_shift(
    clock: tuple[int, int], start: tuple[int, int], end: tuple[int, int]
) -> None:
    day = datetime(2026, 12, 8, tzinfo=ZONE)
    at = day.replace(hour=clock[0], minute=clock[1])
    # The evening shift that a 00:30 handover reads began the day before.
    began = day - timedelta(days=1) if clock[0] < start[0] else day
    for site, unit in PLACES:
        window = handover_window(TEAM, site, unit, at, ZONE)
        assert window.basis == "shift", (site, at.isoformat())
        assert window.start == began + timedelta(hours=start[0], minutes=start[1])
        assert window.end == began + timedelta(hours=end[0], minutes=end[1])


def earlier_demo_team() -> dict[str, Any]:
    """An earlier release's demo team: the day staff around the clock, no evening or night."""
    document = demo_care_team(PAGER, HOME_RESIDENT)
    shifts: list[dict[str, str]] = document["shifts"]  # type: ignore[assignment]
    day = [s for s in shifts if s["staff"] in ("demo-caregiver", "demo-nurse")]
    return {**document, "shifts": [{**s, "start": "00:00", "end": "00:00"} for s in day]}


async def stored(conn: psycopg.AsyncConnection[Any]) -> tuple[int, str, dict[str, Any]]:
    cur = await conn.execute(
        "SELECT version, stored_by, document FROM care_team ORDER BY version DESC LIMIT 1"
    )
    row = await cur.fetchone()
    assert row is not None
    return int(row[0]), str(row[1]), row[2]


@pytest.mark.services
def test_up_replaces_an_earlier_demo_team_but_never_an_edited_one(
    db_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    this_release = load_care_team(demo_care_team(PAGER, HOME_RESIDENT)).model_dump(mode="json")

    async def run() -> None:
        # One transaction, rolled back: the other tests' care team is left as it was.
        async with await psycopg.AsyncConnection.connect(db_url) as conn:
            try:
                await conn.execute("DELETE FROM care_team")
                assert await ensure_demo_team(conn, PAGER, HOME_RESIDENT) == "stored"
                first = await stored(conn)
                assert first[1:] == (DEMO_BY, this_release)
                assert await ensure_demo_team(conn, PAGER, HOME_RESIDENT) == "current"
                assert (await stored(conn))[0] == first[0]

                # An old demo directory: its team as an earlier `carewatch up` stored it.
                old = await store_team(conn, load_care_team(earlier_demo_team()), by=DEMO_BY)
                with caplog.at_level(logging.INFO, logger="carewatch.up"):
                    assert await ensure_demo_team(conn, PAGER, HOME_RESIDENT) == "replaced"
                version, by, document = await stored(conn)
                assert version > old and (by, document) == (DEMO_BY, this_release)
                assert f"replaced the demo care team of an earlier release (version {old}" in (
                    caplog.text
                )

                # Someone edited it (the web or the API stores it under their name): kept, even
                # when it is the earlier release's document again.
                edited = await store_team(conn, load_care_team(earlier_demo_team()), by="admin")
                assert await ensure_demo_team(conn, PAGER, HOME_RESIDENT) == "kept"
                assert (await stored(conn))[:2] == (edited, "admin")
            finally:
                await conn.rollback()

    asyncio.run(run())


def test_the_demo_home_is_a_family_bed(db_url: str) -> None:
    # Its pages then carry the home address, the emergency plan and the 120 guidance.
    async def run() -> tuple[int, str]:
        async with await psycopg.AsyncConnection.connect(db_url, autocommit=True) as conn:
            rid = await ensure_home_resident(conn)
            cur = await conn.execute("SELECT kind FROM sites WHERE site_id = %s", [HOME_SITE])
            row = await cur.fetchone()
            assert row is not None
            return rid, str(row[0])

    rid, kind = asyncio.run(run())
    assert rid > 0 and kind == "family_bed"
