"""A labelled scenario (`device_sim/library/*.yaml`: which resident, what, when) sent by the
ward's devices as protocol v1 messages (pure), with its ground truth as labels.

The observations are those `carewatch eval` replays through the rules (`scenarios.generate`),
so the labels are the ones it scores against. Scenario residents take the ward's residents in
order (by resident key, numbers in order: r2 before r10); a scenario wearable is the ward
resident's wearable, a scenario bed sensor its bed sensor. Manual observations from the rounds
are not device messages (staff enter them through the API) and are left out.
"""

from __future__ import annotations

import heapq
import math
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta, tzinfo
from typing import Any, Final

from device_sim.devices import SimDevice
from device_sim.labels import Labels
from device_sim.messages import Delivery, DeviceClock, Stream, reading_message
from device_sim.physiology import DEFAULT_TZ
from device_sim.scenarios import Label, Scenario, ScenarioError, ScenarioSpec, generate
from rules.types import DeviceEvent, DeviceStatus, Motion, Vital, resident_subject

# Readings a scenario rounds to whole numbers; the others keep their decimals.
_DECIMAL: Final = frozenset({"temp", "movement"})
_BED_FLAGS: Final = frozenset({"occupied"})


def scenario_start(spec: ScenarioSpec, now: datetime, speed: float) -> datetime:
    """The latest start, a whole number of days from the file's, from which the scenario ends
    by `now` at `speed` (so no timestamp is in the future); every event keeps its local time
    of day, which the night-time rules care about."""
    target = now
    if speed > 1:
        target = now - timedelta(seconds=spec.duration_s * (1.0 - 1.0 / speed))
    days = math.floor((target - spec.start) / timedelta(days=1))
    return spec.start + timedelta(days=days)


def cast_ward(spec: ScenarioSpec, devices: Sequence[SimDevice]) -> dict[str, SimDevice]:
    """Scenario device ids (`w-1`, `b-1`, ... as `scenarios.generate` names them) → the ward's
    devices; ScenarioError if the ward lacks a resident or a device the scenario needs."""
    by_resident: dict[str, dict[str, SimDevice]] = {}
    for device in devices:
        kinds = by_resident.setdefault(device.resident_key, {})
        kinds.setdefault(device.kind, device)  # a second device of a kind plays no part
    keys = sorted(by_resident, key=natural_key)
    if len(keys) < len(spec.residents):
        raise ScenarioError(
            f"{spec.name}: {len(spec.residents)} residents in the scenario, {len(keys)} in the ward"
        )
    cast: dict[str, SimDevice] = {}
    for index, (resident, key) in enumerate(zip(spec.residents, keys, strict=False), start=1):
        kinds = by_resident[key]
        for needed, prefix, kind in (
            (resident.wearable, "w", "wearable"),
            (resident.bed_sensor, "b", "bed_sensor"),
        ):
            if not needed:
                continue
            if kind not in kinds:
                raise ScenarioError(
                    f"{spec.name}: resident {resident.key} needs a {kind}; "
                    f"ward resident {key} has none"
                )
            cast[f"{prefix}-{index}"] = kinds[kind]
    return cast


def natural_key(text: str) -> tuple[Any, ...]:
    """Sort key in which the numbers in a string count as numbers: r2 < r10."""
    return tuple(int(p) if p.isdigit() else p for p in re.split(r"(\d+)", text))


