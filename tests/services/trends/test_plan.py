"""services.trends.plan: validation, alignment, the source chosen, and the split between a
rollup and raw for minutes the refresh has not folded in yet."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from services.trends.errors import InvalidQuery
from services.trends.plan import (
    MAX_POINTS,
    RAW_TAIL_MAX,
    Plan,
    Segment,
    plan_query,
    sources,
)

T0 = datetime(2026, 3, 10, 0, 0, tzinfo=UTC)
H = timedelta(hours=1)
D = timedelta(days=1)
M = timedelta(minutes=1)


def plan(
    start: datetime = T0,
    end: datetime = T0 + D,
    bucket: str | None = "1h",
    metrics: tuple[str, ...] = ("hr",),
) -> Plan:
    return plan_query(metrics=metrics, start=start, end=end, bucket=bucket)


# --- validation ---------------------------------------------------------------------------

INVALID = [
    ("end before start", dict(start=T0, end=T0 - H), "end"),
    ("empty range", dict(start=T0, end=T0), "end"),
    ("over 90 days", dict(start=T0, end=T0 + 90 * D + M), "end"),
    ("naive start", dict(start=T0.replace(tzinfo=None)), "start"),
    ("naive end", dict(end=(T0 + H).replace(tzinfo=None)), "end"),
    ("unknown bucket", dict(bucket="2h"), "bucket"),
    ("too many points", dict(end=T0 + 3 * D, bucket="1m"), "bucket"),
    ("90 days of 15 min", dict(end=T0 + 90 * D, bucket="15m"), "bucket"),
    ("unknown metric", dict(metrics=("hr", "glucose")), "metric"),
    ("no metric", dict(metrics=()), "metric"),
]


@pytest.mark.parametrize(("args", "field"), [c[1:] for c in INVALID], ids=[c[0] for c in INVALID])
def test_invalid_requests_name_the_field(args: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidQuery) as caught:
        plan(**args)  # type: ignore[arg-type]
    assert caught.value.field == field
    assert str(caught.value).startswith(f"{field}: ")


def test_too_many_points_suggests_a_bucket_that_fits() -> None:
    with pytest.raises(InvalidQuery, match=r"4320 points; at most 2880: use 5m or coarser"):
        plan(end=T0 + 3 * D, bucket="1m")


VALID = [
    ("exactly 90 days", dict(end=T0 + 90 * D, bucket="1h"), 2160),
    ("two days of minutes", dict(end=T0 + 2 * D, bucket="1m"), MAX_POINTS),
    ("one hour", dict(end=T0 + H, bucket="1m"), 60),
    ("under a minute", dict(start=T0 + 10 * M, end=T0 + 10 * M + timedelta(seconds=5)), 1),
]


@pytest.mark.parametrize(("args", "points"), [c[1:] for c in VALID], ids=[c[0] for c in VALID])
def test_edges_that_are_allowed(args: dict[str, object], points: int) -> None:
    assert plan(**args).points == points  # type: ignore[arg-type]


def test_range_is_widened_to_whole_buckets() -> None:
    p = plan(start=T0 + 7 * M + timedelta(seconds=3), end=T0 + 20 * H + 1 * M, bucket="15m")
    assert (p.start, p.end) == (T0, T0 + 20 * H + 15 * M)
    p = plan(start=T0 + 5 * H, end=T0 + 40 * H, bucket="1d")
    assert (p.start, p.end, p.points) == (T0, T0 + 2 * D, 2)


def test_buckets_sit_on_the_utc_grid_whatever_the_offset() -> None:
    shanghai = timezone(timedelta(hours=8))
    p = plan(start=datetime(2026, 3, 10, 9, 30, tzinfo=shanghai), end=T0 + 3 * D, bucket="1d")
    assert p.start == T0  # 09:30 +08:00 is 01:30 UTC, in the UTC day starting at T0


def test_metrics_keep_their_order_once_each() -> None:
    assert plan(metrics=("spo2", "hr", "spo2")).metrics == ("spo2", "hr")


AUTO = [
    ("1 h", H, "1m"),
    ("6 h", 6 * H, "1m"),
    ("1 day", D, "5m"),
    ("7 days", 7 * D, "15m"),
    ("30 days", 30 * D, "1h"),
    ("90 days", 90 * D, "6h"),
]


@pytest.mark.parametrize(("span", "bucket"), [c[1:] for c in AUTO], ids=[c[0] for c in AUTO])
def test_no_bucket_picks_the_finest_within_1000_points(span: timedelta, bucket: str) -> None:
    assert plan(end=T0 + span, bucket=None).bucket == bucket


# --- the source ---------------------------------------------------------------------------

SOURCES = [
    ("1 h at 1m", H, "1m", "raw"),
    ("6 h at 1h", 6 * H, "1h", "raw"),
    ("6 h 1 min at 1m", 6 * H + M, "1m", "rollup_1m"),
    ("1 day at 15m", D, "15m", "rollup_1m"),
    ("1 day at 1h", D, "1h", "rollup_1h"),
    ("7 days at 6h", 7 * D, "6h", "rollup_1h"),
    ("30 days at 1h", 30 * D, "1h", "rollup_1h"),
    ("90 days at 1d", 90 * D, "1d", "rollup_1h"),
]


@pytest.mark.parametrize(
    ("span", "bucket", "source"), [c[1:] for c in SOURCES], ids=[c[0] for c in SOURCES]
)
def test_source_is_raw_for_short_ranges_else_the_coarsest_rollup_that_tiles(
    span: timedelta, bucket: str, source: str
) -> None:
    assert plan(end=T0 + span, bucket=bucket).source == source


# --- rollup and raw -----------------------------------------------------------------------

NOW = T0 + 30 * D + 10 * H + 30 * M + timedelta(seconds=20)
LONG = dict(start=NOW - 30 * D, end=NOW)


def test_nothing_pending_is_all_rollup() -> None:
    p = plan(**LONG)  # type: ignore[arg-type]
    assert sources(p, pending_from=None, now=NOW).segments == (
        Segment("rollup_1h", p.start, p.end),
    )


def test_pending_minutes_come_from_raw_the_rest_of_their_hour_from_minutes() -> None:
    p = plan(**LONG)  # type: ignore[arg-type]
    pending = T0 + 30 * D + 10 * H + 28 * M
    got = sources(p, pending_from=pending, now=NOW)
    assert got.segments == (
        Segment("rollup_1h", p.start, T0 + 30 * D + 10 * H),
        Segment("rollup_1m", T0 + 30 * D + 10 * H, pending),
        Segment("raw", pending, p.end),
    )
    assert got.stale_from is None


def test_pending_on_the_hour_needs_no_minutes() -> None:
    p = plan(**LONG)  # type: ignore[arg-type]
    pending = T0 + 30 * D + 9 * H
    assert [s.source for s in sources(p, pending_from=pending, now=NOW).segments] == [
        "rollup_1h",
        "raw",
    ]


def test_minute_rollup_plans_split_in_two() -> None:
    p = plan(start=NOW - 2 * D, end=NOW, bucket="15m")
    pending = NOW.replace(second=0) - 3 * M
    assert sources(p, pending_from=pending, now=NOW).segments == (
        Segment("rollup_1m", p.start, pending),
        Segment("raw", pending, p.end),
    )


def test_a_refresh_far_behind_makes_the_answer_stale_not_slow() -> None:
    p = plan(**LONG)  # type: ignore[arg-type]
    pending = NOW - 3 * D
    got = sources(p, pending_from=pending.replace(second=0), now=NOW)
    tail = (NOW - RAW_TAIL_MAX).replace(second=0)
    assert got.segments[-1] == Segment("raw", tail, p.end)
    assert got.stale_from == pending.replace(second=0)


def test_raw_plans_ignore_pending_minutes() -> None:
    p = plan(start=NOW - H, end=NOW, bucket="1m")
    got = sources(p, pending_from=NOW - 10 * M, now=NOW)
    assert got.segments == (Segment("raw", p.start, p.end),)
