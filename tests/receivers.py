"""Real notification receivers on loopback for the alert tests: an HTTP endpoint taking
apprise `json://` posts and an SMTP server (aiosmtpd) taking `mailto://` mail. Each can be
taken down and brought back on the same port, and waits for messages without polling."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from services.operations.local.system import free_port


@dataclass(frozen=True)
class Received:
    path: str
    title: str
    body: str
    at: float  # time.time() when it arrived


class _Inbox:
    def __init__(self) -> None:
        self._items: list[Any] = []
        self._changed = threading.Condition()

    def add(self, item: Any) -> None:
        with self._changed:
            self._items.append(item)
            self._changed.notify_all()

    @property
    def items(self) -> list[Any]:
        with self._changed:
            return list(self._items)

    def wait(self, count: int, timeout: float, what: str = "messages") -> list[Any]:
        """Until at least `count` items arrived; AssertionError after `timeout` seconds."""
        return self.wait_until(lambda items: len(items) >= count, timeout, f"{count} {what}")

    def wait_until(
        self, done: Callable[[list[Any]], bool], timeout: float, what: str = "messages"
    ) -> list[Any]:
        """Until `done(items)` holds; AssertionError after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while not done(self._items):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(
                        f"timed out after {timeout}s waiting for {what}; got "
                        f"{len(self._items)}: {self._items!r}"
                    )
                self._changed.wait(remaining)
            return list(self._items)


class HttpReceiver(_Inbox):
    """POSTs to any path on 127.0.0.1:`port`; `url(path)` is the apprise URL for it."""

    def __init__(self) -> None:
        super().__init__()
        self.port = free_port()
        self._server: ThreadingHTTPServer | None = None

    def url(self, path: str) -> str:
        return f"json://127.0.0.1:{self.port}/{path}"

    def for_path(self, path: str) -> list[Received]:
        return [r for r in self.items if r.path == f"/{path}"]

    def up(self) -> None:
        inbox = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                payload = json.loads(self.rfile.read(length) or b"{}")
                inbox.add(
                    Received(
                        self.path, payload.get("title", ""), payload.get("message", ""), time.time()
                    )
                )
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass  # quiet test output

        ThreadingHTTPServer.allow_reuse_address = True
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def down(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


@dataclass(frozen=True)
class Mail:
    sender: str
    recipients: tuple[str, ...]
    message: EmailMessage

    @property
    def subject(self) -> str:
        return str(self.message["Subject"])

    @property
    def text(self) -> str:
        part = self.message.get_body(preferencelist=("plain", "html"))
        assert part is not None, self.message
        return str(part.get_content())


class SmtpReceiver(_Inbox):
    def __init__(self) -> None:
        super().__init__()
        self.port = free_port()
        inbox = self

        class Handler:
            async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
                content = envelope.content
                assert isinstance(content, bytes)
                inbox.add(
                    Mail(
                        str(envelope.mail_from),
                        tuple(envelope.rcpt_tos),
                        message_from_bytes(content, policy=policy.default),
                    )
                )
                return "250 OK"

        self._controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)

    def url(self, to: str) -> str:
        return f"mailto://127.0.0.1:{self.port}?from=carewatch@example.org&to={to}"

    def up(self) -> None:
        self._controller.start()

    def down(self) -> None:
        self._controller.stop()
