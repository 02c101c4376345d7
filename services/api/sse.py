"""Server-Sent Events for the live alert feed: one message's framing, the last message that
says why a stream ended, and a response that ends as soon as its client goes."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import anyio
from fastapi.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from services.api.listener import EndReason

# Why a stream ended, for the reader (its last message, `event: end`).
END_DETAIL: dict[EndReason, str] = {
    "token_expired": "the access token expired: refresh it and reconnect with Last-Event-ID",
    "session_revoked": "the session was ended (logged out or revoked): log in again",
    "too_slow": "the stream fell too far behind: reconnect with Last-Event-ID",
    "shutting_down": "the server is restarting: reconnect with Last-Event-ID",
}


def message(event_id: int | None, data: dict[str, Any], *, kind: str = "alert") -> str:
    lines = []
    if event_id is not None:
        lines.append(f"id: {event_id}")
    lines += [f"event: {kind}", f"data: {json.dumps(data, default=str, ensure_ascii=False)}"]
    return "\n".join(lines) + "\n\n"


def end(reason: EndReason) -> str:
    return message(None, {"reason": reason, "detail": END_DETAIL[reason]}, kind="end")


class FeedResponse(StreamingResponse):
    """A stream that gives back its place (`on_close`) however it ends, and stops as soon as
    the client goes, not at its next heartbeat."""

    def __init__(self, content: AsyncIterator[str], on_close: Callable[[], None]) -> None:
        super().__init__(
            content,
            media_type="text/event-stream",
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )
        self.on_close = on_close

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            async with anyio.create_task_group() as group:

                async def until_disconnect() -> None:
                    while (await receive())["type"] != "http.disconnect":
                        pass
                    group.cancel_scope.cancel()

                group.start_soon(until_disconnect)
                with contextlib.suppress(OSError):  # the client went away mid-write
                    await self.stream_response(send)
                group.cancel_scope.cancel()
        finally:
            self.on_close()
