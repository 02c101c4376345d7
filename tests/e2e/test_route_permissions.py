"""Every API route is guarded, read from the app's route table: without a token it answers
401, it names the permission it needs (a `require(...)` among its dependencies), and a role
without that permission gets 403. A new route with no check fails here until it has one or
is put on the public list below, with the reason."""

from __future__ import annotations

import http.client
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from functools import partial
from urllib.parse import urlsplit

import psycopg
import pytest
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient
from psycopg.types.json import Jsonb
from pydantic import SecretStr

from services.api.app import create_app
from services.api.deps import Requirement, current_principal
from services.auth.principal import PERMISSIONS, ROLES, Principal, Role
from services.auth.tokens import TokenSigner
from services.settings import Settings, admin_token
from tests.e2e.conftest import serve

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


# --- every role x scope against every route, on residents of three places -------------------
#
# Three residents, each with an alert and a referral: `home` (site pa, unit pa1), `unit2` (pa,
# pa2) and `away` (pb, pb1). Referrals of home and unit2 are sent to hospital pm-h, away's to
# pm-h2. What each caller may see is written out here from docs/api.md, not computed by the
# code under test: no site is every site only for an admin; a partner hospital's account sees
# the referrals sent to its hospital and nothing else. Family doctor pm-fd has contracts with
# home and away (its caseload, two sites); home's family consent is given, unit2's is not.

PLACES = {"home": ("pa", "pa1"), "unit2": ("pa", "pa2"), "away": ("pb", "pb1")}
HOSPITAL_OF = {"home": "pm-h", "unit2": "pm-h", "away": "pm-h2"}
EVERYWHERE = frozenset(PLACES)


@dataclass(frozen=True, slots=True)
class Caller:
    name: str
    principal: Principal
    residents: frozenset[str]  # the targets whose resident, alerts and place it may see
    referrals: frozenset[str]  # the targets whose referral it may see
    # The targets it reaches only through routes about one resident (`{resident_id}`): a
    # family doctor's caseload, a family login's resident.
    caseload: frozenset[str] = frozenset()
    sites: frozenset[str] = frozenset()  # the sites whose site-wide figures it may see

    def __str__(self) -> str:
        return self.name


def _staff(role: Role) -> list[Caller]:
    return [
        Caller(
            f"{role}+site",
            Principal(f"pm-{role}-s", role, "pa"),
            frozenset({"home", "unit2"}),
            frozenset({"home", "unit2"}),
            sites=frozenset({"pa"}),
        ),
        Caller(
            f"{role}+site+unit",
            Principal(f"pm-{role}-u", role, "pa", frozenset({"pa1"})),
            *[frozenset({"home"})] * 2,
        ),
        Caller(f"{role} no site", Principal(f"pm-{role}-n", role), frozenset(), frozenset()),
    ]


CALLERS = [
    Caller(
        "admin",
        Principal("pm-admin", "admin"),
        EVERYWHERE,
        EVERYWHERE,
        sites=frozenset({"pa", "pb"}),
    ),
    *_staff("physician"),
    *_staff("nurse"),
    *_staff("caregiver"),
    Caller(
        "hospital physician",
        Principal("pm-hosp", "physician", hospital_id="pm-h"),
        frozenset(),
        frozenset({"home", "unit2"}),
    ),
    Caller("integrator", Principal("pm-int", "integrator"), frozenset(), frozenset()),
    Caller(
        "family doctor",
        Principal("pm-fd", "family_doctor"),
        frozenset(),
        frozenset(),
        caseload=frozenset({"home", "away"}),
    ),
    # Bound to a target's resident at run time (FAMILY_OF: the fixture makes the ids).
    Caller(
        "family of home",
        Principal("pm-fam", "family"),
        frozenset(),
        frozenset(),
        caseload=frozenset({"home"}),
    ),
    Caller("family of unit2 (no consent)", Principal("pm-fam2", "family"), *[frozenset()] * 2),
    # Regions are not the probes' sites' (pa, pb are in none): nothing to see.
    Caller(
        "regulator",
        Principal("pm-reg", "regulator", region_id="pm-region"),
        frozenset(),
        frozenset(),
    ),
]
FAMILY_OF = {"pm-fam": "home", "pm-fam2": "unit2"}


