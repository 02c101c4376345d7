"""The caregiver's side of the alert benchmark: pages matched to residents by the name that
ends their title, and acknowledged a few seconds after they arrive."""

from __future__ import annotations

import asyncio
import queue
import re
import threading
import time
from collections import Counter

import psycopg

from bench.alert_stream import resident_name
from bench.receiver import Notification
from services.alerts.commands import submit
from services.alerts.links import LinkError, LinkSigner
from services.settings import Settings, admin_token, database_url

TITLE_SEPARATOR = " — "  # pages end "… — <resident's name>"
ACK_LINK = re.compile(r"/a/(\S+)")


def resident_of(title: str, names: dict[str, int]) -> int | None:
    """The resident a page is about: its title ends "… — <name>"."""
    return names.get(title.rpartition(TITLE_SEPARATOR)[2])


def names_of(residents: int) -> dict[str, int]:
    return {resident_name(i): i for i in range(residents)}


class Pages:
    """First page per resident, and who to acknowledge."""

    def __init__(self, residents: int, acker: Acker | None) -> None:
        self.names = names_of(residents)
        self.acker = acker
        self._lock = threading.Lock()
        self.first: dict[int, Notification] = {}

    def arrived(self, n: Notification) -> None:
        index = resident_of(n.title, self.names)
        if index is None:
            return
        with self._lock:
            if index in self.first:
                return
            self.first[index] = n
        if self.acker is not None:
            self.acker.later(n)

    def count(self, indices: set[int]) -> int:
        with self._lock:
            return len(indices & self.first.keys())


class Acker:
    """The caregiver: acknowledges each page `delay_s` after it arrived, with the token of the
    page's link, through the alert service's command queue (as the ack-link endpoint does)."""

    def __init__(self, settings: Settings, delay_s: float) -> None:
        self.url = database_url(settings)
        self.signer = LinkSigner(admin_token(settings), ttl_s=settings.ack_link_ttl_s)
        self.delay_s = delay_s
        self.results: Counter[str] = Counter()
        self._queue: queue.Queue[tuple[float, str]] = queue.Queue()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="acker", daemon=True)
        self._thread.start()

    def later(self, n: Notification) -> None:
        match = ACK_LINK.search(n.body)
        if match is None:
            self.results["no link"] += 1
            return
        self._queue.put((n.at + self.delay_s, match.group(1)))

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=15)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                due, token = self._queue.get(timeout=0.2)
            except queue.Empty:
                continue
            if self._stop.wait(max(0.0, due - time.time())):
                return
            try:
                alert_id, staff_id, _ = self.signer.verify(token)
                result = asyncio.run(
                    submit(
                        self.url,
                        kind="ack",
                        alert_id=alert_id,
                        actor=staff_id,
                        via="bench",
                        timeout_s=5,
                    )
                )
                self.results[str(result.status or "unanswered")] += 1
            except (LinkError, psycopg.Error) as exc:
                self.results[type(exc).__name__] += 1
