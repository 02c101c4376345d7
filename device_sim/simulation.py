"""A whole simulated run as one pure sequence: what each device sends, when, in order.

A source (the live ward, or a scenario file) produces each device's messages, stamped by the
device's own clock (which may drift); each device's faults (Wi-Fi drops, duplicates,
out-of-order, malformed copies) then decide what reaches the broker and when. No I/O, no
clock: the same devices, seed, start and options give the same deliveries, byte for byte, and
the same labels. `run.py` paces them to the broker or writes them to a file.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta, tzinfo
from typing import Any, Final, Protocol

from device_sim.demo_events import DemoEventError
from device_sim.devices import SimDevice
from device_sim.faults import NO_FAULTS, DeviceFaults, Faults
from device_sim.labels import Labels
from device_sim.messages import Delivery, DeviceClock, Message, restamp
from device_sim.physiology import DEFAULT_TZ
from device_sim.replay import ScenarioSource, placed
from device_sim.scenarios import ScenarioSpec
from device_sim.ward import DEFAULT_WARD, WardOptions, WardSource

_MAX_DRIFT_SDS: Final = 4.0


class Source(Protocol):
    @property
    def devices(self) -> Sequence[SimDevice]: ...

    def emitted(self) -> Iterator[Delivery]: ...


class Simulation:
    """Iterate `deliveries()` once. `labels` fills as the run goes; `lost` and `unsent`
    (messages a full buffer dropped / still buffered at the end) are final after it."""

    def __init__(
        self,
        source: Source,
        *,
        start: datetime,
        duration_s: float | None,
        seed: int,
        faults: Faults,
        clocks: dict[str, DeviceClock],
        labels: Labels,
        header: dict[str, Any],
    ) -> None:
        self.source = source
        self.devices = {d.device_id: d for d in source.devices}
        self.start = start
        self.duration_s = duration_s
        self.labels = labels
        self.header = header
        self.reached_s = 0.0
        self._clocks = clocks
        self._last_status: dict[str, Message] = {}
        self._faults: dict[str, DeviceFaults] | None = None
        if faults.on_the_way:
            self._faults = {
                device_id: DeviceFaults(device_id, faults, seed=seed, start=start, labels=labels)
                for device_id in self.devices
            }

    @property
    def lost(self) -> int:
        return sum(f.lost for f in (self._faults or {}).values())

    @property
    def unsent(self) -> int:
        return sum(f.unsent for f in (self._faults or {}).values())

    def deliveries(self) -> Iterator[Delivery]:
        """What the devices hand to the broker, in order of `offset_s` (never decreasing)."""
        faults = self._faults
        last_status = self._last_status
        for produced in self.source.emitted():
            self.reached_s = produced.offset_s
            if produced.message.stream == "status":
                last_status[produced.device_id] = produced.message
            if faults is None:
                yield produced
            else:
                yield from faults[produced.device_id].feed(produced.offset_s, produced.message)
        if faults is not None:
            for device_id in sorted(faults):
                yield from faults[device_id].finish(self.reached_s)

    def inject(self, kind: str, resident_key: str) -> None:
        """Play a demo event (device_sim.demo_events) on a resident of the live ward."""
        if not isinstance(self.source, WardSource):
            raise DemoEventError("a scenario plays its own events: demo events need the live ward")
        self.source.inject(kind, resident_key)

    def status_now(self, device_id: str, t: datetime) -> Message | None:
        """The device's latest status again, stamped now (after a reconnection the broker has
        published its will, so the retained status says offline until this one)."""
        latest = self._last_status.get(device_id)
        if latest is None:
            return None
        seq, ts_ms = self._clocks[device_id].stamp(t)
        return restamp(latest, seq=seq, ts_ms=ts_ms)


def build(
    devices: Sequence[SimDevice],
    *,
    seed: int,
    start: datetime,
    duration_s: float | None = None,
    rate_hz: float = 1.0,
    tz: tzinfo = DEFAULT_TZ,
    ward: WardOptions = DEFAULT_WARD,
    faults: Faults = NO_FAULTS,
    scenario: ScenarioSpec | None = None,
) -> Simulation:
    """The run: the live ward at `rate_hz` for `duration_s` (None: no end), or `scenario`
    moved to begin at `start` (its own duration and cadence)."""
    if not devices:
        raise ValueError("no devices to simulate")
    ids = [d.device_id for d in devices]
    if len(set(ids)) != len(ids):
        raise ValueError("device ids repeat")
    if seed < 0:
        raise ValueError(f"seed must be >= 0, got {seed}")
    if start.utcoffset() is None:
        raise ValueError("start must be timezone-aware")
    if duration_s is not None and not (math.isfinite(duration_s) and duration_s >= 0):
        raise ValueError(f"duration_s must be None or >= 0, got {duration_s}")
    labels = Labels(tz)
    clocks = _clocks(devices, seed, faults.clock_drift_ppm, start, labels)
    header: dict[str, Any] = {
        "seed": seed,
        "start": start,
        "devices": sorted(ids),
        "faults": {
            "wifi_drops_per_day": faults.wifi_drops_per_day,
            "clock_drift_ppm": faults.clock_drift_ppm,
            "duplicate_rate": faults.duplicate_rate,
            "reorder_rate": faults.reorder_rate,
            "malformed_rate": faults.malformed_rate,
            "malformed_kinds": list(faults.malformed_kinds),
        },
    }
    source: Source
    if scenario is not None:
        spec = placed(scenario, start)
        if duration_s is not None and duration_s != spec.duration_s:
            raise ValueError("a scenario runs for its own duration")
        duration_s = spec.duration_s
        source = ScenarioSource(spec, devices, seed=seed, clocks=clocks, labels=labels, tz=tz)
        header.update(scenario=spec.name, split=spec.split)
    else:
        source = WardSource(
            devices,
            seed=seed,
            start=start,
            duration_s=duration_s,
            rate_hz=rate_hz,
            clocks=clocks,
            labels=labels,
            tz=tz,
            options=ward,
        )
        header.update(
            scenario=None,
            rate_hz=rate_hz,
            routine=ward.routine,
            fever_rate=ward.fever_rate,
        )
    header["duration_s"] = duration_s
    header["end"] = None if duration_s is None else start + timedelta(seconds=duration_s)
    return Simulation(
        source,
        start=start,
        duration_s=duration_s,
        seed=seed,
        faults=faults,
        clocks=clocks,
        labels=labels,
        header=header,
    )


def _clocks(
    devices: Sequence[SimDevice], seed: int, ppm: float, start: datetime, labels: Labels
) -> dict[str, DeviceClock]:
    clocks: dict[str, DeviceClock] = {}
    for device in sorted(devices, key=lambda d: d.device_id):
        skew = 0.0
        if ppm:
            # Cheap crystals drift by tens of ppm, each its own way (a few seconds a day).
            drawn = random.Random(f"clock:{seed}:{device.device_id}").gauss(0.0, ppm)
            skew = max(-_MAX_DRIFT_SDS * ppm, min(_MAX_DRIFT_SDS * ppm, drawn)) * 1e-6
            labels.add(
                "fault",
                "clock_drift",
                device=device.device_id,
                ppm=round(skew * 1e6, 3),
                seconds_per_day=round(skew * 86400, 3),
            )
        clocks[device.device_id] = DeviceClock(skew=skew, origin=start if skew else None)
    return clocks