@dataclass(frozen=True, slots=True)
class Probe:
    """How a route is asked about one target. `scope`: what decides, beyond the permission:
    "resident" (the target's resident, alert or place), "referral" (the target's referral),
    "list" (a list, which must hold exactly what the caller may see), "site" (the target's whole
    site: every resident of it in the caller's scope), None (no place)."""

    scope: str | None = None  # also "site": the target's site-wide figures
    body: dict[str, object] | None = None
    query: dict[str, str | int] = field(default_factory=dict)
    lists: tuple[str, ...] = ("items",)  # "list": the keys whose items name a resident_id


# Every guarded route, and how to probe it: a new route fails `test_every_route_is_probed`.
PROBES: dict[tuple[str, str], Probe] = {
    ("GET", "/api/v1/auth/me"): Probe(),
    ("GET", "/api/v1/users"): Probe(),
    ("POST", "/api/v1/users"): Probe(),
    ("GET", "/api/v1/audit"): Probe(),
    ("GET", "/api/v1/devices"): Probe(),
    ("POST", "/api/v1/devices"): Probe(),
    ("GET", "/api/v1/devices/{device_id}"): Probe(),
    ("PUT", "/api/v1/devices/{device_id}/resident"): Probe(),
    ("POST", "/api/v1/devices/{device_id}/retire"): Probe(),
    ("GET", "/api/v1/devices/{device_id}/dead-letters"): Probe(),
    ("GET", "/api/v1/care-team"): Probe(),
    ("PUT", "/api/v1/care-team"): Probe(),
    ("GET", "/api/v1/care-team/on-duty"): Probe("resident"),
    ("GET", "/api/v1/care-team/board"): Probe("resident"),
    ("GET", "/api/v1/alerts"): Probe("list", query={"limit": 500}),
    ("GET", "/api/v1/alerts/precision"): Probe(),
    ("GET", "/api/v1/alerts/stream"): Probe("stream"),
    ("GET", "/api/v1/alerts/{alert_id}"): Probe("resident"),
    ("POST", "/api/v1/alerts/{alert_id}/ack"): Probe("resident"),
    ("POST", "/api/v1/alerts/{alert_id}/resolve"): Probe("resident", {"outcome": "false_alarm"}),
    ("GET", "/api/v1/residents"): Probe("list", query={"limit": 500}),
    ("GET", "/api/v1/news2"): Probe("list", query={"limit": 500}),
    ("GET", "/api/v1/ward"): Probe("list", query={"limit": 500}),
    # A window around the probes' alerts and referral steps (made at now()).
    ("GET", "/api/v1/handover"): Probe(
        "list",
        query={
            "from": (datetime.now(UTC) - timedelta(days=1)).isoformat(),
            "to": (datetime.now(UTC) + timedelta(days=1)).isoformat(),
        },
        lists=("alerts", "referrals", "observations"),
    ),
    ("POST", "/api/v1/residents"): Probe("resident", {"display_name": "Probe Admission"}),
    ("GET", "/api/v1/residents/{resident_id}"): Probe("resident"),
    ("PATCH", "/api/v1/residents/{resident_id}"): Probe("resident", {"room": "9"}),
    ("GET", "/api/v1/residents/{resident_id}/latest"): Probe("resident"),
    ("GET", "/api/v1/residents/{resident_id}/news2"): Probe("resident"),
    ("GET", "/api/v1/residents/{resident_id}/vitals"): Probe("resident", query={"metric": "hr"}),
    ("POST", "/api/v1/residents/{resident_id}/observations"): Probe("resident", {"temp": 37.0}),
    ("GET", "/api/v1/residents/{resident_id}/goals-of-care"): Probe("resident"),
    ("PUT", "/api/v1/residents/{resident_id}/goals-of-care"): Probe(
        "resident", {"comfort_care": False, "reason": "probe"}
    ),
    # Already admitted (409): the probe changes nothing.
    ("POST", "/api/v1/residents/{resident_id}/status"): Probe("resident", {"status": "admitted"}),
    ("GET", "/api/v1/residents/{resident_id}/consents"): Probe("resident"),
    ("PUT", "/api/v1/residents/{resident_id}/consents"): Probe(
        "resident", {"consents": {"monitoring": True}}
    ),
    ("GET", "/api/v1/referrals"): Probe("list", query={"limit": 500}),
    ("POST", "/api/v1/referrals"): Probe("resident", {"reason": "probe"}),
    ("GET", "/api/v1/referrals/hospitals"): Probe(),
    ("GET", "/api/v1/referrals/{referral_id}"): Probe("referral"),
    # From `requested` no one may go to `admitted` (409): the probe changes nothing.
    ("POST", "/api/v1/referrals/{referral_id}/transition"): Probe("referral", {"to": "admitted"}),
    ("GET", "/api/v1/referrals/{referral_id}/fhir"): Probe("referral"),
    # The receiving hospital's physician reads the resident while the referral is open.
    ("GET", "/api/v1/referrals/{referral_id}/vitals"): Probe("referral", query={"metric": "hr"}),
    ("GET", "/api/v1/referrals/{referral_id}/alerts"): Probe("referral"),
    # Returns: a partner hospital's only, for a resident of a site it partners (none here: 422
    # for the probes' hospital, whose care team entry does not exist; 403 for the care side).
    ("POST", "/api/v1/referrals/returns"): Probe(
        body={
            "resident_id": 2_000_000_000,
            "discharge": {"diagnoses": [{"code": "I10", "display": "x"}], "follow_up": "x"},
        }
    ),
    ("POST", "/api/v1/referrals/returns/fhir"): Probe(body={"resourceType": "Bundle"}),
    # Scoped like the board (tests/e2e/test_referrals_returns.py lists only its own site's).
    ("GET", "/api/v1/watch-periods"): Probe(),
    ("POST", "/api/v1/residents/{resident_id}/symptoms"): Probe("resident", {"symptoms": ["rash"]}),
    # Case files (none here: "1" is a 404 for whoever may ask at all).
    ("GET", "/api/v1/outbreaks"): Probe(),
    ("GET", "/api/v1/outbreaks/{outbreak_id}"): Probe(),
    ("GET", "/api/v1/outbreaks/{outbreak_id}/line-list"): Probe(query={"format": "csv"}),
    ("POST", "/api/v1/outbreaks/{outbreak_id}/report"): Probe(body={"reported_to": "CDC"}),
    ("POST", "/api/v1/outbreaks/{outbreak_id}/rule-out"): Probe(body={"reason": "probe"}),
    ("POST", "/api/v1/staff-checkins"): Probe(body={"temperature": 36.5}),
    ("GET", "/api/v1/staff-checkins"): Probe(),
    # A unit that does not exist: allowed callers get 404, and no probe opens a drill.
    ("POST", "/api/v1/outbreaks/drills"): Probe(body={"unit_id": "no-such-unit"}),
    ("GET", "/api/v1/isolation-flags"): Probe(),
    ("POST", "/api/v1/isolation-flags"): Probe(
        body={"kind": "cohort", "reason": "probe", "unit_id": "no-such-unit"}
    ),
    ("POST", "/api/v1/isolation-flags/{flag_id}/clear"): Probe(),
    ("GET", "/api/v1/residents/{resident_id}/summary"): Probe("resident"),
    ("GET", "/api/v1/residents/{resident_id}/home-care"): Probe("resident"),
    ("PUT", "/api/v1/residents/{resident_id}/home-care"): Probe("resident", {}),
    # No doctor "pm-nobody" (422): the probe makes no contract.
    ("POST", "/api/v1/family-doctor-contracts"): Probe(
        "resident",
        {
            "team": "probe",
            "doctor": "pm-nobody",
            "start_on": "2026-01-01",
            "end_on": "2026-12-31",
            "service_package": "probe",
        },
    ),
    ("GET", "/api/v1/family-doctor-contracts"): Probe(),
    ("GET", "/api/v1/family-doctor-contracts/{contract_id}"): Probe(),
    ("PATCH", "/api/v1/family-doctor-contracts/{contract_id}"): Probe(body={"team": "x"}),
    ("DELETE", "/api/v1/family-doctor-contracts/{contract_id}"): Probe(),
    ("GET", "/api/v1/caseload"): Probe(query={"doctor": "pm-fd"}),
    ("GET", "/api/v1/sites/{site_id}/contract-coverage"): Probe("site"),
    # The kind the probe sites already have: nothing changes.
    ("PUT", "/api/v1/sites/{site_id}/kind"): Probe("site", {"kind": "institution"}),
    # The probe sites are in no region already: nothing changes.
    ("PUT", "/api/v1/sites/{site_id}/region"): Probe("site", {"region_id": None}),
    # The regulator's region: made once (201), then there already (409).
    ("POST", "/api/v1/regions"): Probe(body={"region_id": "pm-region", "name": "probe"}),
    # No region NOTHING (404): nothing changes.
    ("PUT", "/api/v1/regions/{region_id}/lead-hospital"): Probe(body={"hospital_id": None}),
    ("GET", "/api/v1/residents/{resident_id}/visit-schedules"): Probe("resident"),
    # Due in a year: never overdue, never reminded.
    ("POST", "/api/v1/residents/{resident_id}/visit-schedules"): Probe(
        "resident",
        {
            "kind": "vitals_round",
            "label": "probe",
            "interval_hours": 12,
            "starts_at": (datetime.now(UTC) + timedelta(days=365)).isoformat(),
        },
    ),
    # No schedule NOTHING (404), asked before the resident's scope.
    ("PUT", "/api/v1/residents/{resident_id}/visit-schedules/{schedule_id}/active"): Probe(
        body={"active": False}
    ),
    ("POST", "/api/v1/residents/{resident_id}/visit-schedules/{schedule_id}/visits"): Probe(
        body={}
    ),
    ("GET", "/api/v1/visits/overdue"): Probe(),
    # The target's site: its figures are for callers who see the whole site.
    ("GET", "/api/v1/indicators"): Probe("site", query={"from": "2026-01-01", "to": "2026-01-31"}),
    ("GET", "/api/v1/indicators/outbreaks"): Probe(
        "site", query={"from": "2026-01-01", "to": "2026-01-31"}
    ),
}


