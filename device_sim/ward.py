"""The live ward (pure): each resident's physiology and daily routine as their devices read it,
in the order the devices produce their messages.

No I/O and no clock: `start` is a parameter and every random draw comes from the seed, so the
same devices, seed and start give the same messages, byte for byte.

Every 1/rate_hz seconds each worn wearable sends `vitals` and each bed sensor `bed`; every 60 s
each device sends its retained `status` (battery, RSSI). With the routine on, residents eat
(heart rate up, blood pressure down for an hour or so), wash in the morning (the wearable comes
off: `wear_off`, no vitals, `wear_on`) and go about everyday activities (`motion` windows at
50 Hz, heart and breathing rate up, the SpO2 reading dipping while the sensor moves). A
wearable whose battery runs low goes on the charger, off the wrist, until it is full. Fevers,
at `fever_rate` per resident-day, raise heart and breathing rate with the temperature.
"""

from __future__ import annotations

import heapq
import math
import zlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from typing import Any, Final

import numpy as np

from device_sim.demo_events import DemoEventError, Playing, overlay, script_for
from device_sim.devices import SimDevice
from device_sim.labels import Labels
from device_sim.messages import (
    Delivery,
    DeviceClock,
    bed_message,
    event_message,
    motion_message,
    status_message,
    vitals_message,
)
from device_sim.motion import FallKind, Placement, generate
from device_sim.physiology import (
    DEFAULT_TZ,
    Effects,
    ResidentState,
    bed_at,
    new_resident,
    vitals_at,
)
from device_sim.routine import Activity, Fever, Routine
from device_sim.scenarios.stream import MOTION_HZ, MOTION_WINDOW_S
from device_sim.status import PowerState, new_power, status_at
from rules.vocabulary import RANGES, DeviceEventType

STATUS_EVERY_S: Final = 60.0  # simulated seconds
PLACEMENT: Final[Placement] = "waist"  # as in the scenario library
_RESIDENT_STREAM: Final = 0  # keeps the resident and device random streams apart
_DEVICE_STREAM: Final = 1
_SPO2_FLOOR: Final = RANGES["spo2"][0]
_NO_EVENT: Final[tuple[dict[str, float], bool, bool]] = ({}, False, False)

# Kinds of timed items, in the order they go at the same instant.
_LABEL, _WASH_START, _WASH_END, _ACTIVITY, _MOTION, _DEMO_EVENT = range(6)


@dataclass(frozen=True, slots=True)
class WardOptions:
    routine: bool = True  # meals, the morning wash, everyday activities
    fever_rate: float = 0.0  # fever episodes per resident-day

    def __post_init__(self) -> None:
        if not (math.isfinite(self.fever_rate) and self.fever_rate >= 0):
            raise ValueError(f"fever_rate must be >= 0, got {self.fever_rate}")


DEFAULT_WARD: Final = WardOptions()


class _Resident:
    __slots__ = (
        "beds",
        "demo",
        "effects",
        "effects_at",
        "key",
        "rng",
        "routine",
        "state",
        "wearables",
    )

    def __init__(self, key: str, rng: np.random.Generator, state: ResidentState) -> None:
        self.key = key
        self.rng = rng
        self.state = state
        self.routine: Routine | None = None
        self.wearables: list[SimDevice] = []
        self.beds: list[SimDevice] = []
        self.effects: Effects | None = None
        self.effects_at: datetime | None = None
        self.demo: list[Playing] = []  # events asked for (`carewatch demo event`)

    @property
    def device_ids(self) -> list[str]:
        return [d.device_id for d in (*self.wearables, *self.beds)]