class ScenarioSource:
    """`emitted()` yields the scenario's messages as its devices send them; labels follow the
    run: each scenario event at its time, each ground truth at its onset."""

    def __init__(
        self,
        spec: ScenarioSpec,
        devices: Sequence[SimDevice],
        *,
        seed: int,
        clocks: Mapping[str, DeviceClock],
        labels: Labels,
        tz: tzinfo = DEFAULT_TZ,
    ) -> None:
        self.spec = spec
        self.devices = sorted(devices, key=lambda d: d.device_id)
        self.start = spec.start
        self.labels = labels
        self.tz = tz
        self._clocks = clocks
        self._cast = cast_ward(spec, devices)
        self.scenario: Scenario = generate(spec, seed)
        self._subjects: dict[str, tuple[str, list[str]]] = {}
        for index, resident in enumerate(spec.residents, start=1):
            played = [self._cast[d] for d in (f"w-{index}", f"b-{index}") if d in self._cast]
            key = played[0].resident_key if played else resident.key
            self._subjects[resident.key] = (key, [d.device_id for d in played])
            self._subjects[resident_subject(index)] = self._subjects[resident.key]

    def emitted(self) -> Iterator[Delivery]:
        start = self.start
        pending: list[tuple[float, int, SimDevice, datetime, Stream, dict[str, object]]] = []
        labels = self._label_queue()
        pushed = 0
        group: tuple[datetime, str, Stream] | None = None
        fields: dict[str, object] = {}

        def push(
            available: datetime, key: tuple[datetime, str, Stream], body: dict[str, object]
        ) -> None:
            nonlocal pushed
            ts, device_id, stream = key
            device = self._cast.get(device_id)
            if device is None:
                return  # a scenario device this ward does not play (never: cast checks)
            pushed += 1
            offset = (available - start).total_seconds()
            heapq.heappush(pending, (offset, pushed, device, ts, stream, body))

        for _rid, obs in self.scenario.observations():
            if isinstance(obs, Vital):
                if obs.source == "manual" or obs.device_id is None:
                    continue
                stream: Stream = "vitals" if obs.source == "vitals" else "bed"
                key = (obs.ts, obs.device_id, stream)
                if key != group:
                    if group is not None:
                        push(group[0], group, fields)
                    group, fields = key, {}
                fields[obs.metric] = _value(obs.metric, obs.value)
                continue
            if group is not None:
                push(group[0], group, fields)
                group, fields = None, {}
            if isinstance(obs, Motion):
                done = obs.ts + timedelta(seconds=len(obs.ax) / obs.hz)
                body: dict[str, object] = {
                    "hz": obs.hz,
                    "ax": list(obs.ax),
                    "ay": list(obs.ay),
                    "az": list(obs.az),
                }
                push(done, (obs.ts, obs.device_id, "motion"), body)
            elif isinstance(obs, DeviceEvent):
                body = {"type": obs.type}
                if obs.zone is not None:
                    body["zone"] = obs.zone
                if obs.confidence is not None:
                    body["confidence"] = obs.confidence
                push(obs.ts, (obs.ts, obs.device_id, "event"), body)
            elif isinstance(obs, DeviceStatus):
                body = {}
                if obs.battery is not None:
                    body["battery"] = obs.battery
                if obs.online is not None:
                    body["online"] = obs.online
                push(obs.ts, (obs.ts, obs.device_id, "status"), body)
            # Everything pushed from now on is at or after this time: what is before it is final.
            now = (obs.ts - start).total_seconds()
            yield from self._release(pending, labels, now)
        if group is not None:
            push(group[0], group, fields)
        yield from self._release(pending, labels, math.inf)

    def _release(
        self,
        pending: list[tuple[float, int, SimDevice, datetime, Stream, dict[str, object]]],
        labels: list[tuple[float, int, str, Label | None]],
        before_s: float,
    ) -> Iterator[Delivery]:
        while labels and labels[0][0] < before_s:
            self._add_label(heapq.heappop(labels))
        while pending and pending[0][0] < before_s:
            offset, _, device, ts, stream, body = heapq.heappop(pending)
            # Stamped as sent, so seq follows the order the device sends in.
            seq, ts_ms = self._clocks[device.device_id].stamp(ts)
            message = reading_message(device, stream, body, seq=seq, ts_ms=ts_ms)
            yield Delivery(offset, device.device_id, message)

    def _label_queue(self) -> list[tuple[float, int, str, Label | None]]:
        queue: list[tuple[float, int, str, Label | None]] = []
        order = 0
        for index, event in enumerate(self.spec.events):
            order += 1
            queue.append((event.at_s, order, f"event:{index}", None))
        for label in self.scenario.labels:
            order += 1
            queue.append(((label.onset - self.start).total_seconds(), order, "truth", label))
        heapq.heapify(queue)
        return queue

    def _add_label(self, item: tuple[float, int, str, Label | None]) -> None:
        offset, _, what, label = item
        if label is None:
            event = self.spec.events[int(what.split(":")[1])]
            key, devices = self._subjects[event.resident]
            self.labels.add(
                "event",
                event.kind,
                source="scenario",
                scenario=self.spec.name,
                resident=key,
                scenario_resident=event.resident,
                devices=devices,
                start=self.start + timedelta(seconds=offset),
                params=dict(event.params),
            )
            return
        key_devices = self._subjects.get(label.subject)
        self.labels.add(
            "truth",
            label.kind,
            source="scenario",
            scenario=self.spec.name,
            family=label.family,
            positive=label.positive,
            subject=label.subject,
            resident=key_devices[0] if key_devices else None,
            devices=key_devices[1] if key_devices else [],
            onset=label.onset,
            detectable_at=label.detectable_at,
            window_end=label.window_end,
            min_severity=label.min_severity,
            first_touch_at=label.first_touch_at,
            note=label.note,
        )


def placed(spec: ScenarioSpec, start: datetime) -> ScenarioSpec:
    """The scenario moved to begin at `start` (its events keep their offsets; its local
    times, such as the rounds, stay in the scenario's time zone)."""
    if start.utcoffset() is None:
        raise ValueError("start must be timezone-aware")
    return replace(spec, start=start.astimezone(spec.start.tzinfo))


def _value(metric: str, value: float) -> object:
    if metric in _BED_FLAGS:
        return value >= 0.5
    if metric not in _DECIMAL and float(value).is_integer():
        return int(value)
    return value
