"""Reading a resident's stored readings back as the rules' `Vital`s: the freshest value of
each metric, for NEWS2 and "current vitals" wherever they are shown or snapshotted."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, Final, cast, get_args

from psycopg import AsyncConnection
from psycopg.rows import TupleRow

from rules.types import Source, Vital

__all__ = ["latest_vitals", "vitals_from_rows"]

_SOURCES: Final[frozenset[str]] = frozenset(get_args(Source))


def vitals_from_rows(rows: Iterable[Sequence[Any]]) -> list[Vital]:
    """Rows of (ts, metric, value, source, device_id) as Vitals; a source the rules do not
    know is left out rather than guessed."""
    return [
        Vital(ts, metric, float(value), cast(Source, source), device_id)
        for ts, metric, value, source, device_id in rows
        if source in _SOURCES
    ]


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