def test_every_route_is_probed() -> None:
    assert {(r.method, r.path) for r in GUARDED} == set(PROBES)


@dataclass(frozen=True, slots=True)
class Target:
    name: str
    resident_id: int
    alert_id: int
    referral_id: int


@pytest.fixture(scope="module")
def targets(db_url: str, api: TestClient) -> Iterator[dict[str, Target]]:
    made: dict[str, Target] = {}
    with psycopg.connect(db_url, autocommit=True) as db:
        for site in ("pa", "pb"):
            db.execute("INSERT INTO sites VALUES (%s, 'Probe site') ON CONFLICT DO NOTHING", [site])
        for site, unit in PLACES.values():
            db.execute(
                "INSERT INTO units VALUES (%s, %s, 'Probe unit') ON CONFLICT DO NOTHING",
                [site, unit],
            )
        for n, (name, (site, unit)) in enumerate(PLACES.items()):
            row = db.execute(
                "INSERT INTO residents (site_id, unit_id, display_name) VALUES (%s, %s, %s)"
                " RETURNING resident_id",
                [site, unit, f"Probe {name}"],
            ).fetchone()
            assert row is not None
            rid, aid = int(row[0]), 920_001 + n
            patient = {"name": f"Probe {name}", "sex": "unknown", "site_id": site, "unit_id": unit}
            db.execute(
                "INSERT INTO incidents (incident_id, subject, site_id, unit_id, resident_id,"
                " state, severity, title, opened_at, updated_at) VALUES"
                " (%s, %s, %s, %s, %s, 'open', 'high', 'probe', now(), now())",
                [aid, f"resident:{rid}", site, unit, rid],
            )
            db.execute(
                "INSERT INTO alerts (alert_id, incident_id, rule_id, dedupe_key, subject,"
                " resident_id, title, severity, opened_at, first_ts, last_ts, count, updated_at)"
                " VALUES (%s, %s, 'sos', %s, 's', %s, 'SOS', 'high', now(), now(), now(), 1,"
                " now())",
                [aid, aid, f"k{aid}", rid],
            )
            ref = db.execute(
                "INSERT INTO referrals (resident_id, site_id, unit_id, hospital_id, hospital_name,"
                " state, trigger, reason, patient, created_at, updated_at) VALUES"
                " (%s, %s, %s, %s, 'Probe hospital', 'requested', 'staff', 'probe', %s, now(),"
                " now()) RETURNING referral_id",
                [rid, site, unit, HOSPITAL_OF[name], Jsonb(patient)],
            ).fetchone()
            assert ref is not None
            db.execute(
                "INSERT INTO referral_transitions (referral_id, at, action, to_state, staff_id,"
                " role, side) VALUES (%s, now(), 'referral.requested', 'requested', 'probe',"
                " 'nurse', 'care')",
                [ref[0]],
            )
            made[name] = Target(name, rid, aid, int(ref[0]))
        # Family doctor pm-fd's caseload: home and away; home's family consents.
        db.execute(
            "INSERT INTO users (username, password_hash, role) VALUES ('pm-fd', 'x',"
            " 'family_doctor') ON CONFLICT DO NOTHING"
        )
        for name in ("home", "away"):
            db.execute(
                "INSERT INTO family_doctor_contracts (resident_id, team, doctor, start_on, end_on,"
                " service_package, created_by) VALUES (%s, 'probe', 'pm-fd',"
                " current_date - 2, current_date + 2, 'probe', 'probe')",
                [made[name].resident_id],
            )
        db.execute(
            "INSERT INTO resident_consents (resident_id, kind, granted, recorded_by)"
            " VALUES (%s, 'family', true, 'probe')",
            [made["home"].resident_id],
        )
        yield made
        # Commands the probes queued (no alert service runs here): no later test meets them.
        db.execute(
            "DELETE FROM alert_commands WHERE alert_id = ANY(%s)",
            [[t.alert_id for t in made.values()]],
        )


