"""Liveness and metrics."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from services.api.database import ping

router = APIRouter(tags=["operations"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/readyz",
    responses={503: {"description": "the database or the broker cannot be reached"}},
)
async def readyz(request: Request, response: Response) -> dict[str, str]:
    """Ready to serve: the database answers a query and the broker accepts connections."""
    checks = {"database": await _database(request), "broker": await _broker(request)}
    if any(v != "ok" for v in checks.values()):
        response.status_code = 503
    return {"status": "ok" if response.status_code != 503 else "unavailable", **checks}


async def _database(request: Request) -> str:
    try:
        async with asyncio.timeout(2):
            async with request.app.state.pool.connection() as conn:
                await ping(conn)
    except Exception as exc:  # any failure means not ready; say which kind
        return f"unreachable ({type(exc).__name__})"
    return "ok"


async def _broker(request: Request) -> str:
    host, port = request.app.state.mqtt_public
    try:
        async with asyncio.timeout(2):
            _, writer = await asyncio.open_connection(host, port)
            writer.close()
            await writer.wait_closed()
    except (OSError, TimeoutError) as exc:
        return f"unreachable ({type(exc).__name__})"
    return "ok"


@router.get("/metrics", response_class=Response)
async def metrics(request: Request) -> Response:
    return Response(generate_latest(request.app.state.registry), media_type=CONTENT_TYPE_LATEST)
