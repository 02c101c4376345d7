"""What the alert benchmark recorded (publish times, page arrivals, database rows) turned into
latencies, with the time split by stage."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import psycopg

from bench.alert_stream import Injection, Kind, Published, resident_name
from bench.receiver import Notification
from rules.vitals_config import VitalsConfig
from services.settings import Settings, database_url

_SPO2_LOW = VitalsConfig().spo2.low
assert _SPO2_LOW is not None
PERSISTENCE_MS = round(_SPO2_LOW.persistence_s * 1000)


@dataclass(frozen=True, slots=True)
class StageTimes:
    """Epoch seconds, from the database, for one resident's raise candidate and first page."""

    rule_id: str
    candidate_ts_ms: int
    written: float  # alert_candidates.created_at: the detector's transaction began
    taken: float | None  # consumed_at: the alert service step that took it began
    # The first page's successful apprise send, seconds. (Its attempt row is stamped after
    # the whole claimed batch was sent, so it does not say when this send began.)
    send_s: float | None


def stage_times(settings: Settings, resident_ids: list[int]) -> dict[int, StageTimes]:
    index_of = {f"resident:{rid}": i for i, rid in enumerate(resident_ids)}
    query = """
        SELECT c.subject, c.rule_id, c.ts, c.created_at, c.consumed_at, d.elapsed_ms
        FROM alert_candidates c
        LEFT JOIN LATERAL (
            SELECT n.notification_id FROM notifications n
            JOIN incidents i USING (incident_id)
            WHERE i.subject = c.subject AND n.kind = 'page'
            ORDER BY n.notification_id LIMIT 1) n ON true
        LEFT JOIN LATERAL (
            SELECT elapsed_ms FROM delivery_attempts
            WHERE notification_id = n.notification_id AND ok
            ORDER BY at LIMIT 1) d ON true
        WHERE c.action = 'raise' AND c.rule_id IN ('fall.device', 'vital.spo2.low')
        ORDER BY c.id
    """
    out: dict[int, StageTimes] = {}
    with psycopg.connect(database_url(settings)) as conn:
        for subject, rule_id, ts, written, taken, send_ms in conn.execute(query):
            index = index_of.get(subject)
            if index is None or index in out:
                continue
            out[index] = StageTimes(
                rule_id,
                round(ts.timestamp() * 1000),
                written.timestamp(),
                taken.timestamp() if taken else None,
                None if send_ms is None else send_ms / 1000,
            )
    return out


def pct(values: list[float], q: float) -> float | None:
    """Exact percentile of the samples (linear interpolation), in ms; None without samples."""
    return round(float(np.percentile(values, q)) * 1000, 1) if values else None


def summary(values: list[float]) -> dict[str, float | int | None]:
    return {
        "n": len(values),
        "p50_ms": pct(values, 50),
        "p99_ms": pct(values, 99),
        "max_ms": pct(values, 100),
    }


@dataclass
class EventTimes:
    """One injected event: when its decisive message was published, and the rest."""

    index: int
    kind: Kind
    published: float  # the fall event, or the reading completing the persistence
    first_low: float | None = None
    arrival: float | None = None
    title: str | None = None
    stages: StageTimes | None = None


def events(
    plan: dict[int, Injection],
    records: list[Published],
    first_pages: dict[int, Notification],
    db: dict[int, StageTimes],
) -> tuple[list[EventTimes], list[str]]:
    problems: list[str] = []
    falls = {r.index: r for r in records if r.kind == "fall"}
    lows: dict[int, list[Published]] = {}
    for r in records:
        if r.kind == "low":
            lows.setdefault(r.index, []).append(r)
    out: list[EventTimes] = []
    mismatched = 0
    for index, injection in sorted(plan.items()):
        stages = db.get(index)
        if injection.kind == "fall":
            fall = falls.get(index)
            if fall is None:
                problems.append(f"the fall of {resident_name(index)} was never published")
                continue
            event = EventTimes(index, "fall", fall.at)
        else:
            readings = sorted(lows.get(index, []), key=lambda r: r.ts_ms)
            if not readings:
                problems.append(f"the hypoxia of {resident_name(index)} was never published")
                continue
            first = readings[0]
            # The rule's own answer (the candidate's ts is the completing reading's) when
            # there is one; else what persistence says it must be.
            by_ts = {r.ts_ms: r for r in readings}
            completing = by_ts.get(stages.candidate_ts_ms) if stages else None
            if completing is None:
                completing = next(
                    (r for r in readings if r.ts_ms - first.ts_ms >= PERSISTENCE_MS), None
                )
                mismatched += stages is not None
            if completing is None:
                problems.append(f"the hypoxia of {resident_name(index)} did not last 15 s")
                continue
            event = EventTimes(index, "hypoxia", completing.at, first_low=first.at)
        page = first_pages.get(index)
        if page is not None:
            event.arrival, event.title = page.at, page.title
        event.stages = stages
        out.append(event)
    if mismatched:
        problems.append(f"{mismatched} hypoxia candidates name no published low reading's ts")
    return out, problems


def stage_summary(items: list[EventTimes]) -> dict[str, dict[str, float | int | None]]:
    detector, handoff, alerts, send = [], [], [], []
    for e in items:
        s = e.stages
        if s is None or e.arrival is None:
            continue
        detector.append(s.written - e.published)
        if s.taken is not None:
            handoff.append(s.taken - s.written)
            alerts.append(e.arrival - s.taken)
        if s.send_s is not None:
            send.append(s.send_s)
    return {
        "publish_to_candidate": summary(detector),
        "candidate_to_alert_step": summary(handoff),
        "alert_step_to_arrival": summary(alerts),
        "apprise_send": summary(send),
    }


def event_rows(items: list[EventTimes], started: float) -> list[dict[str, Any]]:
    """Per event, to see whether slow ones cluster in time: second of the stream it was
    published in, its latency and the detector's share."""

    def ms(seconds: float | None) -> float | None:
        return None if seconds is None else round(seconds * 1000, 1)

    return [
        {
            "kind": e.kind,
            "resident": resident_name(e.index),
            "at_s": round(e.published - started, 2),
            "latency_ms": ms(None if e.arrival is None else e.arrival - e.published),
            "detector_ms": ms(None if e.stages is None else e.stages.written - e.published),
        }
        for e in sorted(items, key=lambda e: e.published)
    ]
