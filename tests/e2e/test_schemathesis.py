"""The API against its own OpenAPI description: schemathesis reads the live schema of the real
app (uvicorn, real database and broker), generates valid and invalid requests for every
documented operation, sends them with a real bearer token, and checks that nothing answers
5xx and that every answer is one the description declares, in its media type and shape.

Path and body ids are real ones (a resident, a referral, a device) half of the time, so the
requests get past the 404 to the code behind it. The run writes to the session's database
(admissions, assignments, referral steps, care team versions); the alert tables are emptied
before and after, as every alert test does for itself."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import psycopg
import pytest
import schemathesis
from fastapi.testclient import TestClient
from schemathesis import Case
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.pytest.lazy import LazySchema
from schemathesis.schemas import BaseSchema
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    ignored_auth,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from services.api.app import create_app
from services.settings import Settings, admin_token
from tests.e2e.alerting import clean
from tests.e2e.conftest import serve
from tests.services.referrals.test_store import (
    CAREGIVER,
    SITE,
    UNIT,
    configure_referral_ward,
    new_resident,
)
from tests.support import UNTHROTTLED, login_as

pytestmark = pytest.mark.services

# Per operation, for the generated (fuzzing) phase; the coverage phase adds a finite set of
# boundary and malformed values of its own. About a minute for both callers on two idle
# cores, two under load.
MAX_EXAMPLES = 40
# Above the 10 s an alert command waits for the alert service (none runs here).
REQUEST_TIMEOUT_S = 15.0

# Left out: `negative_data_rejection` (invalid input must get a 4xx): query strings carry no
# types, so a "number" generated for a string parameter is a valid string on the wire, and
# pydantic's documented lax parsing (Unix times for date-times, "yes" for booleans) accepts
# other spellings on purpose; what accepted input could break, the checks here see.
# `positive_data_acceptance` (valid input must get a 2xx): schema-valid ids of things that
# do not exist are rightly a 404. The stateful checks (`use_after_free`, ...) need links
# between operations, which the description does not declare.
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
    ignored_auth,  # a route that declares the bearer scheme refuses a request without it
]


@dataclass(frozen=True, slots=True)
class Known:
    """Things that exist, in the caregiver's unit."""

    resident_id: int
    referral_id: int
    device_id: str
    caregiver: str  # the caregiver's access token


@pytest.fixture(scope="module")
def known(db_url: str, api: TestClient) -> Iterator[Known]:
    with psycopg.connect(db_url) as conn:
        # No alerts: acknowledging a real one would wait 10 s for an alert service.
        clean(conn)
    site = configure_referral_ward(db_url)  # a care team with a partner hospital
    caregiver = login_as(
        api, "fuzz-cg", "caregiver", site=site, units=(UNIT,), staff=CAREGIVER.staff_id
    )
    nurse = login_as(api, "fuzz-nurse", "nurse", site=site, staff="fuzz-nurse")  # may refer
    with psycopg.connect(db_url, autocommit=True) as conn:
        resident_id = new_resident(conn, name="Fuzz Target")
    opened = api.post(
        "/api/v1/referrals", json={"resident_id": resident_id, "reason": "fuzzing"}, headers=nurse
    )
    assert opened.status_code == 201, opened.text
    device_id = f"fuzz-{resident_id}"
    made = api.post("/api/v1/devices", json={"device_id": device_id, "site_id": site})
    assert made.status_code == 201, made.text
    try:
        yield Known(
            resident_id=resident_id,
            referral_id=opened.json()["id"],
            device_id=device_id,
            caregiver=caregiver["Authorization"].removeprefix("Bearer "),
        )
    finally:
        with psycopg.connect(db_url) as conn:
            clean(conn)  # what the run queued or stored there (commands, care team versions)


@pytest.fixture(scope="module")
def fuzzed_api(settings: Settings) -> Iterator[str]:
    """A live app of its own, unthrottled: `/auth/refresh` is fuzzed too, from one address."""
    unthrottled = settings.model_copy(update=UNTHROTTLED)
    with serve(create_app(unthrottled)) as url:
        yield url


