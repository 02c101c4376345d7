"""Reading a resident's stored readings back as the rules' `Vital`s: the freshest value of
each metric, for NEWS2 and "current vitals" wherever they are shown or snapshotted."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any, Final, cast, get_args

from psycopg import AsyncConnection
from psycopg.rows import TupleRow

from rules.news2 import News2Config
from rules.types import Source, Vital

__all__ = ["latest_vitals", "news2_lookback", "vitals_from_rows"]

_SOURCES: Final[frozenset[str]] = frozenset(get_args(Source))


def vitals_from_rows(rows: Iterable[Sequence[Any]]) -> list[Vital]:
    """Rows of (ts, metric, value, source, device_id) as Vitals; a source the rules do not
    know is left out rather than guessed."""
    return [
        Vital(ts, metric, float(value), cast(Source, source), device_id)
        for ts, metric, value, source, device_id in rows
        if source in _SOURCES
    ]


def news2_lookback(config: News2Config) -> timedelta:
    """How far back a reading can still count for NEWS2 under `config`: its longest freshness
    window. Reading back less (a fixed 24 h) would score a resident whose override keeps a
    value longer differently from the detector, which holds every reading it took in."""
    return timedelta(seconds=max(_seconds(config.max_age_s.model_dump())))


def _seconds(value: Any) -> Iterable[float]:
    # Every window in the (possibly nested) freshness settings, whatever their shape.
    if isinstance(value, dict):
        for item in value.values():
            yield from _seconds(item)
    elif isinstance(value, int | float) and not isinstance(value, bool):
        yield float(value)


async def latest_vitals(
    conn: AsyncConnection[TupleRow],
    resident_id: int,
    *,
    since: datetime,
    until: datetime,
    metrics: Sequence[str] | None = None,
) -> dict[str, Vital]:
    """The newest reading of each metric (of `metrics`; None: every metric) with
    since <= ts <= until, by metric."""
    cur = await conn.execute(
        "SELECT DISTINCT ON (metric) ts, metric, value, source, device_id FROM readings"
        " WHERE resident_id = %(rid)s"
        " AND (%(metrics)s::text[] IS NULL OR metric = ANY(%(metrics)s))"
        " AND ts >= %(since)s AND ts <= %(until)s ORDER BY metric, ts DESC",
        {
            "rid": resident_id,
            "metrics": None if metrics is None else list(metrics),
            "since": since,
            "until": until,
        },
    )
    return {v.metric: v for v in vitals_from_rows(await cur.fetchall())}
