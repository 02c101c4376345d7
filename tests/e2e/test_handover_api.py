"""The shift handover (`GET /api/v1/handover`) and the ward overview (`GET /api/v1/ward`)
through the real app and database: the shift just ended by the care team's shifts in the
site's time zone, its alerts (resolved ones with outcome and note, who acknowledged), the
referrals that moved, observations due now; each caller sees only their place."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from psycopg.types.json import Jsonb

from tests.e2e.alerting import clean, store
from tests.support import SITE, UNIT, Conn, login_as

pytestmark = pytest.mark.services

HANDOVER = "/api/v1/handover"
WARD = "/api/v1/ward"
TZ = ZoneInfo("Asia/Shanghai")  # the care team's default
UNIT2, OTHER_SITE = "ho-u2", "ho-s9"


def minute(at: datetime) -> datetime:
    return at.replace(second=0, microsecond=0)


@dataclass(frozen=True, slots=True)
class Shift:
    """The test's last shift: it began four hours ago and ended an hour ago (local minutes)."""

    start: datetime
    end: datetime

    def after(self, minutes: int) -> datetime:
        return self.start + timedelta(minutes=minutes)


@dataclass(frozen=True, slots=True)
class Ward:
    shift: Shift
    residents: dict[str, int]  # a, b (unit u1), c (unit ho-u2), d (another site)
    alerts: dict[str, int]
    referrals: dict[str, int]


def place(db: Conn, site: str, unit: str) -> None:
    db.execute("INSERT INTO sites VALUES (%s, 'Site') ON CONFLICT DO NOTHING", [site])
    db.execute("INSERT INTO units VALUES (%s, %s, 'Unit') ON CONFLICT DO NOTHING", [site, unit])


def admit(db: Conn, name: str, site: str, unit: str, room: str, bed: str) -> int:
    row = db.execute(
        "INSERT INTO residents (site_id, unit_id, display_name, room, bed)"
        " VALUES (%s, %s, %s, %s, %s) RETURNING resident_id",
        [site, unit, name, room, bed],
    ).fetchone()
    assert row is not None
    return int(row[0])


def alert(
    db: Conn,
    aid: int,
    rid: int,
    site: str,
    unit: str,
    opened: datetime,
    *,
    acked: datetime | None = None,
    resolved: datetime | None = None,
    outcome: str | None = None,
    note: str | None = None,
    severity: str = "high",
    rule: str = "fall.device",
) -> int:
    """An alert as the alert service stores it (one incident each)."""
    state = "resolved" if resolved else "acknowledged" if acked else "notified"
    db.execute(
        "INSERT INTO incidents (incident_id, subject, site_id, unit_id, resident_id, state,"
        " severity, title, opened_at, acknowledged_at, acknowledged_by, acknowledged_via,"
        " resolved_at, delivered_at, updated_at)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s, 'Fall', %s, %s, %s, %s, %s, %s, now())",
        [
            aid, f"resident:{rid}", site, unit, rid, state, severity, opened, acked,
            "cg1" if acked else None, "api" if acked else None, resolved, opened,
        ],
    )  # fmt: skip
    db.execute(
        "INSERT INTO alerts (alert_id, incident_id, rule_id, dedupe_key, subject, resident_id,"
        " title, severity, opened_at, first_ts, last_ts, count, outcome, resolved_by,"
        " resolved_at, note, updated_at) VALUES (%s, %s, %s, %s, %s, %s, 'Fall', %s, %s, %s,"
        " %s, 1, %s, %s, %s, %s, now())",
        [
            aid, aid, rule, f"ho:{aid}", f"resident:{rid}", rid, severity, opened, opened,
            opened, outcome, "rn1" if resolved else None, resolved, note,
        ],
    )  # fmt: skip
    return aid


def referral(
    db: Conn, rid: int, site: str, unit: str, moves: list[tuple[datetime, str | None, str]]
) -> int:
    row = db.execute(
        "INSERT INTO referrals (resident_id, site_id, unit_id, hospital_id, hospital_name,"
        " state, trigger, reason, patient, created_at, updated_at) VALUES (%s, %s, %s, 'ho-h',"
        " 'City Hospital', %s, 'staff', 'fall', %s, now(), now()) RETURNING referral_id",
        [rid, site, unit, moves[-1][2], Jsonb({"name": "x"})],
    ).fetchone()
    assert row is not None
    for at, was, to in moves:
        db.execute(
            "INSERT INTO referral_transitions (referral_id, at, action, from_state, to_state,"
            " staff_id, role, side, note) VALUES (%s, %s, %s, %s, %s, 'rn1', 'nurse', 'care',"
            " %s)",
            [row[0], at, f"referral.{to}", was, to, f"{was}->{to}"],
        )
    return int(row[0])


