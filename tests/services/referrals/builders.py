"""Referrals for the tests: one resident, one hospital, a NEWS2-8 snapshot."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from rules.news2 import News2Config, News2Result, compute_news2
from rules.types import Vital
from services.referrals.model import ActiveAlert, Actor, Hospital, Referral, Resident, State
from services.referrals.workflow import open_request, suggest, transition

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
RESIDENT = Resident(42, "王秀英", "female", date(1938, 5, 17), "site-a", "unit-1", "203", "2")
HOSPITAL = Hospital("hosp-1", "市第一人民医院", "mailto://referrals@hospital.example")
NURSE = Actor("n-1", "nurse", "care")
CAREGIVER = Actor("c-1", "caregiver", "care")
DOCTOR = Actor("h-1", "physician", "hospital")
HIS = Actor("his", "integrator", "hospital")
HOSPITAL_NURSE = Actor("h-2", "nurse", "hospital")

# A path from `suggested` to each state, with who takes each step.
PATHS: dict[State, tuple[tuple[State, Actor], ...]] = {
    "suggested": (),
    "dismissed": (("dismissed", NURSE),),
    "requested": (("requested", NURSE),),
    "accepted": (("requested", NURSE), ("accepted", DOCTOR)),
    "declined": (("requested", NURSE), ("declined", DOCTOR)),
    "in_transit": (("requested", NURSE), ("accepted", DOCTOR), ("in_transit", CAREGIVER)),
    "admitted": (
        ("requested", NURSE),
        ("accepted", DOCTOR),
        ("in_transit", CAREGIVER),
        ("admitted", DOCTOR),
    ),
    "returned": (
        ("requested", NURSE),
        ("accepted", DOCTOR),
        ("in_transit", CAREGIVER),
        ("admitted", DOCTOR),
        ("returned", NURSE),
    ),
    "cancelled": (("requested", NURSE), ("cancelled", NURSE)),
}


def snapshot(now: datetime = T0) -> list[Vital]:
    """24 h of vitals every 5 min, worsening over the last hour (NEWS2 8 at `now`)."""
    out: list[Vital] = []
    for i in range(24 * 12):
        ts = now - timedelta(minutes=5 * i)
        late = i < 12
        out += [
            Vital(ts, "hr", 115.0 if late else 78.0, "vitals", "w-1"),
            Vital(ts, "spo2", 91.0 if late else 96.0, "vitals", "w-1"),
            Vital(ts, "rr", 25.0 if late else 16.0, "vitals", "w-1"),
        ]
    for hours in (0, 4, 8, 12, 16, 20):
        ts = now - timedelta(hours=hours)
        out += [
            Vital(ts, "temp", 37.0, "manual"),
            Vital(ts, "sbp", 120.0, "manual"),
            Vital(ts, "dbp", 75.0, "manual"),
        ]
    # The round at NEWS2 8 is current (every 15 minutes at that risk): alert, on room air.
    out += [
        Vital(now - timedelta(minutes=10), "acvpu", 0.0, "manual"),
        Vital(now - timedelta(minutes=10), "on_o2", 0.0, "manual"),
    ]
    return out


def news2(vitals: list[Vital], now: datetime = T0) -> News2Result:
    latest: dict[str, Vital] = {}
    for v in sorted(vitals, key=lambda v: v.ts):
        latest[v.metric] = v
    return compute_news2(latest, scale=1, now=now, config=News2Config())


def suggested(referral_id: str = "ref-1", now: datetime = T0) -> Referral:
    vitals = snapshot(now)
    alert = ActiveAlert("news2", "critical", "NEWS2 8: high clinical risk", now)
    referral, _ = suggest(
        referral_id=referral_id,
        resident=RESIDENT,
        hospital=HOSPITAL,
        reason="NEWS2 8: tachypnoea, hypoxaemia, tachycardia",
        trigger="news2",
        vitals=vitals,
        news2=news2(vitals, now),
        alerts=[alert],
        now=now,
    )
    return referral


def requested_by_hand(now: datetime = T0) -> Referral:
    referral, _ = open_request(
        referral_id="ref-2",
        resident=RESIDENT,
        hospital=HOSPITAL,
        reason="Suspected hip fracture after a fall",
        vitals=[],
        news2=None,
        alerts=[],
        actor=NURSE,
        now=now,
    )
    return referral


def in_state(state: State, *, step: timedelta = timedelta(minutes=5)) -> Referral:
    referral = suggested()
    at = T0
    for to_state, actor in PATHS[state]:
        at += step
        referral, _ = transition(referral, to_state, actor=actor, now=at, note="because")
    return referral
