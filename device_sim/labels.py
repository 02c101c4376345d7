"""Ground-truth labels of a simulated run: what was injected, where and when.

A label is one JSON object; `type` says what it records:

- `event`: something that happened to a resident (scenario events; the live ward's meals,
  washes, activities, fevers and charging), with the resident and their devices;
- `truth`: a scenario's ground truth for a rule family (positive or negative, onset,
  detectable_at, window_end), as `carewatch eval` scores it;
- `fault`: a device behaviour (Wi-Fi drop and backfill, clock drift, duplicate, out-of-order,
  malformed message with the reason ingest must reject it for).

`write_labels` puts them, after one `run` header, in a JSON Lines file.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import Any

from device_sim.physiology import DEFAULT_TZ

Record = dict[str, Any]


class Labels:
    """Collects label records in the order the run comes to them."""

    def __init__(self, tz: tzinfo = DEFAULT_TZ) -> None:
        self.tz = tz
        self.records: list[Record] = []

    def add(self, type_: str, kind: str, **fields: object) -> None:
        record: Record = {"type": type_, "kind": kind}
        for name, value in fields.items():
            record[name] = jsonable(value, self.tz)
        self.records.append(record)

    def __len__(self) -> int:
        return len(self.records)


def jsonable(value: object, tz: tzinfo = UTC) -> Any:
    """`value` with times as RFC 3339 strings (millisecond precision, in `tz`), tuples and
    sets as lists, so that it serialises the same way every time."""
    if isinstance(value, datetime):
        return value.astimezone(tz).isoformat(timespec="milliseconds")
    if isinstance(value, Mapping):
        return {str(k): jsonable(v, tz) for k, v in value.items()}
    if isinstance(value, frozenset | set):
        return sorted(jsonable(v, tz) for v in value)
    if isinstance(value, list | tuple):
        return [jsonable(v, tz) for v in value]
    return value


def write_labels(
    path: str | os.PathLike[str],
    header: Mapping[str, object],
    records: Iterable[Record],
    tz: tzinfo = DEFAULT_TZ,
) -> int:
    """Write the header and the records as JSON Lines; returns how many records."""
    count = 0
    with Path(path).open("w", encoding="utf-8") as out:
        out.write(json.dumps({"type": "run", **jsonable(header, tz)}, sort_keys=True) + "\n")
        for record in records:
            out.write(json.dumps(record, sort_keys=True) + "\n")
            count += 1
    return count
