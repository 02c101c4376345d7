"""What a referral carries when it is opened, read from the database: the resident (with their
NEWS2 scale and settings), 24 h of vitals thinned per bucket, NEWS2 now, and the open alerts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Final, Literal

from psycopg import AsyncConnection
from psycopg.rows import TupleRow

from rules.news2 import News2Config, News2Result, compute_news2
from rules.types import Vital
from rules.vocabulary import CLINICAL_METRICS
from services.readings import latest_vitals, news2_lookback, vitals_from_rows
from services.referrals import workflow
from services.referrals.codec import alert_json
from services.referrals.errors import InvalidField
from services.referrals.model import ReferralConfig, Resident
from services.resident_rules import effective_rules

Conn = AsyncConnection[TupleRow]

# The numeric streams a referral snapshot and NEWS2 read (bed occupancy and movement are not
# vital signs for the hospital).
VITAL_METRICS: Final = CLINICAL_METRICS
# Wearables report every few seconds: 24 h of raw readings is ~10^5 rows. The snapshot keeps
# the last reading per metric per 5 minutes (the FHIR export thins it to 15 further on).
SNAPSHOT_BUCKET: Final = timedelta(minutes=5)
# A resident whose birth date is not on file (the record's fields are optional, migration 0020)
# still needs one in the workflow's Resident: this placeholder stands in, and the FHIR export
# leaves birthDate out (`fhir_bundle`).
UNKNOWN_BIRTH_DATE: Final = date(1, 1, 1)


@dataclass(frozen=True, slots=True)
class Subject:
    """The resident a referral is about, with the NEWS2 scale and settings that score them."""

    resident: Resident
    scale: Literal[1, 2]
    news2: News2Config


async def load_subject(conn: Conn, resident_id: int) -> Subject:
    """Raises InvalidField when there is no such resident."""
    cur = await conn.execute(
        "SELECT r.display_name, r.site_id, r.unit_id, r.room, r.bed, r.news2_scale,"
        " s.rule_overrides, r.rule_overrides, r.sex, r.birth_date"
        " FROM residents r JOIN sites s USING (site_id) WHERE r.resident_id = %s",
        [resident_id],
    )
    found = await cur.fetchone()
    if found is None:
        raise InvalidField("resident_id", f"unknown resident {resident_id}")
    name, site, unit, room, bed, scale, site_over, own_over, sex, born = found
    config = effective_rules(site_over, own_over, resident_id=resident_id)
    resident = Resident(
        resident_id, name, sex or "unknown", born or UNKNOWN_BIRTH_DATE, site, unit, room, bed
    )
    return Subject(resident, 2 if scale == 2 else 1, config.news2)


async def snapshot(
    conn: Conn, subject: Subject, now: datetime, config: ReferralConfig
) -> tuple[list[Vital], News2Result | None, list[dict[str, Any]]]:
    """The last 24 h of vitals (thinned), NEWS2 from the freshest readings at `now` (None when
    not one parameter has a reading), and the resident's open alerts as JSON."""
    rid = subject.resident.resident_id
    start = now - timedelta(seconds=config.snapshot_window_s)
    end = now + timedelta(seconds=config.max_future_s)
    window = {"rid": rid, "metrics": list(VITAL_METRICS), "start": start, "end": end}
    cur = await conn.execute(
        "SELECT DISTINCT ON (metric, bucket) ts, metric, value, source, device_id FROM ("
        " SELECT time_bucket(%(bucket)s, ts) AS bucket, ts, metric, value, source, device_id"
        " FROM readings WHERE resident_id = %(rid)s AND metric = ANY(%(metrics)s)"
        " AND ts >= %(start)s AND ts <= %(end)s) r"
        " ORDER BY metric, bucket, ts DESC",
        {**window, "bucket": SNAPSHOT_BUCKET},
    )
    vitals = workflow.vitals_snapshot(
        vitals_from_rows(await cur.fetchall()), now=now, config=config
    )
    # NEWS2 reads back as far as the resident's freshness settings let a reading count (the
    # snapshot's window can be shorter than an override), as the detector and the API do.
    since = now - news2_lookback(subject.news2)
    latest = await latest_vitals(conn, rid, since=since, until=end, metrics=VITAL_METRICS)
    news2 = compute_news2(latest, scale=subject.scale, now=now, config=subject.news2)
    # No reading at all (only the on_o2 assumption): a score of 0 would mislead.
    scored = any(s.reading is not None for s in news2.sub_scores)
    cur = await conn.execute(
        'SELECT alert_id, rule_id, severity, title, first_ts, "values" FROM alerts'
        " WHERE resident_id = %s AND resolved_at IS NULL ORDER BY opened_at, alert_id",
        [rid],
    )
    alerts = [alert_json(int(a), r, s, t, ts, v) for a, r, s, t, ts, v in await cur.fetchall()]
    return list(vitals), news2 if scored else None, alerts


def score(news2: News2Result) -> int:
    """The score a referral suggestion is judged by."""
    # An incomplete score's partial total is a lower bound: >= 7 still holds (as the workflow).
    return news2.total if news2.total is not None else news2.partial_total
