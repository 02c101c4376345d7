"""The API's interactive documentation (`/docs`, Swagger UI; `/redoc`) with its scripts and
styles served by this app, not a CDN: the pages work on a ward network without internet.

The assets come from the `fastapi-offline` package (a dependency in pyproject.toml), which
ships Swagger UI 5 and ReDoc; only the files named in ASSETS are ever served."""

from __future__ import annotations

from functools import cache
from importlib.resources import files
from pathlib import Path

from fastapi import APIRouter, HTTPException, Request, status
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.responses import FileResponse, HTMLResponse

router = APIRouter(tags=["documentation"], include_in_schema=False)

DOCS_URL = "/docs"
ASSETS_URL = "/docs/assets"
OAUTH2_REDIRECT_URL = "/docs/oauth2-redirect"
ASSETS = {
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "swagger-ui.css": "text/css; charset=utf-8",
    "redoc.standalone.js": "text/javascript; charset=utf-8",
    "favicon.png": "image/png",
}


@cache
def _asset_dir() -> Path:
    return Path(str(files("fastapi_offline").joinpath("static")))


def _openapi_url(request: Request) -> str:
    root: str = request.scope.get("root_path", "")
    return root + (request.app.openapi_url or "/openapi.json")


@router.get(DOCS_URL)
async def swagger_ui(request: Request) -> HTMLResponse:
    root: str = request.scope.get("root_path", "")
    return get_swagger_ui_html(
        openapi_url=_openapi_url(request),
        title=f"{request.app.title} API",
        swagger_js_url=f"{root}{ASSETS_URL}/swagger-ui-bundle.js",
        swagger_css_url=f"{root}{ASSETS_URL}/swagger-ui.css",
        swagger_favicon_url=f"{root}{ASSETS_URL}/favicon.png",
        oauth2_redirect_url=f"{root}{OAUTH2_REDIRECT_URL}",
    )


@router.get(OAUTH2_REDIRECT_URL)
async def swagger_ui_redirect() -> HTMLResponse:
    return get_swagger_ui_oauth2_redirect_html()


@router.get("/redoc")
async def redoc(request: Request) -> HTMLResponse:
    root: str = request.scope.get("root_path", "")
    return get_redoc_html(
        openapi_url=_openapi_url(request),
        title=f"{request.app.title} API",
        redoc_js_url=f"{root}{ASSETS_URL}/redoc.standalone.js",
        redoc_favicon_url=f"{root}{ASSETS_URL}/favicon.png",
        with_google_fonts=False,  # fonts from Google are another origin; the system's do
    )


@router.get(ASSETS_URL + "/{name}")
async def asset(name: str) -> FileResponse:
    media_type = ASSETS.get(name)
    if media_type is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such file")
    # The package's files change only with its version: a day's caching is safe.
    headers = {"Cache-Control": "public, max-age=86400", "X-Content-Type-Options": "nosniff"}
    return FileResponse(_asset_dir() / name, media_type=media_type, headers=headers)
