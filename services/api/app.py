"""The FastAPI application factory: settings in, app out; pools opened in the lifespan."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from prometheus_client import CollectorRegistry

from services.alerts.links import LinkSigner
from services.api.database import UNAVAILABLE, database_unavailable, make_pool
from services.api.routes import (
    ack_link,
    alerts,
    audit,
    auth,
    care_team,
    devices,
    health,
    news2,
    protocol,
    referrals,
    residents,
    users,
    vitals,
    web,
)
from services.auth.throttle import Throttle
from services.auth.tokens import TokenSigner
from services.broker.dynsec import DynsecAccounts
from services.devices.provisioning import BrokerAccounts, DeviceError
from services.settings import Settings, admin_token, database_url, mqtt_admin_endpoint


def create_app(settings: Settings, *, broker: BrokerAccounts | None = None) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        pool = make_pool(app.state.database_url)
        await pool.open(wait=True, timeout=30)
        app.state.pool = pool
        try:
            yield
        finally:
            await pool.close()

    app = FastAPI(title="CareWatch", version="1", lifespan=lifespan)
    app.state.registry = CollectorRegistry()
    app.state.broker = broker or DynsecAccounts(mqtt_admin_endpoint(settings))
    app.state.admin_token = admin_token(settings)
    # The API's own role (migration 0008), never the owner's: see docs/security.md.
    app.state.database_url = database_url(settings, "api")
    app.state.link_signer = LinkSigner(app.state.admin_token, ttl_s=settings.ack_link_ttl_s)
    app.state.tokens = TokenSigner(app.state.admin_token)
    app.state.login_throttle = Throttle(limit=settings.login_attempts_per_minute)
    app.state.mqtt_public = (settings.mqtt_host, settings.mqtt_port)

    @app.exception_handler(DeviceError)
    async def device_error(_request: Request, exc: DeviceError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=exc.status)

    for unavailable in UNAVAILABLE:
        app.add_exception_handler(unavailable, database_unavailable)
    app.include_router(health.router)
    app.include_router(auth.router)
    app.include_router(users.router)
    app.include_router(audit.router)
    app.include_router(devices.router)
    app.include_router(alerts.router)
    app.include_router(care_team.router)
    app.include_router(ack_link.router)
    app.include_router(protocol.router)
    app.include_router(referrals.router)
    app.include_router(vitals.router)
    app.include_router(residents.router)
    app.include_router(news2.router)
    app.include_router(web.router)
    if settings.demo_pager:
        from services.api.routes import demo_pager

        app.include_router(demo_pager.router)
    return app
