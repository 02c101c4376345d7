"""services.trends.spans: merging dirty minutes into spans, widening to hours, cutting at days."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from services.trends.spans import Span, by_day, merge, widen

T0 = datetime(2026, 3, 10, 0, 0, tzinfo=UTC)
M = timedelta(minutes=1)
H = timedelta(hours=1)


def span(start_min: int, end_min: int, resident: int = 1, metric: str = "hr") -> Span:
    return Span(resident, metric, T0 + start_min * M, T0 + end_min * M)


def test_merge_joins_touching_and_overlapping_spans_of_one_series_only() -> None:
    got = merge(
        [span(10, 12), span(0, 2), span(2, 3), span(11, 20), span(0, 5, metric="rr"), span(1, 2, 2)]
    )
    assert got == [span(0, 3), span(10, 20), span(0, 5, metric="rr"), span(1, 2, 2)]


def test_merge_keeps_gaps() -> None:
    assert merge([span(0, 1), span(2, 3)]) == [span(0, 1), span(2, 3)]


def test_widen_to_hours_merges_what_lands_in_the_same_hour() -> None:
    got = widen([span(5, 6), span(50, 61), span(190, 191)], H)
    assert got == [span(0, 120), span(180, 240)]


def test_widen_keeps_spans_already_on_the_grid() -> None:
    assert widen([span(60, 120)], H) == [span(60, 120)]


def test_by_day_cuts_at_utc_midnight() -> None:
    day = 24 * 60
    got = by_day([span(day - 2, day + 3), span(10, 11, 2)])
    assert got == [
        (T0, [span(day - 2, day), span(10, 11, 2)]),
        (T0 + timedelta(days=1), [span(day, day + 3)]),
    ]


def test_by_day_of_nothing_is_nothing() -> None:
    assert by_day([]) == []
