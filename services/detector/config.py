"""How a detector process runs: its partition, batching, snapshot cadence, and the garbage
collector's thresholds for its state."""

from __future__ import annotations

import gc
from dataclasses import dataclass

from services.detector.partition import EVERY_SITE, Partition

# The rules hold millions of small objects (five minutes of each resident's readings for
# NEWS2), long-lived and free of cycles: reference counting frees them. At the default
# thresholds (a young collection every 700 allocations) the cyclic collector walked them over
# and over and took a third of the detector's CPU at 1,000 residents (bench/detector_cpu.py).
GC_THRESHOLDS = (50_000, 20, 10)

# While the database is away every statement is retried in place, on a fresh connection, this
# often (doubling up to the cap): short, since a fall waits for the first try that succeeds.
RETRY_FIRST_S = 0.2
RETRY_MAX_S = 1.0


def tune_gc() -> None:
    """For the detector's process (not a library's business: it is process-wide)."""
    gc.set_threshold(*GC_THRESHOLDS)


@dataclass(frozen=True, slots=True)
class DetectorConfig:
    partition: Partition = EVERY_SITE  # the sites this detector owns (docs/scaling.md)
    client_id: str | None = None  # None: the partition's (`carewatch-detector[-NAME]`)
    batch_size: int = 2000
    flush_s: float = 0.2
    tick_s: float = 1.0
    profile_refresh_s: float = 60.0
    queue_max: int = 50_000
    # Residents' state is saved this often (and the messages it took in acknowledged only
    # then), or sooner once this many messages wait unacknowledged (below the consumer's
    # receive maximum, 20,000, or the broker would stop sending: at 4,000 messages/s this is
    # every 3.75 s). Saving every resident each batch made PostgreSQL the bottleneck past a
    # few hundred residents; candidates are still written with every batch, so pages are not
    # delayed.
    snapshot_every_s: float = 5.0
    max_unacked: int = 15_000
