"""The pure side of bench/alarm_burden.py: the true events injected into the simulated week,
the device stream with them in, and how each page delivered is classified and counted.

No I/O and no clock: the bench feeds it the simulator's deliveries, the pages its receiver
got (with the simulated time each arrived at) and the alert rows behind them.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final, Literal, Protocol

from device_sim.devices import SimDevice
from device_sim.messages import Delivery, DeviceClock, Message, reading_message

Kind = Literal["fall", "hypoxia", "deterioration", "device_offline", "late_hypoxia"]
KINDS: Final[tuple[Kind, ...]] = (
    "fall",
    "hypoxia",
    "deterioration",
    "device_offline",
    "late_hypoxia",
)
Family = Literal["clinical", "device", "outbreak"]
FAMILIES: Final[tuple[Family, ...]] = ("clinical", "device", "outbreak")
STEPS: Final = ("caregiver", "nurse", "physician", "other")

# Every vital-sign event lasts longer than the longest Wi-Fi drop (15 min): whatever the drops,
# its data arrive while it is still going on, so it must be paged even by a system that
# records ended conditions as history.
HYPOXIA_S: Final = 1800.0
DETERIORATION_S: Final = 7200.0
OFFLINE_S: Final = 2700.0
# A condition that ended before its data arrived: the wearable is out of Wi-Fi for LATE_S,
# its SpO2 reads HYPOXIA_SPO2 from LATE_HYPOXIA[0] to LATE_HYPOXIA[1] into it, and the whole
# backlog arrives on reconnecting. History to record, not a page.
LATE_S: Final = 1200.0
LATE_HYPOXIA: Final = (120.0, 480.0)
# A page matches an injected event when its alert's data time is within this of the event.
MATCH_BEFORE: Final = timedelta(minutes=2)
MATCH_AFTER: Final = timedelta(minutes=30)
# An injected event's page must come within this of its start (simulated time).
PAGED_WITHIN: Final = timedelta(hours=1)
# What deterioration does at its worst (reached after a third of it): NEWS2 well past 7 from
# the wearable's parameters alone (RR 27: 3, SpO2 90: 3, HR 125: 2, temp 39.3: 2, SBP 95: 2).
DETERIORATION: Final[Mapping[str, float]] = {"hr": 125, "rr": 27, "spo2": 90, "temp": 39.3}
DETERIORATION_SBP: Final = 95.0
HYPOXIA_SPO2: Final = 84.0


@dataclass(frozen=True, slots=True)
class Injection:
    """A labelled true event: `resident` is the ward resident's index, offsets are simulated
    seconds from the start of the week."""

    kind: Kind
    resident: int
    start_s: float
    end_s: float

    @property
    def family(self) -> Family:
        return "device" if self.kind == "device_offline" else "clinical"

    @property
    def history(self) -> bool:
        """Ended before its data arrived: must not be paged."""
        return self.kind == "late_hypoxia"

    def label(self, start: datetime) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "resident": self.resident,
            "family": self.family,
            "must_page": not self.history,
            "start": (start + timedelta(seconds=self.start_s)).isoformat(),
            "end": (start + timedelta(seconds=self.end_s)).isoformat(),
        }


# An event is placed this far from any time the resident's wearable is off them (the
# morning wash, charging): a wearable on the charger sees neither a fall nor an SpO2.
WORN_MARGIN_S: Final = 900.0


def make_plan(
    residents: int,
    days: int,
    *,
    seed: int,
    per_day: int = 1,
    off: Mapping[int, Sequence[tuple[float, float]]] | None = None,
) -> list[Injection]:
    """`per_day` events of each kind each day, between 09:00 and 19:00 of the ward's day
    (offset 0 is midnight), each on a resident with nothing else injected that day, and
    away from the intervals (offsets) in which `off[resident]` says the wearable is off."""
    if residents < len(KINDS) * per_day:
        raise ValueError("every injected event of a day needs a resident of its own")
    rng = random.Random(f"alarm-burden:{seed}")
    plan: list[Injection] = []
    for day in range(days):
        chosen = rng.sample(range(residents), len(KINDS) * per_day)
        for n, resident in enumerate(chosen):
            kind = KINDS[n % len(KINDS)]
            length = {
                "fall": 0.0,
                "hypoxia": HYPOXIA_S,
                "deterioration": DETERIORATION_S,
                "device_offline": OFFLINE_S,
                "late_hypoxia": LATE_S,
            }[kind]
            busy = (off or {}).get(resident, ())
            for _ in range(200):
                start = day * 86400 + rng.uniform(9 * 3600, 19 * 3600)
                if not any(
                    a - WORN_MARGIN_S < start + length and start < b + WORN_MARGIN_S
                    for a, b in busy
                ):
                    break
            plan.append(Injection(kind, resident, round(start), round(start + length)))
    return sorted(plan, key=lambda i: i.start_s)


class Source(Protocol):
    @property
    def devices(self) -> Sequence[SimDevice]: ...

    def emitted(self) -> Iterator[Delivery]: ...


class InjectedSource:
    """The ward's deliveries with the plan's events in them, before any device fault (so a
    Wi-Fi drop delays an injected event's data as it would the ward's own):

    - fall: the wearable reports a fall (`event` {"type": "fall"}), as the alert bench does;
    - hypoxia: the wearable's SpO2 reads HYPOXIA_SPO2 for the event's length;
    - deterioration: the wearable's vitals move linearly towards DETERIORATION over the first
      third, hold, and stay there to the end;
    - device_offline: the wearable sends `status` {"online": false} and then nothing (no
      backlog either: it is off) until the end;
    - late_hypoxia: the wearable is out of Wi-Fi for LATE_S (its statuses lost, its readings
      kept), its SpO2 low for a few minutes in the middle; the backlog goes on reconnecting.
    """

    def __init__(
        self,
        inner: Source,
        plan: Sequence[Injection],
        *,
        start: datetime,
        clocks: Mapping[str, DeviceClock],
    ) -> None:
        self.inner = inner
        self.start = start
        self.clocks = clocks
        by_key = {d.resident_key: d for d in inner.devices if d.kind == "wearable"}
        self.wearable = {i.resident: by_key[str(i.resident)] for i in plan}
        self.plan = sorted(plan, key=lambda i: i.start_s)

    @property
    def devices(self) -> Sequence[SimDevice]:
        return self.inner.devices

    def emitted(self) -> Iterator[Delivery]:
        starts = [i for i in self.plan if i.kind in ("fall", "device_offline")]
        windows = [i for i in self.plan if i.kind != "fall"]
        held: dict[Injection, list[Delivery]] = {}
        for delivery in self.inner.emitted():
            while starts and starts[0].start_s <= delivery.offset_s:
                yield self._start(starts.pop(0))
            for late in [i for i in held if i.end_s <= delivery.offset_s]:
                yield from self._reconnect(late, held.pop(late))
            changed = self._apply(delivery, windows)
            if changed is None:
                continue
            late_now = self._late(changed)
            if late_now is None:
                yield changed
            elif changed.message.stream != "status":
                held.setdefault(late_now, []).append(changed)
        for injection in starts:
            yield self._start(injection)
        for late, backlog in held.items():
            yield from self._reconnect(late, backlog)

    def _late(self, delivery: Delivery) -> Injection | None:
        for injection in self.plan:
            if (
                injection.history
                and injection.start_s <= delivery.offset_s < injection.end_s
                and self.wearable[injection.resident].device_id == delivery.device_id
            ):
                return injection
        return None

    @staticmethod
    def _reconnect(late: Injection, backlog: Sequence[Delivery]) -> Iterator[Delivery]:
        for d in backlog:
            yield Delivery(late.end_s, d.device_id, d.message, "backfill", d.detail)

    def _start(self, injection: Injection) -> Delivery:
        device = self.wearable[injection.resident]
        at = self.start + timedelta(seconds=injection.start_s)
        seq, ts_ms = self.clocks[device.device_id].stamp(at)
        if injection.kind == "fall":
            message = reading_message(device, "event", {"type": "fall"}, seq=seq, ts_ms=ts_ms)
        else:
            message = reading_message(device, "status", {"online": False}, seq=seq, ts_ms=ts_ms)
        return Delivery(injection.start_s, device.device_id, message)

    def _apply(self, delivery: Delivery, windows: Sequence[Injection]) -> Delivery | None:
        t = delivery.offset_s
        for injection in windows:
            if not injection.start_s <= t < injection.end_s:
                continue
            if self.wearable[injection.resident].device_id != delivery.device_id:
                continue
            if injection.kind == "device_offline":
                return None
            if injection.history:
                low_from, low_to = LATE_HYPOXIA
                if not low_from <= t - injection.start_s < low_to:
                    return delivery
            if delivery.message.stream == "vitals":
                progress = (t - injection.start_s) / (injection.end_s - injection.start_s)
                message = with_vitals(delivery.message, injection.kind, progress)
                return Delivery(t, delivery.device_id, message, delivery.kind, delivery.detail)
        return delivery


def wearable_off(
    deliveries: Iterable[Delivery], resident_of: Mapping[str, int]
) -> dict[int, list[tuple[float, float]]]:
    """Per resident, the (start, end) offsets between each `wear_off` and `wear_on` event of
    their wearable (the ward's wash and charging)."""
    out: dict[int, list[tuple[float, float]]] = {}
    since: dict[str, float] = {}
    for d in deliveries:
        if d.message.stream != "event" or d.device_id not in resident_of:
            continue
        kind = json.loads(d.message.payload).get("type")
        if kind == "wear_off":
            since.setdefault(d.device_id, d.offset_s)
        elif kind == "wear_on" and d.device_id in since:
            resident = resident_of[d.device_id]
            out.setdefault(resident, []).append((since.pop(d.device_id), d.offset_s))
    for device, begun in since.items():
        out.setdefault(resident_of[device], []).append((begun, float("inf")))
    return out


def with_vitals(message: Message, kind: Kind, progress: float) -> Message:
    """A vitals message changed by a hypoxia or deterioration `progress` (0..1) of the way in."""
    body = json.loads(message.payload)
    if kind in ("hypoxia", "late_hypoxia"):
        if "spo2" in body:
            body["spo2"] = HYPOXIA_SPO2
    elif kind == "deterioration":
        k = min(1.0, progress * 3.0)
        targets = {**DETERIORATION, "sbp": DETERIORATION_SBP}
        for metric, target in targets.items():
            if metric in body:
                value = body[metric] + k * (target - body[metric])
                body[metric] = round(value, 1) if metric == "temp" else round(value)
    payload = json.dumps(body, separators=(",", ":")).encode()
    return Message(message.stream, message.topic, payload, message.retain)


# --- classifying pages -------------------------------------------------------------------------


def family_of(rule_id: str) -> Family:
    if rule_id.startswith("device."):
        return "device"
    if rule_id.startswith("outbreak."):
        return "outbreak"
    return "clinical"


def step_of(role: str) -> str:
    """The escalation step a recipient stands for, by their role in the care team."""
    return {
        "caregiver": "caregiver",
        "nurse": "nurse",
        "charge_nurse": "nurse",
        "physician": "physician",
        "family_doctor": "physician",
    }.get(role, "other")


@dataclass(frozen=True, slots=True)
class AlertRow:
    """An alert of a paged incident: what the database says it was about."""

    alert_id: int
    rule_id: str
    resident: int | None  # the ward resident's index
    first_ts: datetime  # the data time that opened it
    dedupe_key: str


@dataclass(frozen=True, slots=True)
class Drop:
    """A Wi-Fi drop of one of a resident's devices: data from [start, end) arrive at
    `reconnected_at` (the simulator's `wifi_drop` label)."""

    resident: int
    start: datetime
    end: datetime
    reconnected_at: datetime


@dataclass(frozen=True, slots=True)
class PageRow:
    """A page delivered to a person: its incident's alerts and the simulated time it came."""

    recipient_role: str
    at: datetime
    alerts: tuple[AlertRow, ...]


# Raised by the absence of data (judged on the stream's time as it happens), never from data
# that arrived late: a device silent during a Wi-Fi drop is news at the time.
SILENCE_RULES: Final = frozenset({"device.offline"})


def family_of_page(page: PageRow) -> Family:
    """The incident's family: clinical if any alert is clinical, else outbreak, else device
    (a device alert grouped with a clinical one is paged as the clinical incident it joined)."""
    families = {family_of(a.rule_id) for a in page.alerts}
    order: tuple[Family, ...] = ("clinical", "outbreak", "device")
    for family in order:
        if family in families:
            return family
    return "clinical"


def matches(alert: AlertRow, injection: Injection, start: datetime) -> bool:
    if alert.resident != injection.resident or family_of(alert.rule_id) != injection.family:
        return False
    begin = start + timedelta(seconds=injection.start_s) - MATCH_BEFORE
    until = start + timedelta(seconds=injection.end_s) + MATCH_AFTER
    return begin <= alert.first_ts <= until


def actionable(page: PageRow, plan: Iterable[Injection], start: datetime) -> bool:
    """A page is actionable when one of its incident's alerts is about an injected event that
    was still going on when its data arrived."""
    return any(matches(a, i, start) for a in page.alerts for i in plan if not i.history)


def late_drops(plan: Iterable[Injection], start: datetime) -> list[Drop]:
    """The injected Wi-Fi outages of the late events, as drops."""
    return [
        Drop(
            i.resident,
            start + timedelta(seconds=i.start_s),
            start + timedelta(seconds=i.end_s),
            start + timedelta(seconds=i.end_s),
        )
        for i in plan
        if i.history
    ]


def ended_before_arrival(alert: AlertRow, ended_at: datetime | None, drops: Iterable[Drop]) -> bool:
    """Whether the alert's condition had ended (`ended_at`: the data time of the detector's
    clear for it) before the data that raised it arrived: raised from data held back by a Wi-Fi
    drop, and cleared by data from before the device reconnected."""
    if ended_at is None or alert.rule_id in SILENCE_RULES or alert.resident is None:
        return False
    for drop in drops:
        if drop.resident != alert.resident or not drop.start <= alert.first_ts < drop.end:
            continue
        if ended_at < drop.reconnected_at:
            return True
    return False


def first_clear_after(clears: Mapping[str, Sequence[datetime]], alert: AlertRow) -> datetime | None:
    """The data time of the first clear of the alert's dedupe key after it opened."""
    later = [t for t in clears.get(alert.dedupe_key, ()) if t >= alert.first_ts]
    return min(later, default=None)


@dataclass
class Tally:
    pages: int = 0
    by_family: Counter[str] | None = None
    by_step: Counter[str] | None = None
    by_family_step: Counter[str] | None = None
    clinical_nonactionable: int = 0
    device_to_physicians: int = 0  # device incidents paged to a physician
    physician_with_device_alert: int = 0  # any physician page naming a device alert
    ended: int = 0
    by_rule: Counter[str] | None = None


def tally(
    pages: Sequence[PageRow],
    plan: Sequence[Injection],
    start: datetime,
    clears: Mapping[str, Sequence[datetime]],
    drops: Sequence[Drop],
) -> Tally:
    out = Tally(by_family=Counter(), by_step=Counter(), by_family_step=Counter(), by_rule=Counter())
    assert out.by_family is not None and out.by_step is not None
    assert out.by_family_step is not None and out.by_rule is not None
    for page in pages:
        family = family_of_page(page)
        step = step_of(page.recipient_role)
        out.pages += 1
        out.by_family[family] += 1
        out.by_step[step] += 1
        out.by_family_step[f"{family}/{step}"] += 1
        for rule in sorted({a.rule_id for a in page.alerts}):
            out.by_rule[rule] += 1
        if family == "clinical" and not actionable(page, plan, start):
            out.clinical_nonactionable += 1
        if step == "physician" and family == "device":
            out.device_to_physicians += 1
        if step == "physician" and any(family_of(a.rule_id) == "device" for a in page.alerts):
            out.physician_with_device_alert += 1
        history = any(matches(a, i, start) for a in page.alerts for i in plan if i.history)
        if history or (
            page.alerts
            and all(
                ended_before_arrival(a, first_clear_after(clears, a), drops) for a in page.alerts
            )
        ):
            out.ended += 1
    return out


def paged_events(
    pages: Sequence[PageRow], plan: Sequence[Injection], start: datetime
) -> list[tuple[Injection, datetime | None]]:
    """Each injected event with the time of its first matching page (None: never paged)."""
    out = []
    for injection in plan:
        until = start + timedelta(seconds=injection.end_s) + PAGED_WITHIN
        hits = [
            p.at
            for p in pages
            if any(matches(a, injection, start) for a in p.alerts) and p.at <= until
        ]
        out.append((injection, min(hits, default=None)))
    return out
