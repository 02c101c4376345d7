"""The FastAPI application factory: settings in, app out; pools opened in the lifespan."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from types import ModuleType
from typing import Final

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import JSONResponse, Response
from prometheus_client import CollectorRegistry
from starlette.exceptions import HTTPException

from services.alerts.links import LinkSigner
from services.api.database import UNAVAILABLE, database_unavailable, make_pool
from services.api.limits import BodyLimit
from services.api.listener import Hub
from services.api.routes import (
    ack_link,
    alerts,
    audit,
    auth,
    care_team,
    contracts,
    devices,
    docs,
    handover,
    health,
    home_care,
    indicators,
    isolation,
    news2,
    outbreak_drills,
    outbreaks,
    protocol,
    referral_access,
    referral_returns,
    referrals,
    regions,
    resident_care,
    residents,
    sites,
    staff_checkins,
    symptoms,
    users,
    visits,
    vitals,
    ward,
    web,
)
from services.auth import audit as audit_log
from services.auth.throttle import LoginThrottle
from services.auth.tokens import TokenSigner, live_sessions
from services.devices.provisioning import BrokerAccounts, DeviceError
from services.errors import ConfigError
from services.operations.broker.dynsec import DynsecAccounts
from services.records.crypto import RecordUnavailable, record_cipher
from services.records.digests import fill_missing_digests
from services.settings import Settings, admin_token, database_url, mqtt_admin_endpoint

# In this order: the web pages' catch-alls last.
ROUTERS: Final[tuple[ModuleType, ...]] = (
    health,
    docs,
    auth,
    users,
    audit,
    devices,
    alerts,
    outbreaks,
    outbreak_drills,
    indicators,
    symptoms,
    staff_checkins,
    isolation,
    care_team,
    ack_link,
    protocol,
    referral_access,
    referral_returns,
    referrals,
    vitals,
    residents,
    resident_care,
    home_care,
    contracts,
    visits,
    sites,
    regions,
    news2,
    ward,
    handover,
    web,
)

log = logging.getLogger("carewatch.api")


def create_app(settings: Settings, *, broker: BrokerAccounts | None = None) -> FastAPI:
    if settings.demo_pager and not (settings.local_database and settings.local_broker):
        # It takes posts without a token and shows live acknowledgement links: demo only.
        raise ConfigError(
            "CAREWATCH_DEMO_PAGER is for the local demo (`carewatch up`) only and is refused "
            "with an external database or broker: unset it"
        )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        pool = make_pool(app.state.database_url)
        await pool.open(wait=True, timeout=30)
        app.state.pool = pool
        if app.state.records is not None:
            async with pool.connection() as conn:
                filled = await fill_missing_digests(conn, app.state.records)
            if filled:
                log.info("national ID digests given to %d residents stored before", filled)
        # The live feed's one listener (one connection, whatever the number of streams).
        feed = Hub(
            app.state.database_url,
            alerts.load_events,
            live_sessions,
            per_user=settings.stream_limit_per_user,
            per_process=settings.stream_limit_per_process,
        )
        try:
            await feed.start()
            app.state.feed = feed
            yield
        finally:
            await feed.close()
            await pool.close()

    app = FastAPI(title="CareWatch", version="1", lifespan=lifespan, docs_url=None, redoc_url=None)
    app.state.registry = CollectorRegistry()
    app.state.broker = broker or DynsecAccounts(mqtt_admin_endpoint(settings))
    app.state.admin_token = admin_token(settings)
    # The API's own role (migration 0008), never the owner's: see docs/security.md.
    app.state.database_url = database_url(settings, "api")
    app.state.link_signer = LinkSigner(app.state.admin_token, ttl_s=settings.ack_link_ttl_s)
    app.state.tokens = TokenSigner(app.state.admin_token)
    app.state.login_throttle = LoginThrottle(
        per_account=settings.login_attempts_per_minute,
        per_address=settings.login_attempts_per_address_per_minute,
    )
    app.state.mqtt_public = (settings.mqtt_host, settings.mqtt_port)
    # Residents' identifiers at rest (services/records/crypto.py); None: no key configured.
    app.state.records = record_cipher(settings)

    # Bounded bodies, and no body read for a route whose token is missing (services/api/limits).
    app.add_middleware(BodyLimit)

    @app.exception_handler(HTTPException)
    async def refused(request: Request, exc: HTTPException) -> Response:
        try:
            await audit_log.record_refusal(request, exc.status_code)
        except UNAVAILABLE as lost:  # not audited, so not answered: the caller may retry
            return await database_unavailable(request, lost)
        return await http_exception_handler(request, exc)

    @app.exception_handler(RecordUnavailable)
    async def record_unavailable(_request: Request, exc: RecordUnavailable) -> JSONResponse:
        # No record key, or one that does not decrypt what is stored (services/records).
        return JSONResponse({"detail": str(exc)}, status_code=503)

    @app.exception_handler(DeviceError)
    async def device_error(_request: Request, exc: DeviceError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=exc.status)

    for unavailable in UNAVAILABLE:
        app.add_exception_handler(unavailable, database_unavailable)
    for module in ROUTERS:
        app.include_router(module.router)
    if settings.demo_pager:
        from services.api.routes import demo_pager

        app.include_router(demo_pager.router)
    return app
