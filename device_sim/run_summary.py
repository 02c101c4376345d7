"""What a simulation run did: counts by stream, kind and malformed kind, as people read them."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from device_sim.messages import Message


@dataclass(frozen=True, slots=True)
class SimSummary:
    """What a run did. `messages_published` counts messages handed to the broker connection
    (or written, in a dry run); of those, `messages_rejected` were refused by the broker (e.g.
    its ACL) and `messages_unacked` were still unacknowledged when the run gave up waiting.
    `by_kind` splits them into data as produced, backfill after a Wi-Fi drop, duplicates, late
    (out-of-order) and malformed (by malformed kind in `malformed`); `lost` messages fell out
    of a full buffer while offline, `unsent` were still buffered when the run ended."""

    messages_published: int
    by_stream: dict[str, int]
    elapsed_s: float
    messages_rejected: int = 0
    messages_unacked: int = 0
    by_kind: dict[str, int] = field(default_factory=dict)
    malformed: dict[str, int] = field(default_factory=dict)
    lost: int = 0
    unsent: int = 0
    labels: int = 0
    simulated_s: float = 0.0

    def lines(self, *, verb: str = "published") -> list[str]:
        """The summary for people, a few lines."""
        rate = self.messages_published / self.elapsed_s if self.elapsed_s > 0 else 0.0
        out = [
            f"{verb} {self.messages_published:,} messages in {self.elapsed_s:.1f} s "
            f"({rate:,.0f}/s), {self.simulated_s / 3600:.2f} simulated hours",
            "  by stream: " + _counts(self.by_stream),
            "  by kind:   " + _counts(self.by_kind),
        ]
        if self.malformed:
            out.append("  malformed: " + _counts(self.malformed))
        if self.lost or self.unsent:
            out.append(
                f"  lost from full buffers: {self.lost:,}; still buffered at the end: "
                f"{self.unsent:,}"
            )
        if verb == "published":
            out.append(
                f"  broker rejected: {self.messages_rejected:,}; unacknowledged: "
                f"{self.messages_unacked:,}"
            )
        return out


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{k} {v:,}" for k, v in sorted(counts.items())) or "none"


class Tally:
    """Counts of what was handed over, by stream, kind and malformed kind."""

    def __init__(self) -> None:
        self.total = 0
        self.by_stream: Counter[str] = Counter()
        self.by_kind: Counter[str] = Counter()
        self.malformed: Counter[str] = Counter()

    def add(self, message: Message, kind: str = "data", detail: str = "") -> None:
        self.total += 1
        self.by_stream[message.stream] += 1
        self.by_kind[kind] += 1
        if detail:
            self.malformed[detail] += 1