def fresh_round(db: Conn, rid: int) -> None:
    """A round five minutes ago and the wearable a minute ago, all normal: nothing due for
    hours."""
    now = datetime.now(UTC)
    readings = [
        *((m, v, "manual") for m, v in (("on_o2", 0), ("sbp", 124), ("acvpu", 0), ("temp", 36.8))),
        *((m, v, "vitals") for m, v in (("rr", 16), ("spo2", 97), ("hr", 72))),
    ]
    for metric, value, source in readings:
        manual = source == "manual"
        db.execute(
            "INSERT INTO readings (ts, device_id, resident_id, metric, value, source,"
            " received_at) VALUES (%s, %s, %s, %s, %s, %s, now())",
            [
                now - timedelta(minutes=5 if manual else 1),
                f"manual-{rid}" if manual else f"ho-w-{rid}",
                rid,
                metric,
                value,
                source,
            ],
        )


def care_team(shift: Shift) -> dict[str, Any]:
    local_start, local_end = shift.start.astimezone(TZ), shift.end.astimezone(TZ)
    return {
        "staff": [
            {"id": "cg1", "name": "Li Na", "role": "caregiver", "channels": ["ntfy://cg1"]},
            {"id": "rn1", "name": "Wang Fang", "role": "nurse", "channels": ["ntfy://rn1"]},
            {"id": "dr1", "name": "Dr Zhao", "role": "physician", "channels": ["ntfy://dr1"]},
        ],
        "shifts": [
            {
                "staff": "cg1",
                "site": SITE,
                "start": local_start.strftime("%H:%M"),
                "end": local_end.strftime("%H:%M"),
            },
            # On call all day: no handover boundary.
            {"staff": "dr1", "site": SITE, "start": "00:00", "end": "00:00"},
        ],
    }


@pytest.fixture
def handover_ward(db: Conn, ward: str) -> Iterator[Ward]:
    clean(db)
    start = minute(datetime.now(UTC)) - timedelta(hours=4)
    shift = Shift(start, start + timedelta(hours=3))
    store(db, care_team(shift))
    place(db, SITE, UNIT2)
    place(db, OTHER_SITE, "u1")
    r = {
        "a": admit(db, "Wu Lan", SITE, UNIT, "201", "1"),
        "b": admit(db, "Sun Hui", SITE, UNIT, "201", "2"),
        "c": admit(db, "Qian Yu", SITE, UNIT2, "301", "1"),
        "d": admit(db, "Zhou Bo", OTHER_SITE, "u1", "101", "1"),
    }
    fresh_round(db, r["b"])
    a = {
        # Opened, acknowledged and resolved during the shift.
        "resolved": alert(
            db, 930_001, r["a"], SITE, UNIT, shift.after(30), acked=shift.after(35),
            resolved=shift.after(60), outcome="actionable", note="Helped up, no injury",
        ),
        "open": alert(db, 930_002, r["b"], SITE, UNIT, shift.after(90), severity="critical"),
        "before": alert(
            db, 930_003, r["a"], SITE, UNIT, shift.after(-120), resolved=shift.after(-60),
            outcome="false_alarm",
        ),
        "carried": alert(db, 930_004, r["a"], SITE, UNIT, shift.after(-30), severity="medium"),
        "unit2": alert(db, 930_005, r["c"], SITE, UNIT2, shift.after(100)),
        "away": alert(db, 930_006, r["d"], OTHER_SITE, "u1", shift.after(100)),
        "after": alert(db, 930_007, r["b"], SITE, UNIT, shift.after(200)),
    }  # fmt: skip
    refs = {
        "a": referral(
            db,
            r["a"],
            SITE,
            UNIT,
            [
                (shift.after(-10), None, "suggested"),
                (shift.after(40), "suggested", "requested"),
                (shift.after(50), "requested", "requested"),  # a timer fired: no move
                (shift.after(70), "requested", "accepted"),
            ],
        ),
        "c": referral(db, r["c"], SITE, UNIT2, [(shift.after(45), None, "requested")]),
    }
    db.commit()
    yield Ward(shift, r, a, refs)
    made = [list(refs.values())]
    db.execute("DELETE FROM referral_transitions WHERE referral_id = ANY(%s)", made)
    db.execute("DELETE FROM referrals WHERE referral_id = ANY(%s)", made)
    db.execute("DELETE FROM readings WHERE resident_id = %s", [r["b"]])
    db.commit()
    clean(db)


