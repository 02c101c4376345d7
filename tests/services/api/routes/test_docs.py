"""`/docs` and `/redoc` work without internet: every script, style and icon they load is a
URL of this app, and each is served. Nothing is connected to (no lifespan)."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from services.api.app import create_app
from services.settings import Settings

# An attribute (src, href, ReDoc's spec-url) or Swagger UI's `url: '...'` setting.
REFERENCE = re.compile(
    r"""(?:src|href|spec-url)\s*=\s*["']([^"']+)["']|\burl\s*:\s*['"]([^'"]+)['"]"""
)


@pytest.fixture(scope="module")
def api() -> TestClient:
    offline = Settings(
        database_url=SecretStr("postgresql://unused@127.0.0.1:9/unused"),
        mqtt_admin_url=SecretStr("mqtt://unused:unused@127.0.0.1:9"),
        admin_token=SecretStr("docs-test-token-0123456789abcdef0123"),
    )
    return TestClient(create_app(offline))


def references(html: str) -> list[str]:
    found = [a or b for a, b in REFERENCE.findall(html)]
    assert found, "the page loads nothing: the pattern no longer matches it"
    return found


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_the_docs_pages_load_only_local_assets_and_they_are_served(
    api: TestClient, page: str
) -> None:
    html = api.get(page)
    assert html.status_code == 200
    urls = references(html.text)
    assert [u for u in urls if not u.startswith("/") or u.startswith("//")] == []
    assert "://" not in html.text.replace("http://testserver", "")  # no other origin at all
    for url in urls:
        served = api.get(url)
        assert served.status_code == 200, url
        assert served.content, url
    assert any(u.endswith(".js") for u in urls)


def test_only_the_named_assets_are_served(api: TestClient) -> None:
    assert api.get("/docs/assets/core.py").status_code == 404
    assert api.get("/docs/assets/..%2Fcore.py").status_code == 404
