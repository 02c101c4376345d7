"""Helpers for tests that read a simulated run's deliveries and labels."""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from device_sim.messages import Delivery, epoch_ms
from device_sim.run import delivery_line
from device_sim.simulation import Simulation


@dataclass
class Run:
    """A simulation iterated to the end: what it delivered, a digest of that, its labels."""

    start: datetime
    deliveries: list[Delivery]
    digest: str
    labels: list[dict[str, Any]]
    lost: int
    unsent: int

    def device(self, device_id: str) -> list[Delivery]:
        return self.by_device().get(device_id, [])

    def by_device(self) -> dict[str, list[Delivery]]:
        out: dict[str, list[Delivery]] = defaultdict(list)
        for d in self.deliveries:
            out[d.device_id].append(d)
        return out

    def labelled(self, type_: str, kind: str | None = None) -> list[dict[str, Any]]:
        return [
            r for r in self.labels if r["type"] == type_ and (kind is None or r["kind"] == kind)
        ]

    def offset(self, t: datetime) -> float:
        return (t - self.start).total_seconds()


def run(sim: Simulation) -> Run:
    digest = hashlib.sha256()
    deliveries = []
    for d in sim.deliveries():
        deliveries.append(d)
        # Every field of the delivery: when, who, topic, retain, kind, and the exact bytes.
        digest.update(delivery_line(d, sim.start).encode())
        digest.update(b"\n")
    return Run(sim.start, deliveries, digest.hexdigest(), sim.labels.records, sim.lost, sim.unsent)


def body(d: Delivery) -> dict[str, Any]:
    value: dict[str, Any] = json.loads(d.message.payload)
    return value


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def ms(t: datetime) -> int:
    return epoch_ms(t)


def readable(d: Delivery) -> bool:
    """Whether the delivery is a proper message (not a malformed copy)."""
    return d.kind != "malformed"


def true_ms(ts_ms: int, start: datetime, skew: float) -> float:
    """The true time (epoch ms) of a `ts` from a clock that gains `skew` s/s since `start`."""
    start_ms = epoch_ms(start)
    return start_ms + (ts_ms - start_ms) / (1.0 + skew)


def between(t: datetime, lo: datetime, hi: datetime, slack_s: float = 0.0) -> bool:
    return lo - timedelta(seconds=slack_s) <= t < hi + timedelta(seconds=slack_s)
