"""Logging in and staying in lanes: the OAuth2 password flow, refresh rotation, lock-out and
throttling, roles and site/unit scopes across endpoints, the audit log, `carewatch user add`."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta

import jwt
from fastapi.testclient import TestClient

from services.api.app import create_app
from services.auth.tokens import TokenSigner
from services.operations.local.env import service_env
from services.settings import Settings, admin_token
from tests.e2e.alerting import candidate, resident
from tests.support import PASSWORD, SITE, Conn, count, login_as, wait_for

TOKEN = "/api/v1/auth/token"


def form(username: str, password: str = PASSWORD) -> dict[str, str]:
    return {"username": username, "password": password}


def new_user(api: TestClient, username: str, role: str = "caregiver", **scope: object) -> None:
    body = {"username": username, "password": PASSWORD, "role": role, "site_id": SITE, **scope}
    created = api.post("/api/v1/users", json=body)
    assert created.status_code == 201, created.text
    assert "password" not in created.text


def test_login_refresh_and_logout(api: TestClient, ward: str) -> None:
    new_user(api, "auth-cg", unit_ids=["u1"], staff_id="cg1")
    anonymous = {"Authorization": ""}
    issued = api.post(TOKEN, data=form("auth-cg"), headers=anonymous)
    assert issued.status_code == 200, issued.text
    pair = issued.json()
    assert pair["token_type"] == "bearer" and pair["expires_in"] == 900
    bearer = {"Authorization": f"Bearer {pair['access_token']}"}
    me = api.get("/api/v1/auth/me", headers=bearer).json()
    assert me == {
        "username": "auth-cg",
        "role": "caregiver",
        "site_id": SITE,
        "unit_ids": ["u1"],
        "staff_id": "cg1",
        "hospital_id": None,
        "resident_id": None,
        "region_id": None,
    }

    renewed = api.post("/api/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]})
    assert renewed.status_code == 200
    second = renewed.json()["refresh_token"]
    assert second != pair["refresh_token"]
    # The spent token again: someone kept a copy. It fails, and so does the newer one.
    replay = api.post("/api/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]})
    assert replay.status_code == 401 and "already used" in replay.text
    assert api.post("/api/v1/auth/refresh", json={"refresh_token": second}).status_code == 401

    third = api.post(TOKEN, data=form("auth-cg"), headers=anonymous).json()["refresh_token"]
    assert api.post("/api/v1/auth/logout", json={"refresh_token": third}).status_code == 204
    assert api.post("/api/v1/auth/refresh", json={"refresh_token": third}).status_code == 401


def test_bad_tokens_are_refused_with_401(api: TestClient, settings: Settings) -> None:
    assert api.get("/api/v1/alerts", headers={"Authorization": ""}).status_code == 401
    garbage = api.get("/api/v1/alerts", headers={"Authorization": "Bearer nonsense"})
    assert garbage.status_code == 401 and garbage.headers["www-authenticate"] == "Bearer"
    signer = TokenSigner(admin_token(settings), ttl_s=-60)
    from services.auth.principal import Principal

    expired = signer.issue(Principal("x", "admin"), now=datetime.now(UTC))
    refused = api.get("/api/v1/alerts", headers={"Authorization": f"Bearer {expired}"})
    assert refused.status_code == 401 and "expired" in refused.text
    forged = jwt.encode(
        {"sub": "x", "role": "admin", "exp": datetime.now(UTC) + timedelta(hours=1)},
        "another key that is long enough for hs256",
        algorithm="HS256",
    )
    assert (
        api.get("/api/v1/alerts", headers={"Authorization": f"Bearer {forged}"}).status_code == 401
    )
    unsigned = jwt.encode({"sub": "x", "role": "admin"}, "", algorithm="none")  # "": no key
    assert (
        api.get("/api/v1/alerts", headers={"Authorization": f"Bearer {unsigned}"}).status_code
        == 401
    )


def test_repeated_failures_lock_the_account_with_the_same_answer(
    api: TestClient, ward: str
) -> None:
    new_user(api, "auth-locked")
    anonymous = {"Authorization": ""}
    unknown = api.post(TOKEN, data=form("nobody-at-all"), headers=anonymous)
    for _ in range(5):
        wrong = api.post(TOKEN, data=form("auth-locked", "wrong password!"), headers=anonymous)
        assert wrong.status_code == 401
        assert wrong.json() == unknown.json()  # no hint whether the user exists
    locked = api.post(TOKEN, data=form("auth-locked"), headers=anonymous)
    assert locked.status_code == 401 and locked.json() == unknown.json()


def test_login_attempts_are_throttled_per_account_and_address(settings: Settings) -> None:
    with TestClient(create_app(settings)) as fresh:  # its own throttle
        codes = [fresh.post(TOKEN, data=form("nobody", "x" * 10)).status_code for _ in range(11)]
        # The rest of the shift, behind the same address, still gets to log in.
        others = [fresh.post(TOKEN, data=form(f"nobody-{n}", "x" * 10)) for n in range(3)]
    assert codes[:10] == [401] * 10
    assert codes[10] == 429
    assert [answer.status_code for answer in others] == [401] * 3


def test_an_address_has_a_higher_ceiling_across_accounts(settings: Settings) -> None:
    assert settings.login_attempts_per_address_per_minute > settings.login_attempts_per_minute
    ceiling = settings.model_copy(update={"login_attempts_per_address_per_minute": 15})
    with TestClient(create_app(ceiling)) as fresh:
        codes = [
            fresh.post(TOKEN, data=form(f"spray-{n}", "x" * 10)).status_code for n in range(16)
        ]
        refresh = fresh.post("/api/v1/auth/refresh", json={"refresh_token": "spent"})
    assert codes[:15] == [401] * 15
    assert codes[15] == 429
    assert refresh.status_code == 429 and int(refresh.headers["Retry-After"]) >= 1


def test_scopes_hold_across_endpoints(api: TestClient, db: Conn, settings: Settings) -> None:
    db.execute("INSERT INTO units VALUES ('t1', 'u2', 'Other unit') ON CONFLICT DO NOTHING")
    db.commit()
    mine = resident(db, "In Scope")
    theirs_row = db.execute(
        "INSERT INTO residents (site_id, unit_id, display_name) VALUES ('t1', 'u2', 'Elsewhere')"
        " RETURNING resident_id"
    ).fetchone()
    assert theirs_row is not None
    theirs = int(theirs_row[0])
    db.commit()
    db.execute(
        "INSERT INTO incidents (incident_id, subject, site_id, unit_id, resident_id, state,"
        " severity, title, opened_at, updated_at) VALUES"
        " (900001, %s, 't1', 'u1', %s, 'open', 'high', 'a', now(), now()),"
        " (900002, %s, 't1', 'u2', %s, 'open', 'high', 'b', now(), now())",
        [f"resident:{mine}", mine, f"resident:{theirs}", theirs],
    )
    db.execute(
        "INSERT INTO alerts (alert_id, incident_id, rule_id, dedupe_key, subject, resident_id,"
        " title, severity, opened_at, first_ts, last_ts, count, updated_at) VALUES"
        " (900001, 900001, 'sos', 'k900001', 's', %s, 'SOS', 'high', now(), now(), now(), 1,"
        " now()), (900002, 900002, 'sos', 'k900002', 's', %s, 'SOS', 'high', now(), now(),"
        " now(), 1, now())",
        [mine, theirs],
    )
    db.commit()
    caregiver = login_as(api, "scope-cg", "caregiver", site="t1", units=("u1",), staff="cg-s")
    listed = api.get("/api/v1/alerts", headers=caregiver).json()["items"]
    assert 900001 in {a["alert_id"] for a in listed}
    assert 900002 not in {a["alert_id"] for a in listed}
    assert api.get("/api/v1/alerts/900001", headers=caregiver).status_code == 200
    assert api.get("/api/v1/alerts/900002", headers=caregiver).status_code == 403
    assert api.post("/api/v1/alerts/900002/ack", headers=caregiver).status_code == 403
    assert (
        api.post(
            "/api/v1/referrals", json={"resident_id": theirs, "reason": "x"}, headers=caregiver
        ).status_code
        == 403
    )
    # Roles: a caregiver manages no devices, users or care team; an integrator sees no alerts.
    assert (
        api.post(
            "/api/v1/devices", json={"device_id": "x", "site_id": "t1"}, headers=caregiver
        ).status_code
        == 403
    )
    assert api.get("/api/v1/users", headers=caregiver).status_code == 403
    assert api.get("/api/v1/audit", headers=caregiver).status_code == 403
    integrator = login_as(api, "scope-int", "integrator")
    assert api.get("/api/v1/alerts", headers=integrator).status_code == 403
    assert api.get("/api/v1/referrals", headers=integrator).json()["items"] == []

    audited = api.get("/api/v1/audit", params={"actor": "scope-cg", "action": "alert.read"})
    rows = audited.json()["items"]
    assert [(r["resource"], r["resident_id"], r["role"]) for r in rows] == [
        ("alert/900001", mine, "caregiver")
    ]
    assert rows[0]["path"] == "/api/v1/alerts/900001" and rows[0]["method"] == "GET"


def test_acknowledging_is_in_the_callers_name_and_audited(
    api: TestClient, db: Conn, settings: Settings, run_service: object, http: object, smtp: object
) -> None:
    from tests.e2e.alerting import Running, store, team
    from tests.receivers import HttpReceiver, SmtpReceiver

    assert isinstance(http, HttpReceiver) and isinstance(smtp, SmtpReceiver)
    store(db, team(http, smtp))
    rid = resident(db, "Named Ack")
    assert isinstance(run_service, type) and issubclass(run_service, Running)
    run_service(settings)
    candidate(db, f"resident:{rid}")
    http.wait(1, timeout=10)
    nurse = login_as(api, "ack-nurse", "nurse", site="t1", staff="cg1")
    alert = api.get("/api/v1/alerts", params={"resident": rid}, headers=nurse).json()["items"][0]
    done = api.post(f"/api/v1/alerts/{alert['alert_id']}/ack", headers=nurse)
    assert done.status_code == 200 and done.json()["acknowledged_by"] == "cg1"
    wait_for(
        lambda: count(
            db,
            "SELECT count(*) FROM audit_log WHERE action = 'alert.ack'"
            " AND actor = 'ack-nurse' AND status = 200",
        ),
        until=lambda n: n == 1,
        what="the audit row",
    )


def test_user_add_reads_the_password_from_stdin(settings: Settings, db: Conn, ward: str) -> None:
    def add(*args: str, password: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "services.cli", "user", "add", *args],
            input=password + "\n",
            capture_output=True,
            text=True,
            env=service_env(settings),
            timeout=60,
            check=False,
        )

    made = add(
        "cli-nurse",
        "--role",
        "nurse",
        "--site",
        "t1",
        "--unit",
        "u1",
        password="a long enough password",
    )
    assert made.returncode == 0, made.stderr
    assert "a long enough password" not in made.stdout + made.stderr
    row = db.execute(
        "SELECT role, site_id, unit_ids, password_hash FROM users WHERE username = 'cli-nurse'"
    ).fetchone()
    assert row is not None and row[:3] == ("nurse", "t1", ["u1"])
    assert row[3].startswith("$argon2id$")
    short = add("cli-short", "--role", "nurse", "--site", "t1", password="short")
    assert short.returncode == 1 and "at least 10 characters" in short.stderr
    again = add("cli-nurse", "--role", "nurse", "--site", "t1", password="a long enough password")
    assert again.returncode == 1 and "already exists" in again.stderr
    role = add("cli-x", "--role", "janitor", password="a long enough password")
    assert role.returncode == 1 and "unknown role" in role.stderr
