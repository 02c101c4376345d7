"""Issue 13's holes in the API's front door, each against the real API on a real server where
it matters: refused reads and opened streams are audited; X-Forwarded-For counts only from a
configured proxy; the demo pager answers only on loopback and only in the local demo; request
bodies are bounded before they are parsed, and refused without a token before they are read."""

from __future__ import annotations

import http.client
import json
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import pytest
import uvicorn
from fastapi.testclient import TestClient
from pydantic import SecretStr

from services.api.app import create_app
from services.api.limits import DEFAULT_BODY_LIMIT
from services.api.server import server_config
from services.auth.principal import Principal
from services.auth.tokens import TokenSigner
from services.errors import ConfigError
from services.operations.local.system import free_port
from services.settings import Settings, admin_token
from tests.e2e.conftest import serve
from tests.support import PASSWORD, SITE, Conn, wait_for

pytestmark = pytest.mark.services

TOKEN = "/api/v1/auth/token"
FORGED = {"X-Forwarded-For": "203.0.113.9"}


def bearer(settings: Settings, principal: Principal) -> dict[str, str]:
    token = TokenSigner(admin_token(settings)).issue(principal, now=datetime.now(UTC))
    return {"Authorization": f"Bearer {token}"}


def audit_rows(db: Conn, actor: str) -> list[tuple[object, ...]]:
    return db.execute(
        "SELECT action, resource, resident_id, status, client FROM audit_log WHERE actor = %s"
        " ORDER BY audit_id",
        [actor],
    ).fetchall()


# --- 5: refused reads and the live feed are audited ------------------------------------------


def test_refused_reads_are_audited_with_their_outcome(
    api: TestClient, db: Conn, settings: Settings, ward: str
) -> None:
    db.execute("INSERT INTO units VALUES ('t1', 'u2', 'Other unit') ON CONFLICT DO NOTHING")
    theirs_row = db.execute(
        "INSERT INTO residents (site_id, unit_id, display_name) VALUES ('t1', 'u2', 'Not Yours')"
        " RETURNING resident_id"
    ).fetchone()
    assert theirs_row is not None
    theirs = int(theirs_row[0])
    caregiver = bearer(settings, Principal("audit-cg", "caregiver", SITE, frozenset({"u1"})))
    for path in ("", "/vitals?metric=hr", "/latest", "/news2"):
        answer = api.get(f"/api/v1/residents/{theirs}{path}", headers=caregiver)
        assert answer.status_code == 403, answer.text
    assert api.get("/api/v1/residents/999999999", headers=caregiver).status_code == 404
    integrator = bearer(settings, Principal("audit-int", "integrator"))
    assert api.get(f"/api/v1/residents/{theirs}", headers=integrator).status_code == 403

    refused = [
        (action, resource, rid, code)
        for action, resource, rid, code, _ in audit_rows(db, "audit-cg")
    ]
    assert refused == [
        ("access.refused", f"residents/{theirs}", theirs, 403),
        ("access.refused", f"residents/{theirs}/vitals", theirs, 403),
        ("access.refused", f"residents/{theirs}/latest", theirs, 403),
        ("access.refused", f"residents/{theirs}/news2", theirs, 403),
        ("access.refused", "residents/999999999", 999999999, 404),
    ]
    assert [r[3] for r in audit_rows(db, "audit-int")] == [403]  # refused by role, too


def test_opening_the_live_feed_is_audited(db: Conn, settings: Settings, live_api: str) -> None:
    nurse = bearer(settings, Principal("audit-stream", "nurse", SITE))
    url = live_api.removeprefix("http://")
    conn = http.client.HTTPConnection(url, timeout=30)
    try:
        conn.request("GET", "/api/v1/alerts/stream", headers=nurse)
        assert conn.getresponse().status == 200
        rows = wait_for(
            lambda: audit_rows(db, "audit-stream"), until=bool, what="the stream's audit row"
        )
    finally:
        conn.close()
    assert [(r[0], r[1], r[3], r[4]) for r in rows] == [
        ("alerts.stream", "alerts/stream", 200, "127.0.0.1")
    ]


