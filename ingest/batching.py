"""How the worker cuts its inbox into batches (no MQTT, no SQL: testable on its own)."""

from __future__ import annotations

import queue
import time
from collections.abc import Callable

from ingest.pipeline import Inbound


def collect_batch(
    inbox: queue.Queue[Inbound],
    *,
    batch_size: int,
    flush_s: float,
    max_bytes: int | None = None,
    idle_wait_s: float = 0.25,
    wall_clock: Callable[[], float] = time.time,
    monotonic: Callable[[], float] = time.monotonic,
) -> list[Inbound]:
    """Up to `batch_size` messages (and, given `max_bytes`, until their payloads and topics
    reach that many bytes: decoded, a batch takes several times that), until `flush_s` after
    the first one *arrived*.

    Time a message spent queued (while the previous batch was being written) counts against
    the deadline, so under load batches follow each other without a pause; and whatever is
    already queued when the deadline passes still joins the batch, so a backlog is drained
    in full batches. Returns [] after `idle_wait_s` with nothing to do.
    """
    try:
        first = inbox.get(timeout=idle_wait_s)
    except queue.Empty:
        return []
    batch = [first]
    size = _bytes(first)
    waited = max(0.0, wall_clock() - first.received_at.timestamp())
    deadline = monotonic() + flush_s - waited
    while len(batch) < batch_size and (max_bytes is None or size < max_bytes):
        remaining = deadline - monotonic()
        try:
            item = inbox.get(timeout=remaining) if remaining > 0 else inbox.get_nowait()
        except queue.Empty:
            break
        batch.append(item)
        size += _bytes(item)
    return batch


def _bytes(item: Inbound) -> int:
    return len(item.payload) + len(item.topic)
