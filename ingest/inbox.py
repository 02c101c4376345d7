"""The queue between the MQTT network thread and the worker, bounded by messages and bytes."""

from __future__ import annotations

import queue

from ingest.pipeline import Inbound

# What one queued message costs besides its topic and payload (the Inbound, its datetime,
# the bytes and str headers): rounds a flood of tiny messages up to what it really holds.
OVERHEAD_BYTES = 256


def held_bytes(item: Inbound) -> int:
    """Roughly the memory one queued message holds."""
    return len(item.payload) + len(item.topic) + OVERHEAD_BYTES


class Inbox(queue.Queue[Inbound]):
    """A FIFO that is full at `maxsize` messages or at `max_bytes` of them, whichever comes
    first, so that neither many small messages nor a run of large ones fill the memory.

    `put` then blocks the network thread, which stops reading the socket: the broker keeps
    the rest in the session. One message is always let in, however large, so nothing stalls.
    """

    def __init__(self, maxsize: int, max_bytes: int) -> None:
        if maxsize < 1 or max_bytes < 1:
            raise ValueError("an inbox needs room for at least one message and one byte")
        super().__init__(maxsize)
        self.max_bytes = max_bytes
        self.bytes = 0

    # queue.Queue calls these with its mutex held; `put` waits while _qsize() >= maxsize.
    def _qsize(self) -> int:
        count = len(self.queue)
        return max(count, self.maxsize) if count and self.bytes >= self.max_bytes else count

    def _put(self, item: Inbound) -> None:
        self.bytes += held_bytes(item)
        self.queue.append(item)

    def _get(self) -> Inbound:
        item: Inbound = self.queue.popleft()
        self.bytes -= held_bytes(item)
        return item
