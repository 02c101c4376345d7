"""How `carewatch api` serves the app: uvicorn, believing forwarded headers only from the
proxies named in CAREWATCH_TRUSTED_PROXIES (uvicorn's own default trusts loopback, so
anything on the machine, or a proxy that passes the header through, could pick the client
address that the login throttle and the audit log go by); and stopping within seconds with
live feeds open."""

from __future__ import annotations

import socket

import uvicorn
from fastapi import FastAPI

from services.api.listener import Hub
from services.settings import Settings

# Seconds uvicorn waits for open responses when stopping before it cancels them: a bound for
# a client that does not read its last bytes (the live feeds end at once, ApiServer).
GRACEFUL_SHUTDOWN_S = 5


def server_config(app: FastAPI, settings: Settings, *, log_level: str = "info") -> uvicorn.Config:
    proxies = settings.trusted_proxy_list
    return uvicorn.Config(
        app,
        host=settings.api_host,
        port=settings.api_port,
        log_level=log_level,
        proxy_headers=bool(proxies),
        # Never None: uvicorn would read FORWARDED_ALLOW_IPS or trust loopback.
        forwarded_allow_ips=proxies,
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S,
    )


class ApiServer(uvicorn.Server):
    """uvicorn's server, ending the app's live feeds as soon as it is told to stop. uvicorn
    waits for open responses before it runs the app's lifespan shutdown (where the feed would
    end them), and a feed never ends by itself: with boards open, stopping used to wait for
    `carewatch up`'s 20 s limit and a kill."""

    def __init__(self, config: uvicorn.Config, app: FastAPI) -> None:
        super().__init__(config)
        self.app = app

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        feed: Hub | None = getattr(self.app.state, "feed", None)
        if feed is not None:
            feed.end_streams()
        await super().shutdown(sockets=sockets)