# --- 6: X-Forwarded-For only from a configured proxy ------------------------------------------


@contextmanager
def served(settings: Settings) -> Iterator[str]:
    """The API as `carewatch api` serves it (services/api/server.py), on a free port."""
    port = free_port()
    config = server_config(
        create_app(settings), settings.model_copy(update={"api_port": port}), log_level="warning"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_for(lambda: server.started, until=bool, what="uvicorn started")
    try:
        yield f"127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)


def call(
    address: str, method: str, path: str, headers: dict[str, str], body: str = ""
) -> tuple[int, str]:
    conn = http.client.HTTPConnection(address, timeout=30)
    try:
        conn.request(method, path, body=body or None, headers=headers)
        answer = conn.getresponse()
        return answer.status, answer.read().decode()
    finally:
        conn.close()


def logins(address: str) -> list[int]:
    """30 failed logins from loopback, each claiming another client address."""
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    return [
        call(
            address,
            "POST",
            TOKEN,
            {**form, "X-Forwarded-For": f"198.51.100.{n}"},
            f"username=nobody-xff&password={PASSWORD}",
        )[0]
        for n in range(30)
    ]


def test_forwarded_for_is_ignored_without_a_configured_proxy(
    api: TestClient, db: Conn, settings: Settings
) -> None:
    assert settings.trusted_proxies == ""  # the default: no proxy
    with served(settings) as address:
        codes = logins(address)
        assert codes[:10] == [401] * 10 and set(codes[10:]) == {429}, codes
        nurse = bearer(settings, Principal("xff-nurse", "nurse", SITE))
        status, _ = call(
            address, "GET", "/api/v1/residents", {**nurse, "X-Forwarded-For": "203.0.113.9"}
        )
        assert status == 200
    assert [r[4] for r in audit_rows(db, "xff-nurse")] == ["127.0.0.1"]


def test_forwarded_for_is_used_from_a_configured_proxy(db: Conn, settings: Settings) -> None:
    proxied = settings.model_copy(update={"trusted_proxies": "127.0.0.1"})
    with served(proxied) as address:
        assert set(logins(address)) == {401}  # 30 addresses, 1 attempt each
        nurse = bearer(settings, Principal("xff-proxied", "nurse", SITE))
        status, _ = call(
            address, "GET", "/api/v1/residents", {**nurse, "X-Forwarded-For": "203.0.113.9"}
        )
        assert status == 200
    assert [r[4] for r in audit_rows(db, "xff-proxied")] == ["203.0.113.9"]


def test_a_trusted_proxy_must_be_an_address_or_network() -> None:
    with pytest.raises(ValueError, match="not an IP address or network"):
        Settings(trusted_proxies="10.0.0.1, proxy.example")
    assert Settings(trusted_proxies="10.0.0.0/8, ::1").trusted_proxy_list == ["10.0.0.0/8", "::1"]


# --- 7: the demo pager ------------------------------------------------------------------------


def test_the_demo_pager_is_off_unless_asked_for(settings: Settings) -> None:
    assert Settings().demo_pager is False
    with TestClient(create_app(settings), client=("127.0.0.1", 5000)) as client:
        assert client.get("/demo/pager").status_code == 404


def test_production_refuses_to_start_with_the_demo_pager() -> None:
    production = Settings(
        database_url=SecretStr("postgresql://u:p@db.example/carewatch"),
        mqtt_admin_url=SecretStr("mqtt://admin:pw@broker.example:1883"),
        admin_token=SecretStr("a-production-admin-token-0123456789"),
        demo_pager=True,
    )
    with pytest.raises(ConfigError, match="CAREWATCH_DEMO_PAGER is for the local demo"):
        create_app(production)


def test_the_demo_pager_answers_only_on_loopback(settings: Settings) -> None:
    demo = settings.model_copy(update={"demo_pager": True})
    app = create_app(demo)
    with TestClient(app, client=("203.0.113.5", 5000)) as remote:
        assert remote.get("/demo/pager").status_code == 403
        assert remote.post("/demo/pager/cg1", json={"title": "x"}).status_code == 403
    with serve(app) as url:
        address = url.removeprefix("http://")
        status, page = call(address, "GET", "/demo/pager", {})
        assert status == 200 and "只在本机（回环地址）应答" in page  # zh-CN first
        status, why = call(address, "GET", "/demo/pager", {"X-Forwarded-For": "203.0.113.5"})
        assert status == 403 and "loopback" in why
    # A real connection from another address of this machine, if it has one.
    outside = _non_loopback_address()
    if outside is None:
        return
    port = free_port()
    everywhere = demo.model_copy(update={"api_host": "0.0.0.0", "api_port": port})  # noqa: S104
    server = uvicorn.Server(server_config(create_app(everywhere), everywhere, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_for(lambda: server.started, until=bool, what="uvicorn started")
    try:
        status, why = call(f"{outside}:{port}", "GET", "/demo/pager", {})
        assert status == 403 and "loopback" in why
    finally:
        server.should_exit = True
        thread.join(timeout=15)


def _non_loopback_address() -> str | None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # no packet is sent: picks the outgoing address
        except OSError:
            return None
        host = str(probe.getsockname()[0])
    return None if host.startswith("127.") or host == "0.0.0.0" else host  # noqa: S104


# --- 8: bodies bounded before parsing, refused without a token before reading ----------------


def raw_request(address: str, head: str, body: bytes) -> tuple[int, str]:
    """Send a request head and only `body` (however much the head promises), then read the
    answer: a server that waited for the rest would time out here."""
    host, port = address.split(":")
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(head.encode() + body)
        got = b""
        while b"\r\n\r\n" not in got:
            chunk = sock.recv(65536)
            assert chunk, f"closed without an answer: {got!r}"
            got += chunk
        top, _, rest = got.partition(b"\r\n\r\n")
        lines = top.decode().split("\r\n")
        length = next(
            int(line.split(":")[1]) for line in lines if line.lower().startswith("content-length")
        )
        while len(rest) < length:
            chunk = sock.recv(65536)
            if not chunk:
                break
            rest += chunk
    return int(lines[0].split()[1]), rest.decode()


def test_a_30_mib_body_gets_413_without_being_read(settings: Settings, live_api: str) -> None:
    address = live_api.removeprefix("http://")
    auth = f"Authorization: Bearer {admin_token(settings)}\r\n"
    head = (
        f"POST /api/v1/residents HTTP/1.1\r\nHost: {address}\r\n{auth}"
        "Content-Type: application/json\r\nContent-Length: 31457280\r\n\r\n"
    )
    status, body = raw_request(address, head, b"[" * 1024)  # 1 KiB of the 30 MiB promised
    assert status == 413, body
    assert json.loads(body)["detail"].startswith("request body too large")
    # No length given (chunked): counted as it arrives, cut off just past the limit.
    head = (
        f"POST /api/v1/residents HTTP/1.1\r\nHost: {address}\r\n{auth}"
        "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
    )
    chunk = b"2000\r\n" + b" " * 0x2000 + b"\r\n"  # 8 KiB each
    status, body = raw_request(address, head, chunk * (DEFAULT_BODY_LIMIT // 0x2000 + 1))
    assert status == 413, body


def test_no_token_no_body_read(live_api: str) -> None:
    address = live_api.removeprefix("http://")
    head = (
        f"PUT /api/v1/care-team HTTP/1.1\r\nHost: {address}\r\n"
        "Content-Type: application/json\r\nContent-Length: 1048576\r\n\r\n"
    )
    status, body = raw_request(address, head, b"")  # under the route's limit, none sent
    assert status == 401, body
    assert "missing bearer token" in body


def test_the_care_team_takes_more_than_the_default(api: TestClient) -> None:
    # Invalid on purpose (nothing is stored): parsed and validated, not cut off.
    padded = {"staff": "not a list", "padding": "x" * (2 * DEFAULT_BODY_LIMIT)}
    assert api.put("/api/v1/care-team", json=padded).status_code == 422
    small_route = api.post("/api/v1/residents", json=padded)
    assert small_route.status_code == 413, small_route.text