class WardSource:
    """`emitted()` yields the ward's messages (as `data` deliveries) in the order produced."""

    def __init__(
        self,
        devices: Sequence[SimDevice],
        *,
        seed: int,
        start: datetime,
        duration_s: float | None,
        rate_hz: float,
        clocks: Mapping[str, DeviceClock],
        labels: Labels,
        tz: tzinfo = DEFAULT_TZ,
        options: WardOptions = WardOptions(),  # frozen: safe to share
    ) -> None:
        if not (math.isfinite(rate_hz) and rate_hz > 0):
            raise ValueError(f"rate_hz must be positive, got {rate_hz}")
        if start.utcoffset() is None:
            raise ValueError("start must be timezone-aware")
        self.devices = sorted(devices, key=lambda d: d.device_id)
        self.start = start
        self.end_s = math.inf if duration_s is None else duration_s
        self.rate_hz = rate_hz
        self.tz = tz
        self.options = options
        self.labels = labels
        self._clocks = clocks
        self.residents: dict[str, _Resident] = {}
        self._of: dict[str, _Resident] = {}
        self._device_rngs: dict[str, np.random.Generator] = {}
        self._power: dict[str, PowerState] = {}
        self._off: dict[str, set[str]] = {}  # why a wearable is not on its resident
        self._charging_since: dict[str, datetime] = {}
        for device in self.devices:
            key = device.resident_key
            resident = self.residents.get(key)
            if resident is None:
                # Keyed by name, not position: adding a device leaves the others' values alone.
                rng = np.random.default_rng([seed, _RESIDENT_STREAM, _stable_hash(key)])
                resident = _Resident(key, rng, new_resident(rng))
                if options.routine or options.fever_rate:
                    resident.routine = Routine(
                        key,
                        resident.state.baseline,
                        seed=seed,
                        placement=PLACEMENT,
                        daily=options.routine,
                        fever_rate=options.fever_rate,
                        tz=tz,
                    )
                self.residents[key] = resident
            (resident.wearables if device.kind == "wearable" else resident.beds).append(device)
            self._of[device.device_id] = resident
            rng = np.random.default_rng([seed, _DEVICE_STREAM, _stable_hash(device.device_id)])
            self._device_rngs[device.device_id] = rng
            self._power[device.device_id] = new_power(rng)
            self._off[device.device_id] = set()
        self._timed: list[tuple[float, int, int, Any]] = []
        self._pushed = 0
        self._planned: date | None = None
        self._at_s = 0.0  # the offset being produced: where an injected event starts
        self._demo_events = 0

    # --- the timeline --------------------------------------------------------------------

    def emitted(self) -> Iterator[Delivery]:
        end = self.end_s
        data_tick = status_tick = 0
        timed = self._timed
        while True:
            # Each offset is computed from the start, never by adding up intervals, so float
            # error does not accumulate into drift.
            data_at = data_tick / self.rate_hz
            status_at_ = status_tick * STATUS_EVERY_S
            self._plan_ahead(min(data_at, status_at_))
            offset = min(data_at, status_at_, timed[0][0] if timed else math.inf)
            if offset >= end:
                break
            t = self.start + timedelta(seconds=offset)
            self._at_s = offset
            with_status = status_at_ == offset
            with_data = data_at == offset
            if with_status or with_data:
                for device in self.devices:
                    if with_status:
                        yield from self._status(device, t, offset)
                    if with_data:
                        reading = self._reading(device, t, offset)
                        if reading is not None:
                            yield reading
                status_tick += with_status
                data_tick += with_data
            while timed and timed[0][0] == offset:
                _, kind, _, payload = heapq.heappop(timed)
                yield from self._timed_item(kind, payload, t, offset)
        for device_id, since in sorted(self._charging_since.items()):
            self._label_charging(device_id, since, None)

    # --- events asked for by a demo user ---------------------------------------------------

    def inject(self, kind: str, resident_key: str) -> None:
        """Play event `kind` (device_sim.demo_events) on the resident from the next reading
        on. Raises DemoEventError for an unknown kind or resident."""
        script = script_for(kind)
        resident = self.residents.get(resident_key)
        if resident is None:
            known = ", ".join(sorted(self.residents))
            raise DemoEventError(f"no resident {resident_key!r} in this ward ({known})")
        # Just after what has been produced, so nothing is sent out of order.
        start_s = self._at_s + 1e-3
        t = self.start + timedelta(seconds=start_s)
        resident.demo = [p for p in resident.demo if p.active(start_s)]
        resident.demo.append(Playing(kind, script, start_s))
        self._demo_events += 1
        self.labels.add(
            "event",
            f"demo_{kind.replace('-', '_')}",
            source="demo",
            resident=resident.key,
            devices=resident.device_ids,
            start=t,
            end=t + timedelta(seconds=script.duration_s),
        )
        for device in resident.wearables:
            # A fall is reported once its impact is over, other events at once.
            after = self._demo_fall(device, script.fall_motion, start_s)
            if script.wearable_event is not None:
                event = (device, script.wearable_event, script.confidence)
                self._push(start_s + after, _DEMO_EVENT, event)
        if script.bed_event is not None:
            for device in resident.beds:
                self._push(start_s, _DEMO_EVENT, (device, script.bed_event, None))

    def _demo_fall(self, device: SimDevice, kind: FallKind | None, start_s: float) -> float:
        """Queue a fall's accelerometer windows (the impact, then lying still); returns when,
        from `start_s`, the wearable reports the fall (0 without a recording)."""
        if kind is None:
            return 0.0
        rng = np.random.default_rng([self._demo_events, _stable_hash(device.device_id)])
        recording = generate(kind, placement=PLACEMENT, hz=MOTION_HZ, rng=rng)
        ts0 = self.start + timedelta(seconds=start_s)
        for window_start, chunk in recording.windows(MOTION_WINDOW_S):
            done = start_s + window_start + len(chunk) / recording.hz
            ts = ts0 + timedelta(seconds=window_start)
            columns = (chunk[:, 0].tolist(), chunk[:, 1].tolist(), chunk[:, 2].tolist())
            self._push(done, _MOTION, (device, ts, *columns))
        # A wearable's own detection reports a couple of seconds after the impact.
        impact = recording.event_s if recording.event_s is not None else 0.0
        return min(recording.duration_s, impact + 2.0)

    def _push(self, at: datetime | float, kind: int, payload: Any) -> None:
        offset = at if isinstance(at, float) else (at - self.start).total_seconds()
        if 0 <= offset < self.end_s:
            self._pushed += 1  # keeps equal times in the order pushed
            heapq.heappush(self._timed, (offset, kind, self._pushed, payload))

    def _plan_ahead(self, offset: float) -> None:
        """Put each resident's routine on the timeline a day ahead of `offset`."""
        until = (self.start + timedelta(seconds=offset, days=1)).astimezone(self.tz).date()
        if self._planned is None:
            self._planned = self.start.astimezone(self.tz).date() - timedelta(days=1)
            for resident in self.residents.values():
                if resident.routine is not None:
                    # A fever that began before the run is part of its truth too.
                    for fever in resident.routine.fevers_running(self.start):
                        if fever.onset.astimezone(self.tz).date() <= self._planned:
                            self._push_fever(resident, fever)
        while self._planned < until:
            self._planned += timedelta(days=1)
            for resident in self.residents.values():
                if resident.routine is not None:
                    self._plan_day(resident, resident.routine, self._planned)

    def _plan_day(self, resident: _Resident, routine: Routine, day: date) -> None:
        plan = routine.day(day)
        devices = resident.device_ids
        for meal in plan.meals:
            fields = {"resident": resident.key, "devices": devices, "start": meal.start}
            self._push(meal.start, _LABEL, ("meal", {**fields, "meal": meal.name, "end": meal.end}))
        wash_start, wash_end = plan.wash
        if resident.wearables and wash_end > max(wash_start, self.start):
            # A run that starts mid-wash starts with the wearable off.
            self._push(max(wash_start, self.start), _WASH_START, (resident, wash_start, wash_end))
            self._push(wash_end, _WASH_END, resident)
        for activity in plan.activities:
            self._push(activity.start, _ACTIVITY, (resident, activity))
        for fever in plan.fevers:
            self._push_fever(resident, fever)

    def _push_fever(self, resident: _Resident, fever: Fever) -> None:
        fields = {
            "resident": resident.key,
            "devices": resident.device_ids,
            "start": fever.onset,
            "end": fever.end,
            "rise_c": round(fever.rise_c, 2),
            "peak_from": fever.onset + timedelta(seconds=fever.ramp_s),
            "peak_until": fever.onset + timedelta(seconds=fever.ramp_s + fever.hold_s),
        }
        if fever.end > self.start:
            self._push(max(fever.onset, self.start), _LABEL, ("fever", fields))

    # --- what the devices send -----------------------------------------------------------

    def _effects(self, resident: _Resident, t: datetime) -> Effects | None:
        if resident.routine is None:
            return None
        if resident.effects_at != t:
            resident.effects = resident.routine.effects(t)
            resident.effects_at = t
        return resident.effects

    def _reading(self, device: SimDevice, t: datetime, offset: float) -> Delivery | None:
        resident = self._of[device.device_id]
        effects = self._effects(resident, t)
        if device.kind == "wearable":
            # Read even when off: the physiology's random stream then does not depend on
            # when the wearable was worn, and the bed sensor sees the same resident.
            resident.state, vitals = vitals_at(
                resident.state, t, resident.rng, self.tz, effects=effects
            )
            # Most readings have no demo event: skip the overlay for them (the hot path).
            changed, _, silent = overlay(resident.demo, offset) if resident.demo else _NO_EVENT
            if self._off[device.device_id] or silent:
                return None
            if resident.routine is not None:
                dip = resident.routine.spo2_dip(t)
                if dip:
                    vitals["spo2"] = max(round(_SPO2_FLOOR), round(vitals["spo2"] - dip))
            for metric, value in changed.items():
                vitals[metric] = value  # type: ignore[literal-required]
            seq, ts_ms = self._clocks[device.device_id].stamp(t)
            message = vitals_message(device, vitals, seq=seq, ts_ms=ts_ms)
        else:
            resident.state, bed = bed_at(resident.state, t, resident.rng, self.tz, effects=effects)
            if resident.demo and overlay(resident.demo, offset)[1]:
                bed = {"occupied": False, "movement": 0.0}
            seq, ts_ms = self._clocks[device.device_id].stamp(t)
            message = bed_message(device, bed, seq=seq, ts_ms=ts_ms)
        return Delivery(offset, device.device_id, message)

    def _status(self, device: SimDevice, t: datetime, offset: float) -> Iterator[Delivery]:
        device_id = device.device_id
        before = self._power[device_id]
        power, reading = status_at(before, t, device.kind, self._device_rngs[device_id])
        self._power[device_id] = power
        resident = self._of[device_id]
        if resident.demo and device.kind == "wearable" and overlay(resident.demo, offset)[2]:
            return  # a device gone silent sends no status either
        seq, ts_ms = self._clocks[device_id].stamp(t)
        yield Delivery(offset, device_id, status_message(device, reading, seq=seq, ts_ms=ts_ms))
        if device.kind == "wearable" and power.charging != before.charging:
            # On the charger means off the resident, until it is full.
            if power.charging:
                self._charging_since[device_id] = t
            else:
                self._label_charging(device_id, self._charging_since.pop(device_id), t)
            yield from self._wear(device, "charging", power.charging, t, offset)

    def _wear(
        self, device: SimDevice, reason: str, off: bool, t: datetime, offset: float
    ) -> Iterator[Delivery]:
        reasons = self._off[device.device_id]
        was_worn = not reasons
        if off:
            reasons.add(reason)
        else:
            reasons.discard(reason)
        if was_worn != (not reasons):
            seq, ts_ms = self._clocks[device.device_id].stamp(t)
            event: DeviceEventType = "wear_off" if was_worn else "wear_on"
            yield Delivery(
                offset, device.device_id, event_message(device, event, seq=seq, ts_ms=ts_ms)
            )

    def _timed_item(
        self, kind: int, payload: Any, t: datetime, offset: float
    ) -> Iterator[Delivery]:
        if kind == _DEMO_EVENT:
            device, event_type, confidence = payload
            seq, ts_ms = self._clocks[device.device_id].stamp(t)
            message = event_message(device, event_type, seq=seq, ts_ms=ts_ms, confidence=confidence)
            yield Delivery(offset, device.device_id, message)
        elif kind == _MOTION:
            device, ts, ax, ay, az = payload
            if not self._off[device.device_id]:
                seq, ts_ms = self._clocks[device.device_id].stamp(ts)
                message = motion_message(device, MOTION_HZ, ax, ay, az, seq=seq, ts_ms=ts_ms)
                yield Delivery(offset, device.device_id, message)
        elif kind == _ACTIVITY:
            resident, activity = payload
            self._activity(resident, activity, offset)
        elif kind == _WASH_START:
            resident, wash_start, wash_end = payload
            self.labels.add(
                "event",
                "wash",
                source="ward",
                resident=resident.key,
                devices=[d.device_id for d in resident.wearables],
                start=wash_start,
                end=wash_end,
            )
            for device in resident.wearables:
                yield from self._wear(device, "wash", True, t, offset)
        elif kind == _WASH_END:
            for device in payload.wearables:
                yield from self._wear(device, "wash", False, t, offset)
        else:
            label_kind, fields = payload
            self.labels.add("event", label_kind, source="ward", **fields)

    def _activity(self, resident: _Resident, activity: Activity, offset: float) -> None:
        """Queue the activity's accelerometer windows, each sent once it is complete."""
        recording = activity.recording
        seen: list[str] = []
        # Up and about: someone lying in bed is not walking, whatever the plan said.
        if not resident.state.occupied:
            for device in resident.wearables:
                if self._off[device.device_id]:
                    continue
                seen.append(device.device_id)
                for start_s, chunk in recording.windows(MOTION_WINDOW_S):
                    done = offset + start_s + len(chunk) / recording.hz
                    ts = activity.start + timedelta(seconds=start_s)
                    columns = (chunk[:, 0].tolist(), chunk[:, 1].tolist(), chunk[:, 2].tolist())
                    self._push(done, _MOTION, (device, ts, *columns))
        self.labels.add(
            "event",
            "activity",
            source="ward",
            resident=resident.key,
            devices=seen,
            motion=activity.kind,
            start=activity.start,
            end=activity.end,
            spo2_dip=round(activity.spo2_dip, 1) if seen else 0.0,
            seen=bool(seen),
        )

    def _label_charging(self, device_id: str, since: datetime, until: datetime | None) -> None:
        self.labels.add(
            "event",
            "charging",
            source="ward",
            resident=self._of[device_id].key,
            devices=[device_id],
            start=since,
            end=until,
        )


def _stable_hash(text: str) -> int:
    # hash() of a str changes between processes; the seed must not.
    return zlib.crc32(text.encode("utf-8"))