@pytest.fixture(scope="module")
def live(settings: Settings) -> Iterator[str]:
    with serve(create_app(settings)) as url:
        yield url


NOTHING = 2_000_000_000  # an id no test creates


def _url(route: Route, target: Target) -> str:
    ids = {
        "resident_id": target.resident_id,
        "alert_id": target.alert_id,
        "referral_id": target.referral_id,
        "site_id": PLACES[target.name][0],
    }
    # Any other id names nothing: a row another test made (outbreak 1 of another site, say)
    # would turn the probe into a scope refusal. Those routes' scopes have their own tests.
    return re.sub(r"\{([^}]+)\}", lambda m: str(ids.get(m.group(1), NOTHING)), route.path)


def _permitted(caller: Caller, route: Route) -> bool:
    granted = PERMISSIONS[caller.principal.role]
    if caller.principal.hospital_id is not None:  # docs/api.md: referrals, nothing else
        granted = granted & {"referrals:read", "referrals:write"}
    return route.permissions <= granted


CASES = [(c, r, t) for c in CALLERS for r in GUARDED for t in PLACES]


@pytest.mark.parametrize(
    ("caller", "route", "target"), CASES, ids=[f"{c} {r} {t}" for c, r, t in CASES]
)
def test_each_role_and_scope_gets_what_the_docs_say(
    api: TestClient,
    signer: TokenSigner,
    targets: dict[str, Target],
    live: str,
    monkeypatch: pytest.MonkeyPatch,
    caller: Caller,
    route: Route,
    target: str,
) -> None:
    from services.alerts import commands
    from services.api.routes import alerts

    # Acknowledging waits for the alert service, which is not running here: not long.
    monkeypatch.setattr(alerts, "submit", partial(commands.submit, timeout_s=0.2))
    probe = PROBES[(route.method, route.path)]
    the = targets[target]
    site, unit = PLACES[target]
    body = probe.body
    query = dict(probe.query)
    if route.path == "/api/v1/residents" and route.method == "POST":
        body = {**(body or {}), "site_id": site, "unit_id": unit}
    elif route.method == "POST" and route.path in (
        "/api/v1/referrals",
        "/api/v1/family-doctor-contracts",
    ):
        body = {**(body or {}), "resident_id": the.resident_id}
    elif route.path in ("/api/v1/care-team/on-duty", "/api/v1/care-team/board"):
        query |= {"site": site, "unit": unit}
    elif probe.scope == "site":
        query |= {"site": site}
    principal = caller.principal
    if principal.username in FAMILY_OF:
        bound = targets[FAMILY_OF[principal.username]].resident_id
        principal = replace(principal, resident_id=bound)
    token = signer.issue(principal, now=datetime.now(UTC))
    if probe.scope == "stream":  # a stream that opens never ends: a real server, a timeout
        host, port = urlsplit(live).hostname, urlsplit(live).port
        conn = http.client.HTTPConnection(host or "", port, timeout=30)
        try:
            conn.request("GET", route.path, headers={"Authorization": f"Bearer {token}"})
            opened = conn.getresponse()  # the status line and headers: the stream stays open
            assert opened.status == (200 if _permitted(caller, route) else 403)
        finally:
            conn.close()
        return
    answer = api.request(
        route.method,
        _url(route, the),
        json=body,
        params=query,
        headers={"Authorization": f"Bearer {token}"},
    )
    if probe.scope == "referral":
        sees = caller.referrals
    elif probe.scope == "site":
        sees = frozenset(t for t, (s, _) in PLACES.items() if s in caller.sites)
    elif "{resident_id}" in route.path:
        sees = caller.residents | caller.caseload
    else:
        sees = caller.residents
    if not _permitted(caller, route) or (
        probe.scope in ("resident", "referral", "site") and target not in sees
    ):
        assert answer.status_code in (403, 404), answer.text
        return
    # Allowed: anything but a refusal (a device "1" need not exist; the target does).
    assert answer.status_code != 401, answer.text
    assert probe.scope is None or answer.status_code != 404, answer.text
    refused = answer.status_code == 403 and any(
        why in answer.text for why in ("outside your scope", "may not do this (")
    )
    assert not refused, answer.text
    if probe.scope == "list":
        assert answer.status_code == 200, answer.text
        wanted = caller.referrals if "referrals" in route.path else caller.residents
        mine = {t.resident_id: name for name, t in targets.items()}
        for key in probe.lists:
            items = answer.json()[key]
            listed = {mine[i["resident_id"]] for i in items if i["resident_id"] in mine}
            assert listed == wanted, key


