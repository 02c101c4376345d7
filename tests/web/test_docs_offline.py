"""`/docs` with no internet: every request to another origin is refused, and Swagger UI still
draws the API's operations (its scripts and styles come from this server)."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import Route

from tests.web.conftest import screenshot


def test_the_api_docs_render_without_internet(open_page: Any, live_url: str) -> None:
    page = open_page(width=1280, height=900)
    elsewhere: list[str] = []

    def offline(route: Route) -> None:
        if route.request.url.startswith(live_url):
            route.continue_()
        else:
            elsewhere.append(route.request.url)
            route.abort("internetdisconnected")

    page.route("**/*", offline)
    page.goto("/docs")
    page.locator(".swagger-ui .info .title").filter(has_text="CareWatch").wait_for()
    page.locator(".opblock-summary-path", has_text="/api/v1/auth/token").first.wait_for()
    screenshot(page, "docs-offline")
    assert elsewhere == []