def get(api: TestClient, headers: dict[str, str], path: str, **params: Any) -> dict[str, Any]:
    answer = api.get(path, params=params, headers=headers)
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def ids(items: list[dict[str, Any]], key: str, among: dict[str, int]) -> set[str]:
    names = {v: k for k, v in among.items()}
    return {names[i[key]] for i in items if i[key] in names}


def at(value: str) -> datetime:
    return datetime.fromisoformat(value)


def test_the_shift_just_ended_with_what_happened_in_it(
    api: TestClient, handover_ward: Ward
) -> None:
    nurse = login_as(api, "ho-nurse", "nurse", site=SITE, staff="rn1")
    w = handover_ward
    body = get(api, nurse, HANDOVER)
    window = body["window"]
    assert (window["basis"], window["timezone"]) == ("shift", "Asia/Shanghai")
    assert (at(window["start"]), at(window["end"])) == (w.shift.start, w.shift.end)
    assert at(window["until"]) == w.shift.end  # it has ended
    # Open at some time during the shift, the site's units: not before, not after, not away.
    assert ids(body["alerts"], "alert_id", w.alerts) == {"resolved", "open", "carried", "unit2"}
    assert [a["alert_id"] for a in body["alerts"]][-1] == w.alerts["resolved"]  # open first
    resolved = next(a for a in body["alerts"] if a["alert_id"] == w.alerts["resolved"])
    assert resolved["outcome"] == "actionable"
    assert resolved["note"] == "Helped up, no injury"
    assert (resolved["acknowledged_by"], resolved["resolved_by"]) == ("cg1", "rn1")
    assert at(resolved["acknowledged_at"]) == w.shift.after(35)
    assert (resolved["display_name"], resolved["room"], resolved["bed"]) == ("Wu Lan", "201", "1")
    assert body["staff"] == {"cg1": "Li Na", "rn1": "Wang Fang"}
    assert body["summary"] == {
        "opened": 3,
        "acknowledged": 1,
        "resolved": 1,
        "still_open": 3,
        "referrals": 2,
        "observations_due": body["summary"]["observations_due"],
    }
    # The referral's moves during the shift, not the suggestion before it nor the timer.
    moved = {r["referral_id"]: r for r in body["referrals"]}
    assert set(moved) == set(w.referrals.values())
    mine = moved[w.referrals["a"]]
    assert [(m["from_state"], m["to_state"]) for m in mine["moves"]] == [
        ("suggested", "requested"),
        ("requested", "accepted"),
    ]
    assert (mine["state"], mine["display_name"], mine["hospital_name"]) == (
        "accepted",
        "Wu Lan",
        "City Hospital",
    )
    # Observations due now: no readings at all for a and c; b's round is fresh.
    due = ids(body["observations"], "resident_id", w.residents)
    assert due == {"a", "c"}
    wu = next(o for o in body["observations"] if o["resident_id"] == w.residents["a"])
    assert wu["news2"]["observations"]["status"] == "overdue"
    assert (wu["room"], wu["bed"]) == ("201", "1")


def test_each_caller_sees_only_their_place(api: TestClient, handover_ward: Ward) -> None:
    w = handover_ward
    unit_nurse = login_as(api, "ho-unit-nurse", "nurse", site=SITE, units=(UNIT,))
    body = get(api, unit_nurse, HANDOVER)
    assert ids(body["alerts"], "alert_id", w.alerts) == {"resolved", "open", "carried"}
    assert [r["referral_id"] for r in body["referrals"]] == [w.referrals["a"]]
    assert ids(body["observations"], "resident_id", w.residents) == {"a"}
    # Asking for a place outside the scope narrows to nothing.
    elsewhere = get(api, unit_nurse, HANDOVER, site=OTHER_SITE)
    assert (elsewhere["alerts"], elsewhere["referrals"]) == ([], [])
    away = login_as(api, "ho-away-cg", "caregiver", site=OTHER_SITE)
    body = get(api, away, HANDOVER)
    assert ids(body["alerts"], "alert_id", w.alerts) == {"away"}
    assert body["referrals"] == []
    # An administrator of every site narrows to a unit.
    body = get(api, {}, HANDOVER, site=SITE, unit=UNIT2)
    assert ids(body["alerts"], "alert_id", w.alerts) == {"unit2"}
    assert ids(body["observations"], "resident_id", w.residents) == {"c"}
    for role in ("integrator",):
        other = login_as(api, f"ho-{role}", role)
        assert api.get(HANDOVER, headers=other).status_code == 403
        assert api.get(WARD, headers=other).status_code == 403