READERS = [
    c
    for c in CALLERS
    if "alerts:read" in PERMISSIONS[c.principal.role] and c.principal.hospital_id is None
]


@pytest.mark.parametrize("caller", READERS, ids=str)
def test_the_live_feed_carries_only_what_the_caller_may_see(
    db_url: str,
    signer: TokenSigner,
    targets: dict[str, Target],
    live: str,
    monkeypatch: pytest.MonkeyPatch,
    caller: Caller,
) -> None:
    from services.api.routes import alerts

    # A heartbeat comes only once the stream has sent every change it had: the end marker.
    monkeypatch.setattr(alerts, "HEARTBEAT_S", 0.5)
    with psycopg.connect(db_url, autocommit=True) as db:
        row = db.execute("SELECT coalesce(max(event_id), 0) FROM alert_events").fetchone()
        assert row is not None
        for name in ("away", "unit2", "home"):
            t = targets[name]
            db.execute(
                "INSERT INTO alert_events (incident_id, alert_id, ts, kind) VALUES"
                " (%s, %s, now(), 'AckEvent')",
                [t.alert_id, t.alert_id],
            )
    # The API's one listener must have taken in all three before the caller's stream opens,
    # so that they come as its catch-up, before any heartbeat: an admin's stream, which sees
    # everything, shows when it has (the last one written is "home").
    admin = signer.issue(CALLERS[0].principal, now=datetime.now(UTC))
    feed(live, admin, row[0], until=targets["home"].alert_id)
    seen = feed(live, signer.issue(caller.principal, now=datetime.now(UTC)), row[0])
    by_alert = {t.alert_id: name for name, t in targets.items()}
    assert {by_alert[a] for a in seen if a in by_alert} == caller.residents


def feed(live: str, token: str, after: int, until: int | None = None) -> set[int]:
    """The alert ids a stream resumed after event `after` sends: until its first heartbeat,
    or with `until`, until that alert's event has come (heartbeats in between allowed)."""
    conn = http.client.HTTPConnection(urlsplit(live).netloc, timeout=30)
    seen: set[int] = set()
    try:
        conn.request(
            "GET",
            "/api/v1/alerts/stream",
            headers={"Authorization": f"Bearer {token}", "Last-Event-ID": str(after)},
        )
        stream = conn.getresponse()
        assert stream.status == 200
        for _ in range(1000):
            line = stream.readline().decode()
            if line.startswith(": ping") and until is None:
                break
            if line.startswith("data: "):
                seen.add(json.loads(line.removeprefix("data: "))["alert"]["alert_id"])
                if until in seen:
                    break
    finally:
        conn.close()
    assert until is None or until in seen, f"alert {until} never came on the feed"
    return seen
