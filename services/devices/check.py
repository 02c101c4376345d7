"""Conformance check of one device's live traffic (`carewatch device check`). Pure.

Each message is judged by the ingest worker's own `classify` (the same decoder, limits and site
check), so "accepted" here means the worker would store it. Across messages the check keeps
the rates per stream, gaps in `seq`, the device's clock offset (message time minus time of
receipt) and which expected streams never showed up. Time comes in with each message; the
MQTT side lives in `services.devices.watch`.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Final

from ingest.codec import DEFAULT_LIMITS, Limits
from ingest.pipeline import Inbound, classify
from ingest.readings import DeviceMessage
from ingest.writer import DeadLetter
from rules.types import Motion
from rules.vocabulary import STREAMS, Stream
from services.devices.preview import safe_preview

# What a device of each kind sends at the least; `--expect` says otherwise.
EXPECTED_STREAMS: Final[Mapping[str, frozenset[Stream]]] = {
    "wearable": frozenset({"vitals", "status"}),
    "bed_sensor": frozenset({"bed", "status"}),
    "gateway": frozenset({"status"}),
}
DEFAULT_MAX_SKEW: Final = timedelta(seconds=2)
SHOWN_PAYLOAD_BYTES: Final = 120
_TOPIC_LEVELS: Final = 5  # carewatch/v1/{site_id}/{device_id}/{stream}
# The median skew is over the most recent messages: bounded work per message however long the
# run, and a clock that drifts shows as it is now.
SKEW_SAMPLE: Final = 500


@dataclass(frozen=True, slots=True)
class Target:
    """The device under check, as provisioned."""

    device_id: str
    site_id: str | None  # None: not provisioned, so the worker rejects all (`unknown_device`)
    expected: frozenset[Stream] = frozenset()
    max_skew: timedelta = DEFAULT_MAX_SKEW


@dataclass(frozen=True, slots=True)
class Observed:
    """One message as the observer received it (nothing past the adapter knows about paho)."""

    topic: str
    payload: bytes
    received_at: datetime  # timezone-aware
    retained: bool = False  # sent by the broker on subscribing: an old message, not live


@dataclass(frozen=True, slots=True)
class Verdict:
    """What the worker would do with one message, and what it says about the device."""

    received_at: datetime
    topic: str
    stream: str  # the topic's last level, known stream or not
    size: int
    retained: bool
    reason: str | None  # a reject reason (ingest.errors.REJECT_REASONS); None: accepted
    detail: str
    seq: int | None
    missed: int  # seq numbers skipped just before this message
    skew: timedelta | None  # message time - time of receipt; None: no time of its own
    preview: str  # of the payload, for rejected messages

    @property
    def accepted(self) -> bool:
        return self.reason is None


@dataclass(frozen=True, slots=True)
class StreamCount:
    live: int = 0
    retained: int = 0
    rejected: int = 0


@dataclass(frozen=True, slots=True)
class CheckState:
    """Everything the summary needs; a new state per message (the old one is left as it was)."""

    streams: Mapping[str, StreamCount] = field(default_factory=dict)
    reasons: Mapping[str, int] = field(default_factory=dict)
    last_seq: int | None = None
    gaps: int = 0
    missed: int = 0
    seq_back: int = 0  # seq not above the previous one: a repeat, a reorder or a restart
    skews_s: tuple[float, ...] = ()  # the last SKEW_SAMPLE skews, in seconds
    skew_min_s: float | None = None
    skew_max_s: float | None = None


def observe(
    state: CheckState, target: Target, message: Observed, limits: Limits = DEFAULT_LIMITS
) -> tuple[CheckState, Verdict]:
    """Judge one message and fold it into the state."""

    def site_of(device_id: str) -> str | None:
        return target.site_id if device_id == target.device_id else None

    inbound = Inbound(message.topic, message.payload, message.received_at)
    result = classify(inbound, site_of, limits)
    if isinstance(result, DeadLetter):
        reason: str | None = result.reason
        detail, seq, skew = result.detail, _loose_seq(message.payload), None
    else:
        reason, detail, seq = None, "", result.header.seq
        skew = _skew(result, message.received_at)

    levels = message.topic.split("/")
    stream = levels[-1] if len(levels) == _TOPIC_LEVELS else "(topic)"
    counted = state.streams.get(stream, StreamCount())
    counted = replace(
        counted,
        live=counted.live + (not message.retained),
        retained=counted.retained + message.retained,
        rejected=counted.rejected + (reason is not None),
    )
    state = replace(state, streams={**state.streams, stream: counted})
    if reason is not None:
        state = replace(state, reasons={**state.reasons, reason: state.reasons.get(reason, 0) + 1})

    missed = 0
    # A retained message is whatever the device last left on the broker, maybe long ago: it
    # says nothing about this run's sequence or clock.
    if not message.retained:
        if seq is not None:
            state, missed = _follow_seq(state, seq)
        if skew is not None:
            state = _add_skew(state, skew.total_seconds())

    verdict = Verdict(
        received_at=message.received_at,
        topic=message.topic,
        stream=stream,
        size=len(message.payload),
        retained=message.retained,
        reason=reason,
        detail=detail,
        seq=seq,
        missed=missed,
        skew=skew,
        preview="" if reason is None else safe_preview(message.payload, limit=SHOWN_PAYLOAD_BYTES),
    )
    return state, verdict


def _follow_seq(state: CheckState, seq: int) -> tuple[CheckState, int]:
    last = state.last_seq
    # Follow the device even when it goes back (a restart resets the counter), so one restart
    # is counted once rather than every message after it.
    state = replace(state, last_seq=seq)
    if last is None or seq == last + 1:
        return state, 0
    if seq <= last:
        return replace(state, seq_back=state.seq_back + 1), 0
    missed = seq - last - 1
    return replace(state, gaps=state.gaps + 1, missed=state.missed + missed), missed


def _add_skew(state: CheckState, seconds: float) -> CheckState:
    return replace(
        state,
        skews_s=(*state.skews_s[-(SKEW_SAMPLE - 1) :], seconds),
        skew_min_s=seconds if state.skew_min_s is None else min(state.skew_min_s, seconds),
        skew_max_s=seconds if state.skew_max_s is None else max(state.skew_max_s, seconds),
    )


def _skew(message: DeviceMessage, received_at: datetime) -> timedelta | None:
    if message.header.stream == "status" and message.header.ts == received_at:
        return None  # a status without `ts`: the codec stamped it with the time of receipt
    window = message.observations[0]
    if isinstance(window, Motion):
        # A window is sent once it is complete: compare its end, not its start.
        end = window.ts + timedelta(seconds=len(window.ax) / window.hz)
        return end - received_at
    return message.header.ts - received_at


def _loose_seq(payload: bytes) -> int | None:
    """The `seq` of a rejected message if it has a readable one: the device used that number
    up, so it is not a gap."""
    try:
        value = json.loads(payload)
    except (ValueError, RecursionError):
        return None
    seq = value.get("seq") if isinstance(value, dict) else None
    return seq if type(seq) is int and seq >= 0 else None


# --- summary -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StreamSummary:
    stream: str
    live: int
    retained: int
    rejected: int
    per_minute: float  # live messages


@dataclass(frozen=True, slots=True)
class Summary:
    elapsed_s: float
    messages: int
    rejected: int
    reasons: Mapping[str, int]
    streams: tuple[StreamSummary, ...]
    gaps: int
    missed: int
    seq_back: int
    skew_median_s: float | None  # over the last SKEW_SAMPLE messages
    skew_min_s: float | None
    skew_max_s: float | None
    missing: tuple[str, ...]  # expected streams without a single message
    warnings: tuple[str, ...]
    # Why the device cannot pass whatever it sent: not provisioned, or nothing to judge.
    failures: tuple[str, ...] = ()

    def exit_code(self, *, strict: bool = False) -> int:
        """1 if the worker would have rejected anything, or the check has a failure (or,
        `strict`, on any warning)."""
        return 1 if self.rejected or self.failures or (strict and self.warnings) else 0


def summarize(state: CheckState, target: Target, *, elapsed: timedelta) -> Summary:
    seconds = max(elapsed.total_seconds(), 1e-9)
    streams = tuple(
        StreamSummary(name, c.live, c.retained, c.rejected, c.live * 60 / seconds)
        for name, c in sorted(state.streams.items())
    )
    seen = {name for name, c in state.streams.items() if c.live or c.retained}
    missing = tuple(sorted(target.expected - seen))
    median = statistics.median(state.skews_s) if state.skews_s else None
    most_ahead = state.skew_max_s
    warnings: list[str] = []
    failures: list[str] = []
    if target.site_id is None:
        failures.append(
            f"{target.device_id} is not provisioned: the ingest worker rejects all it sends "
            "(unknown_device); provision it with `carewatch device add`"
        )
    if not state.streams:
        # Nothing to judge is not a pass: a device that sends nothing is not working.
        failures.append("no message at all: is the device connected and publishing?")
    if missing:
        warnings.append(f"expected streams never seen: {', '.join(missing)}")
    if state.gaps:
        warnings.append(f"{state.missed} seq number(s) skipped in {state.gaps} gap(s)")
    if state.seq_back:
        warnings.append(f"seq went back {state.seq_back} time(s) (repeat, reorder or restart)")
    limit = target.max_skew.total_seconds()
    if median is not None and abs(median) > limit:
        side = "ahead of" if median > 0 else "behind"
        warnings.append(f"device clock {abs(median):.1f}s {side} the server (median)")
    elif most_ahead is not None and most_ahead > limit:
        warnings.append(f"a message time {most_ahead:.1f}s after its receipt: clock jumps?")
    return Summary(
        elapsed_s=seconds,
        messages=sum(c.live + c.retained for c in state.streams.values()),
        rejected=sum(state.reasons.values()),
        reasons=dict(sorted(state.reasons.items())),
        streams=streams,
        gaps=state.gaps,
        missed=state.missed,
        seq_back=state.seq_back,
        skew_median_s=median,
        skew_min_s=state.skew_min_s,
        skew_max_s=state.skew_max_s,
        missing=missing,
        warnings=tuple(warnings),
        failures=tuple(failures),
    )


# --- text ----------------------------------------------------------------------------------


def format_verdict(verdict: Verdict) -> str:
    """One line per message: time of receipt (UTC), stream, verdict and what to know."""
    at = verdict.received_at.strftime("%H:%M:%S.%f")[:-3]
    parts = [at, f"{verdict.stream[:8]:<8}"]
    if verdict.accepted:
        parts.append("accepted")
    else:
        parts.append(f"REJECTED {verdict.reason}: {verdict.detail}")
    if verdict.seq is not None:
        missed = f" ({verdict.missed} missed)" if verdict.missed else ""
        parts.append(f"seq={verdict.seq}{missed}")
    if verdict.skew is not None:
        parts.append(f"skew={verdict.skew.total_seconds():+.2f}s")
    parts.append(f"{verdict.size} B")
    if verdict.retained:
        parts.append("(retained)")
    if not verdict.accepted:
        parts.append(f"payload: {verdict.preview}")
    return "  ".join(parts)


def format_summary(summary: Summary, *, strict: bool = False) -> list[str]:
    accepted = summary.messages - summary.rejected
    lines = [
        f"summary after {summary.elapsed_s:.1f}s: {summary.messages} message(s),"
        f" {accepted} accepted, {summary.rejected} rejected",
    ]
    for reason, n in summary.reasons.items():
        lines.append(f"  rejected {reason}: {n}")
    if summary.streams:
        head = f"  {'stream':<8}  {'live':>6}  {'retained':>8}  {'rejected':>8}  {'per min':>8}"
        lines.append(head)
    for s in summary.streams:
        lines.append(
            f"  {s.stream[:8]:<8}  {s.live:>6}  {s.retained:>8}  {s.rejected:>8}"
            f"  {s.per_minute:>8.1f}"
        )
    lines.append(f"  seq: {summary.gaps} gap(s), {summary.missed} missed, {summary.seq_back} back")
    if summary.skew_median_s is not None:
        lines.append(
            f"  clock skew (message time - receipt): median {summary.skew_median_s:+.2f}s,"
            f" min {summary.skew_min_s:+.2f}s, max {summary.skew_max_s:+.2f}s"
        )
    lines.extend(f"  warning: {w}" for w in summary.warnings)
    lines.extend(f"  failed: {f}" for f in summary.failures)
    if summary.rejected:
        result = f"FAIL: {summary.rejected} message(s) would be rejected"
    elif summary.failures:
        result = f"FAIL: {summary.failures[0]}"
    elif strict and summary.warnings:
        result = f"FAIL: {len(summary.warnings)} warning(s) (--strict)"
    else:
        result = "pass" + (f" with {len(summary.warnings)} warning(s)" if summary.warnings else "")
    lines.append(f"result: {result}")
    return lines


def parse_streams(names: list[str]) -> frozenset[Stream]:
    """`--expect` values as streams; ValueError naming the first unknown one."""
    known: dict[str, Stream] = {s: s for s in STREAMS}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ValueError(f"unknown stream {unknown[0]!r}: one of {', '.join(STREAMS)}")
    return frozenset(known[n] for n in names)