def load(base_url: str, token: str, known: Known) -> BaseSchema:
    """The live schema, sending `token`; ids drawn from `known` half of the time."""
    real: dict[str, int | str] = {
        "resident": known.resident_id,
        "referral": known.referral_id,
        "device": known.device_id,
        "site": SITE,
        "unit": UNIT,
    }
    bound = {
        "path.resident_id": "resident",
        "body.resident_id": "resident",
        "query.resident": "resident",
        "path.referral_id": "referral",
        "path.device_id": "device",
        "query.site": "site",
        "body.site_id": "site",
        "query.unit": "unit",
        "body.unit_id": "unit",
    }
    config = SchemathesisConfig.from_dict(
        {
            "headers": {"Authorization": f"Bearer {token}"},
            "request-timeout": REQUEST_TIMEOUT_S,
            "generation": {"max-examples": MAX_EXAMPLES},
            "phases": {"stateful": {"enabled": False}},
            # Other suites may share the two cores: slow generation is not what this tests.
            "suppress-health-check": ["too_slow"],
            "dictionaries": {name: {"values": [value]} for name, value in real.items()},
            "parameters": {
                key: {"dictionary": name, "probability": 0.5} for key, name in bound.items()
            },
        }
    )
    return schemathesis.openapi.from_url(f"{base_url}/openapi.json", config=config, timeout=10)


@pytest.fixture(scope="module")
def as_admin(fuzzed_api: str, settings: Settings, known: Known) -> BaseSchema:
    """The admin token: every permission but charting, no place limit."""
    return load(fuzzed_api, admin_token(settings), known)


@pytest.fixture(scope="module")
def as_caregiver(fuzzed_api: str, known: Known) -> BaseSchema:
    """A caregiver of one unit: clinical permissions within it; 403 for the rest."""
    return load(fuzzed_api, known.caregiver, known)


@pytest.fixture(autouse=True)
def _node_id_for_schemathesis(request: pytest.FixtureRequest) -> None:
    # schemathesis 4.32's lazy schemas read and rename `item._nodeid`, which pytest 9.2
    # replaced with a structured id; an attribute of that name is all they need.
    request.node._nodeid = request.node.nodeid


def fuzzable(fixture: str) -> LazySchema:
    """Every operation the description has (the HTML pages, acknowledgement links included,
    are not in it), but these."""
    return (
        schemathesis.pytest.from_fixture(fixture)
        # An endless Server-Sent Events stream: a request never completes.
        .exclude(path="/api/v1/alerts/stream")
        # The password login counts failures per account and locks it after a few; its
        # answers are checked in test_auth.py.
        .exclude(path="/api/v1/auth/token", method="POST")
    )


@fuzzable("as_admin").parametrize()
def test_api_as_admin(case: Case[Any]) -> None:
    case.call_and_validate(checks=CHECKS)


@fuzzable("as_caregiver").parametrize()
def test_api_as_caregiver(case: Case[Any]) -> None:
    case.call_and_validate(checks=CHECKS)


# --- what the fuzzing found, kept as fixed cases ------------------------------------------

NUL = "a\x00b"  # PostgreSQL keeps no NUL in text or jsonb: the query failed, a 500
BIG = 2**63  # one past bigint, the type of ids and OFFSET: the query failed, a 500
NAIVE = "2024-05-01T08:00:00"  # no offset: it was read in the database session's time zone
PAST_9999 = "9999-12-31T23:59:59-14:00"  # year 10000 in UTC: stored, but never read back
BEFORE_1 = "0001-01-01T00:00:00+14:00"  # year 0 in UTC: likewise

# GET path, query parameter, value.
QUERIES: list[tuple[str, str, str | int]] = [
    ("/api/v1/residents", "site", NUL),
    ("/api/v1/residents", "offset", BIG),
    ("/api/v1/alerts", "site", NUL),
    ("/api/v1/alerts", "severity", NUL),
    ("/api/v1/alerts", "resident", BIG),
    ("/api/v1/alerts", "offset", BIG),
    ("/api/v1/alerts/precision", "site", NUL),
    ("/api/v1/alerts/precision", "since", NAIVE),
    ("/api/v1/referrals", "site", NUL),
    ("/api/v1/referrals", "resident", BIG),
    ("/api/v1/referrals", "offset", BIG),
    ("/api/v1/care-team/on-duty", "site", NUL),
    ("/api/v1/audit", "actor", NUL),
    ("/api/v1/audit", "since", NAIVE),
    ("/api/v1/audit", "offset", BIG),
    ("/api/v1/users", "offset", BIG),
]


