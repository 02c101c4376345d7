"""The running demo simulator's control channel: a Unix socket in the data dir.

`carewatch demo event KIND` connects, sends one JSON line `{"kind": ..., "resident": ...}` and
reads one JSON line back (`{"ok": true, ...}` or `{"ok": false, "error": ...}`). A Unix socket
is a file: only local processes that may open it (mode 0600, the data dir's owner) reach it,
never a device, which only ever talks MQTT to the broker. Accepted requests wait in a queue
that the run loop drains between ticks (`drain`), so the simulation itself stays one thread.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import queue
import socket
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Final

from device_sim.demo_events import DemoEventError, script_for

log = logging.getLogger("carewatch.sim.control")

CONTROL_SOCKET: Final = "demo-control.sock"
MAX_REQUEST: Final = 4096
IO_TIMEOUT_S: Final = 5.0


def resident_key(given: str | None, known: Sequence[str]) -> str:
    """The ward's key for `given` ("7" or "r7"; None: the first of `known`)."""
    if given is None:
        if not known:
            raise DemoEventError("the ward has no residents")
        return known[0]
    key = given if given in known else f"r{given}"
    if key not in known:
        ids = ", ".join(k.removeprefix("r") for k in known)
        raise DemoEventError(f"no demo resident {given!r}: the running demo has {ids}")
    return key


class ControlServer:
    """Accepts demo event requests on `path` until `close()`; `drain(inject)` plays them."""

    def __init__(
        self, path: Path, residents: dict[str, list[str]], *, refuse: str | None = None
    ) -> None:
        self.path = path
        self.residents = residents  # resident key -> its device ids
        self.refuse = refuse  # why every request is refused (a scenario run), or None
        self._inbox: queue.SimpleQueue[tuple[str, str]] = queue.SimpleQueue()
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        if path.is_socket():
            path.unlink()  # left by a simulator that died: nothing listens on it any more
        old = os.umask(0o177)  # born 0600: no window in which others may connect
        try:
            self._sock.bind(str(path))
        finally:
            os.umask(old)
        self._sock.listen(8)
        self._sock.settimeout(0.5)
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="sim-control", daemon=True)
        self._thread.start()
        log.info("demo events accepted on %s", path)

    def drain(self, inject: Callable[[str, str], None]) -> None:
        while True:
            try:
                kind, key = self._inbox.get_nowait()
            except queue.Empty:
                return
            try:
                inject(kind, key)
            except DemoEventError as exc:
                log.warning("demo event %s for %s not played: %s", kind, key, exc)
            else:
                log.info("demo event %s playing on resident %s", kind, key)

    def close(self) -> None:
        self._closed.set()
        self._thread.join(timeout=2 * IO_TIMEOUT_S)
        self._sock.close()
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()

    def _serve(self) -> None:
        while not self._closed.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with conn:
                conn.settimeout(IO_TIMEOUT_S)
                try:
                    line = _read_line(conn)
                    if not line:
                        continue  # a liveness probe (`in_use`): nothing asked, nothing to say
                    reply = self.handle(line)
                    conn.sendall(json.dumps(reply).encode() + b"\n")
                except OSError as exc:
                    log.warning("demo control connection: %s", exc)

    def handle(self, line: bytes) -> dict[str, Any]:
        """One request to its reply; a valid one is queued for the run loop."""
        try:
            request = json.loads(line)
            if not isinstance(request, dict):
                raise DemoEventError("a request is a JSON object")
            kind = request.get("kind")
            given = request.get("resident")
            if not isinstance(kind, str) or not (given is None or isinstance(given, str)):
                raise DemoEventError('a request is {"kind": str, "resident": str or null}')
            script = script_for(kind)
            if self.refuse is not None:
                raise DemoEventError(self.refuse)
            key = resident_key(given, list(self.residents))
        except (DemoEventError, ValueError) as exc:
            return {"ok": False, "error": str(exc)}
        self._inbox.put((kind, key))
        return {
            "ok": True,
            "kind": kind,
            "resident": key,
            "devices": self.residents[key],
            "expect": script.expect,
        }


def _read_line(conn: socket.socket) -> bytes:
    data = b""
    while b"\n" not in data and len(data) < MAX_REQUEST:
        chunk = conn.recv(MAX_REQUEST)
        if not chunk:
            break
        data += chunk
    return data.split(b"\n", 1)[0]


def in_use(path: Path) -> bool:
    """Whether a simulator listens on `path` (a socket file alone may be left by a crash)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(IO_TIMEOUT_S)
        try:
            sock.connect(str(path))
        except OSError:
            return False
    return True


class ControlUnavailable(Exception):
    """No demo simulator listens on the data dir's control socket."""


def send_event(path: Path, kind: str, resident: str | None) -> dict[str, Any]:
    """Ask the simulator listening on `path` to play an event; its reply."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(IO_TIMEOUT_S)
        try:
            sock.connect(str(path))
        except (FileNotFoundError, ConnectionRefusedError) as exc:
            raise ControlUnavailable(str(path)) from exc
        sock.sendall(json.dumps({"kind": kind, "resident": resident}).encode() + b"\n")
        reply: dict[str, Any] = json.loads(_read_line(sock) or b"{}")
    return reply
