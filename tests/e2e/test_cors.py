"""CORS stays closed: no Access-Control-Allow-* header, so a page of another origin can neither
read the API's answers nor send it credentialed or non-simple requests from a browser."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

ORIGIN = "https://attacker.example"
PATHS = ["/api/v1/alerts", "/api/v1/auth/token", "/api/v1/residents", "/healthz"]


def cors_headers(headers: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in headers.items() if k.lower().startswith("access-control-")}


@pytest.mark.parametrize("path", PATHS)
def test_a_preflight_from_another_origin_gets_no_allow_headers(api: TestClient, path: str) -> None:
    preflight = api.options(
        path,
        headers={
            "Origin": ORIGIN,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type",
        },
    )
    assert cors_headers(dict(preflight.headers)) == {}
    assert preflight.status_code >= 400  # no handler answers OPTIONS: the browser stops here


@pytest.mark.parametrize("path", PATHS)
def test_a_request_with_another_origin_gets_no_allow_headers(api: TestClient, path: str) -> None:
    answer = api.get(path, headers={"Origin": ORIGIN})
    assert cors_headers(dict(answer.headers)) == {}
    assert "origin" not in answer.headers.get("vary", "").lower()
