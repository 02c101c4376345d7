"""Every API route is guarded, read from the app's route table: without a token it answers
401, it names the permission it needs (a `require(...)` among its dependencies), and a role
without that permission gets 403. A new route with no check fails here until it has one or
is put on the public list below, with the reason."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pytest
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient
from pydantic import SecretStr

from services.api.app import create_app
from services.api.deps import Requirement, current_principal
from services.auth.principal import PERMISSIONS, ROLES, Principal, Role
from services.auth.tokens import TokenSigner
from services.settings import Settings, admin_token

pytestmark = pytest.mark.services

API = "/api/v1/"
# Routes that take no bearer token, and why.
PUBLIC = {
    ("POST", "/api/v1/auth/token"): "the login: username and password are the credentials",
    ("POST", "/api/v1/auth/refresh"): "the refresh token is the credential",
    ("POST", "/api/v1/auth/logout"): "revokes the refresh token it is given, nothing else",
    ("GET", "/api/v1/protocol/schemas"): "the device protocol's documentation",
    ("GET", "/api/v1/protocol/schemas/{stream}"): "the device protocol's documentation",
}
# Routes for anyone logged in, whatever their role, and why.
ANY_USER = {
    ("GET", "/api/v1/auth/me"): "who am I",
}


@dataclass(frozen=True, slots=True)
class Route:
    method: str
    path: str
    dependant: Dependant = field(repr=False)

    @property
    def calls(self) -> list[object]:
        """Every dependency of the route (its router's included), depth first."""
        found: list[object] = []
        pending = list(self.dependant.dependencies)
        while pending:
            sub = pending.pop(0)
            found.append(sub.call)
            pending[:0] = sub.dependencies
        return found

    @property
    def permissions(self) -> frozenset[str]:
        return frozenset(c.permission for c in self.calls if isinstance(c, Requirement))

    @property
    def url(self) -> str:
        # "1" is a valid value of every path parameter (ids, streams, device ids).
        return re.sub(r"\{[^}]+\}", "1", self.path)

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


def route_table() -> list[Route]:
    """Every /api/v1 route of the app as `create_app` builds it (routers' prefixes and
    dependencies included). Nothing is connected to (no lifespan): this runs at collection."""
    offline = Settings(
        database_url=SecretStr("postgresql://unused@127.0.0.1:9/unused"),
        mqtt_admin_url=SecretStr("mqtt://unused:unused@127.0.0.1:9"),
        admin_token=SecretStr("collection-only-token-0123456789abcdef"),
        demo_pager=True,  # the optional routers too
    )
    app = create_app(offline)
    routes = []
    for ctx in iter_route_contexts(app.routes):
        path = ctx.path or ""
        if isinstance(ctx.original_route, APIRoute) and path.startswith(API):
            routes += [Route(method, path, ctx.dependant) for method in ctx.methods or ()]
    return sorted(routes, key=lambda route: (route.path, route.method))


ROUTES = route_table()
GUARDED = [r for r in ROUTES if (r.method, r.path) not in PUBLIC]


def test_the_lists_name_routes_that_exist() -> None:
    table = {(r.method, r.path) for r in ROUTES}
    assert set(PUBLIC) <= table, set(PUBLIC) - table
    assert set(ANY_USER) <= table, set(ANY_USER) - table
    assert len(GUARDED) > 30, "the route table looks empty"


@pytest.mark.parametrize("route", GUARDED, ids=str)
def test_a_route_names_the_permission_it_needs(route: Route) -> None:
    if (route.method, route.path) in ANY_USER:
        assert current_principal in route.calls
    else:
        assert route.permissions, "no require(...) among its dependencies"


@pytest.mark.parametrize("route", GUARDED, ids=str)
def test_without_a_token_a_route_answers_401(api: TestClient, route: Route) -> None:
    answer = api.request(route.method, route.url, headers={"Authorization": ""})
    assert answer.status_code == 401, answer.text
    assert answer.headers["www-authenticate"] == "Bearer"


# Each role that lacks a permission a route needs, with that route.
REFUSED = [(role, r) for r in GUARDED for role in ROLES if not r.permissions <= PERMISSIONS[role]]


@pytest.fixture(scope="module")
def signer(settings: Settings) -> TokenSigner:
    return TokenSigner(admin_token(settings))


@pytest.mark.parametrize(("role", "route"), REFUSED, ids=[f"{o} {r}" for o, r in REFUSED])
def test_a_role_without_the_permission_gets_403(
    api: TestClient, signer: TokenSigner, role: Role, route: Route
) -> None:
    # No place limit: the permission is what refuses.
    token = signer.issue(Principal(f"perm-{role}", role), now=datetime.now(UTC))
    answer = api.request(route.method, route.url, headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 403, answer.text
    missing = route.permissions - PERMISSIONS[role]
    assert any(p in answer.json()["detail"] for p in missing), answer.text
