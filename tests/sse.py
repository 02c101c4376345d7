"""A reader of the API's live feed (Server-Sent Events) for tests against a real server."""

from __future__ import annotations

import json
import threading
from typing import Any

import httpx2 as httpx


class Stream:
    """One SSE stream of a live server, read in a thread: its events (type, id, data) and
    whether the server ended it."""

    def __init__(self, url: str, headers: dict[str, str]) -> None:
        self.events: list[dict[str, Any]] = []
        self.status: int | None = None
        self.changed = threading.Condition()
        self.connected = threading.Event()
        self.closed = threading.Event()  # the server ended the response
        self._client = httpx.Client(timeout=httpx.Timeout(30, read=60))
        self._thread = threading.Thread(target=self._read, args=(url, headers), daemon=True)
        self._thread.start()

    def _read(self, url: str, headers: dict[str, str]) -> None:
        try:
            with self._client.stream("GET", url, headers=headers) as response:
                self.status = response.status_code
                event: dict[str, Any] = {"type": "message"}
                for line in response.iter_lines():
                    if line == ": connected":
                        self.connected.set()
                    elif line.startswith("event: "):
                        event["type"] = line[7:]
                    elif line.startswith("id: "):
                        event["id"] = int(line[4:])
                    elif line.startswith("data: "):
                        event["data"] = json.loads(line[6:])
                    elif not line and "data" in event:
                        with self.changed:
                            self.events.append(event)
                            self.changed.notify_all()
                        event = {"type": "message"}
            self.closed.set()
        except httpx.HTTPError:
            pass  # closed by the test
        finally:
            self.connected.set()  # also answers a refused stream's waiter
            with self.changed:
                self.changed.notify_all()

    def wait(self, predicate: Any, timeout: float = 20) -> list[dict[str, Any]]:
        with self.changed:
            assert self.changed.wait_for(lambda: predicate(self.events), timeout), self.events
            return list(self.events)

    def ended(self, timeout: float) -> dict[str, Any]:
        """The `end` event the server closed the stream with."""
        assert self.closed.wait(timeout), f"the stream was not ended within {timeout} s"
        ends = [e for e in self.events if e["type"] == "end"]
        assert ends, f"closed without an end event: {self.events}"
        data = ends[-1]["data"]
        assert isinstance(data, dict), data
        return data

    def close(self) -> None:
        self._client.close()
        self._thread.join(timeout=10)