@pytest.mark.parametrize(
    ("path", "name", "value"), QUERIES, ids=[f"{p[8:]}?{n}" for p, n, _ in QUERIES]
)
def test_a_query_the_database_would_refuse_is_a_422_naming_the_parameter(
    api: TestClient, known: Known, path: str, name: str, value: str | int
) -> None:
    answer = api.get(path, params={name: value})
    assert answer.status_code == 422, answer.text
    assert answer.json()["detail"][0]["loc"][:2] == ["query", name], answer.text


def admission(**fields: object) -> dict[str, object]:
    return {"site_id": SITE, "unit_id": UNIT, "display_name": "Fuzz", **fields}


STAFF_NAMED_NUL = {"id": "x", "name": NUL, "role": "caregiver", "channels": ["json://x/y"]}
# Method, path ({resident}, {referral}, {device}: the known ones), body, where, who sends it.
BODIES: list[tuple[str, str, dict[str, object], list[str | int], str]] = [
    ("POST", "/api/v1/residents", admission(display_name=NUL), ["display_name"], "admin"),
    ("POST", "/api/v1/residents", admission(room=NUL), ["room"], "admin"),
    (
        "POST",
        "/api/v1/residents",
        admission(rule_overrides={NUL: 1}),
        ["rule_overrides", NUL],
        "admin",
    ),
    ("PATCH", "/api/v1/residents/{resident}", {"bed": NUL}, ["bed"], "admin"),
    (
        "PUT",
        "/api/v1/devices/{device}/resident",
        {"resident_id": None, "at": NAIVE},
        ["at"],
        "admin",
    ),
    (
        "PUT",
        "/api/v1/devices/{device}/resident",
        {"resident_id": None, "at": PAST_9999},
        ["at"],
        "admin",
    ),
    (
        "POST",
        "/api/v1/residents/{resident}/observations",
        {"hr": 70, "ts": NAIVE},
        ["ts"],
        "caregiver",
    ),
    (
        "POST",
        "/api/v1/residents/{resident}/observations",
        {"hr": 70, "ts": BEFORE_1},
        ["ts"],
        "caregiver",
    ),
    ("POST", "/api/v1/alerts/1/resolve", {"outcome": "actionable", "note": NUL}, ["note"], "admin"),
    ("POST", "/api/v1/referrals", {"resident_id": 1, "reason": NUL}, ["reason"], "admin"),
    (
        "POST",
        "/api/v1/referrals",
        {"resident_id": 1, "reason": "x", "hospital_id": NUL},
        ["hospital_id"],
        "admin",
    ),
    (
        "POST",
        "/api/v1/referrals/{referral}/transition",
        {"to": "cancelled", "note": NUL},
        ["note"],
        "admin",
    ),
    ("PUT", "/api/v1/care-team", {"staff": [STAFF_NAMED_NUL]}, ["staff", 0, "name"], "admin"),
    # Not the database: the account service's refusal, now named like the others.
    (
        "POST",
        "/api/v1/users",
        {"username": "fuzz-x", "password": "0123456789", "role": "admin", "site_id": "nowhere"},
        ["site_id"],
        "admin",
    ),
]


@pytest.mark.parametrize(
    ("method", "path", "body", "where", "who"),
    BODIES,
    ids=[f"{m} {p[8:]} {w[0]}" for m, p, _, w, _ in BODIES],
)
def test_a_body_the_database_would_refuse_is_a_422_naming_the_field(
    api: TestClient,
    known: Known,
    method: str,
    path: str,
    body: dict[str, object],
    where: list[str | int],
    who: str,
) -> None:
    path = path.format(
        resident=known.resident_id, referral=known.referral_id, device=known.device_id
    )
    headers = {"Authorization": f"Bearer {known.caregiver}"} if who == "caregiver" else {}
    answer = api.request(method, path, json=body, headers=headers)
    assert answer.status_code == 422, answer.text
    assert answer.json()["detail"][0]["loc"] == ["body", *where], answer.text


def test_a_device_id_with_nul_is_a_422(api: TestClient) -> None:
    answer = api.get("/api/v1/devices/a%00b")
    assert answer.status_code == 422, answer.text
    assert answer.json()["detail"][0]["loc"] == ["path", "device_id"]


def test_a_login_with_nul_in_the_username_is_a_422(api: TestClient) -> None:
    answer = api.post(
        "/api/v1/auth/token",
        data={"username": NUL, "password": "x"},
        headers={"Authorization": ""},
    )
    assert answer.status_code == 422, answer.text
    assert answer.json()["detail"][0]["loc"] == ["body", "username"]