def test_a_chosen_window_and_the_shift_before(api: TestClient, handover_ward: Ward) -> None:
    nurse = login_as(api, "ho-nurse", "nurse", site=SITE, staff="rn1")
    w = handover_ward
    start, end = w.shift.after(-150), w.shift.after(-5)
    body = get(api, nurse, HANDOVER, **{"from": start.isoformat(), "to": end.isoformat()})
    assert body["window"]["basis"] == "chosen"
    assert ids(body["alerts"], "alert_id", w.alerts) == {"before", "carried"}
    assert (body["summary"]["opened"], body["summary"]["resolved"]) == (2, 1)
    assert [m["to_state"] for m in body["referrals"][0]["moves"]] == ["suggested"]
    assert [r["referral_id"] for r in body["referrals"]] == [w.referrals["a"]]
    # The shift that had ended when this one began: the same shift a day earlier.
    body = get(api, nurse, HANDOVER, at=w.shift.start.isoformat())
    window = body["window"]
    assert window["basis"] == "shift"
    assert at(window["start"]) == w.shift.start - timedelta(days=1)
    assert at(window["end"]) == w.shift.end - timedelta(days=1)


@pytest.mark.parametrize(
    ("params", "where"),
    [
        ({"from": "2026-03-09T07:00:00+08:00"}, "to"),
        ({"to": "2026-03-09T07:00:00+08:00"}, "from"),
        ({"from": "2026-03-09T07:00:00+08:00", "to": "2026-03-09T07:00:00+08:00"}, "to"),
        ({"from": "2026-03-01T07:00:00+08:00", "to": "2026-03-09T07:00:00+08:00"}, "to"),
        (
            {
                "from": "2026-03-09T07:00:00+08:00",
                "to": "2026-03-09T15:00:00+08:00",
                "at": "2026-03-09T15:00:00+08:00",
            },
            "at",
        ),
        ({"from": "2026-03-09T07:00:00"}, "from"),  # no UTC offset
        ({"at": "9999-12-31T23:00:00+00:00"}, "at"),  # its shift's next day is no date
    ],
    ids=["from-only", "to-only", "empty", "too-long", "at-and-window", "naive", "calendar-end"],
)
def test_a_bad_window_is_refused_naming_the_parameter(
    api: TestClient, ward: str, params: dict[str, str], where: str
) -> None:
    answer = api.get(HANDOVER, params=params)
    assert answer.status_code == 422, answer.text
    assert answer.json()["detail"][0]["loc"] == ["query", where]


def test_the_ward_overview_lists_news2_and_open_alerts(
    api: TestClient, handover_ward: Ward
) -> None:
    w = handover_ward
    physician = login_as(api, "ho-physician", "physician", site=SITE)
    body = get(api, physician, WARD)
    rows = {r["resident_id"]: r for r in body["items"]}
    assert ids(body["items"], "resident_id", w.residents) == {"a", "b", "c"}
    a, b, c = (rows[w.residents[k]] for k in "abc")
    assert (a["display_name"], a["unit_id"], a["room"], a["bed"]) == ("Wu Lan", UNIT, "201", "1")
    assert a["timezone"] == "Asia/Shanghai"
    # Wu Lan: the carried-over medium alert is open; the resolved ones are not counted.
    assert (a["open_alerts"], a["top_severity"]) == (1, "medium")
    assert (b["open_alerts"], b["top_severity"]) == (2, "critical")
    assert (c["open_alerts"], c["top_severity"]) == (1, "high")
    assert (b["news2"]["complete"], b["news2"]["total"]) == (True, 0)
    assert b["news2"]["observations"]["status"] == "ok"
    assert (a["news2"]["complete"], a["news2"]["observations"]["status"]) == (False, "overdue")
    # By unit (ho-u2 before u1), room and bed.
    mine = [r["resident_id"] for r in body["items"] if r["resident_id"] in w.residents.values()]
    assert mine == [w.residents["c"], w.residents["a"], w.residents["b"]]
    unit_nurse = login_as(api, "ho-unit-nurse", "nurse", site=SITE, units=(UNIT,))
    narrowed = get(api, unit_nurse, WARD)
    assert ids(narrowed["items"], "resident_id", w.residents) == {"a", "b"}
