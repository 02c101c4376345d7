"""How `carewatch api` serves the app: uvicorn, believing forwarded headers only from the
proxies named in CAREWATCH_TRUSTED_PROXIES (uvicorn's own default trusts loopback, so
anything on the machine, or a proxy that passes the header through, could pick the client
address that the login throttle and the audit log go by)."""

from __future__ import annotations

import uvicorn
from fastapi import FastAPI

from services.settings import Settings


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
    )
