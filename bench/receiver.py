"""A loopback HTTP endpoint for apprise `json://` notifications: it keeps each one's title, body
and arrival time, the end point of the latency bench/alert_latency.py measures."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from services.operations.local.system import free_port


@dataclass(frozen=True, slots=True)
class Notification:
    path: str
    title: str
    body: str
    at: float  # time.time() once the whole request had been read


class JsonReceiver:
    """`url(path)` is the apprise URL; `on_arrival` runs in the server's request thread."""

    def __init__(self, on_arrival: Callable[[Notification], None] | None = None) -> None:
        self.port = free_port()
        self._on_arrival = on_arrival
        self._lock = threading.Lock()
        self._received: list[Notification] = []
        self._server: ThreadingHTTPServer | None = None

    def url(self, path: str) -> str:
        return f"json://127.0.0.1:{self.port}/{path}"

    @property
    def received(self) -> list[Notification]:
        with self._lock:
            return list(self._received)

    def count(self) -> int:
        with self._lock:
            return len(self._received)

    def start(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                at = time.time()
                try:
                    payload = json.loads(raw or b"{}")
                except ValueError:
                    payload = {}
                title, body = str(payload.get("title", "")), str(payload.get("message", ""))
                receiver._add(Notification(self.path, title, body, at))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass  # one line per page would bury the progress bar

        server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        server.daemon_threads = True
        self._server = server
        threading.Thread(target=server.serve_forever, name="receiver", daemon=True).start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def _add(self, notification: Notification) -> None:
        with self._lock:
            self._received.append(notification)
        if self._on_arrival is not None:
            self._on_arrival(notification)
