"""The live feed against a real server and real PostgreSQL (issue 13, items 3 and 4): many
streams share one listener connection, streams are capped per user and per process with a
429, events still reach every stream; a stream ends when its token expires or its session is
revoked."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import httpx2 as httpx
import pytest
from fastapi.testclient import TestClient

from services.api.app import create_app
from services.auth.principal import Principal
from services.auth.tokens import TokenSigner
from services.settings import Settings, admin_token, db_role
from tests.e2e.alerting import Running, candidate, resident, store, team
from tests.e2e.conftest import serve
from tests.receivers import HttpReceiver, SmtpReceiver
from tests.sse import Stream
from tests.support import PASSWORD, SITE, UNIT, UNTHROTTLED, Conn, login_as, wait_for

STREAM = "/api/v1/alerts/stream"
PER_USER = 5
PER_PROCESS = 12


def alerts_of(stream: Stream) -> set[int]:
    return {e["data"]["alert"]["alert_id"] for e in stream.events if e["type"] == "alert"}


@pytest.fixture
def feed_api(settings: Settings) -> Iterator[str]:
    capped = settings.model_copy(
        update={
            "stream_limit_per_user": PER_USER,
            "stream_limit_per_process": PER_PROCESS,
            **UNTHROTTLED,
        }
    )
    with serve(create_app(capped)) as url:
        yield url


@pytest.fixture
def streams() -> Iterator[list[Stream]]:
    opened: list[Stream] = []
    try:
        yield opened
    finally:
        for stream in opened:
            stream.close()


def status_of(url: str, headers: dict[str, str]) -> int:
    """The status a new stream is answered with (the stream itself closed at once)."""
    with (
        httpx.Client(timeout=httpx.Timeout(10)) as client,
        client.stream("GET", url, headers=headers) as response,
    ):
        return response.status_code


def api_connections(db: Conn, settings: Settings) -> int:
    row = db.execute(
        "SELECT count(*) FROM pg_stat_activity WHERE usename = %s", [db_role("api")]
    ).fetchone()
    db.commit()
    return int(row[0]) if row else -1


def test_streams_share_one_listener_are_capped_and_all_get_events(
    api: TestClient,
    db: Conn,
    settings: Settings,
    http: HttpReceiver,
    smtp: SmtpReceiver,
    run_service: type[Running],
    feed_api: str,
    streams: list[Stream],
) -> None:
    users = [
        login_as(api, f"feed-cg{i}", "caregiver", site=SITE, units=(UNIT,), staff=f"feed-cg{i}")
        for i in range(3)
    ]
    before = api_connections(db, settings)

    def open_stream(headers: dict[str, str]) -> Stream:
        stream = Stream(f"{feed_api}{STREAM}", headers)
        streams.append(stream)
        assert stream.connected.wait(20), "the stream did not answer"
        return stream

    # A user at their cap; then a second one, and a third with two: the process cap.
    live = [open_stream(users[0]) for _ in range(PER_USER)]
    over_user = httpx.get(f"{feed_api}{STREAM}", headers=users[0], timeout=10)  # 429: no stream
    assert over_user.status_code == 429, over_user.text
    assert "one user" in over_user.json()["detail"]
    assert over_user.headers["Retry-After"].isdigit()
    live += [open_stream(users[1]) for _ in range(PER_USER)]
    live += [open_stream(users[2]) for _ in range(PER_PROCESS - 2 * PER_USER)]
    assert all(s.status == 200 for s in live), [s.status for s in live]
    # Twelve streams, and the API holds no more connections than before (its pool and the
    # one listener were open already): a stream holds none of its own.
    during = api_connections(db, settings)
    assert during <= before + 1, f"{during} API connections with 12 streams, {before} before"

    over_process = httpx.get(f"{feed_api}{STREAM}", headers=users[2], timeout=10)
    assert over_process.status_code == 429, over_process.text
    assert "this server" in over_process.json()["detail"]

    # Every stream gets the alert.
    store(db, team(http, smtp))
    run_service(settings)
    candidate(db, f"resident:{resident(db, 'Feed Many')}")
    for stream in live:
        stream.wait(lambda evs: any(e["type"] == "alert" for e in evs))
    assert len({frozenset(alerts_of(s)) for s in live}) == 1

    # A closed stream gives its place back (as soon as the server sees the client go).
    live[0].close()
    again = wait_for(
        lambda: status_of(f"{feed_api}{STREAM}", users[0]),
        until=lambda status: status != 429,
        timeout=10,
        what="a place for a new stream after closing one",
        every=0.2,
    )
    assert again == 200


def test_a_stream_ends_when_its_token_expires(
    api: TestClient, settings: Settings, live_api: str, streams: list[Stream]
) -> None:
    signer = TokenSigner(admin_token(settings), ttl_s=3)
    caregiver = Principal("feed-short", "caregiver", site_id=SITE, unit_ids=frozenset({UNIT}))
    token = signer.issue(caregiver, now=datetime.now(UTC))
    stream = Stream(f"{live_api}{STREAM}", {"Authorization": f"Bearer {token}"})
    streams.append(stream)
    assert stream.connected.wait(20) and stream.status == 200, stream.status
    assert stream.ended(timeout=15)["reason"] == "token_expired"


def test_a_stream_ends_when_its_session_is_revoked(
    api: TestClient, settings: Settings, live_api: str, streams: list[Stream]
) -> None:
    login_as(api, "feed-logout", "caregiver", site=SITE, units=(UNIT,))  # creates the user
    tokens = api.post(
        "/api/v1/auth/token",
        data={"username": "feed-logout", "password": PASSWORD},
        headers={"Authorization": ""},
    ).json()
    stream = Stream(f"{live_api}{STREAM}", {"Authorization": f"Bearer {tokens['access_token']}"})
    streams.append(stream)
    assert stream.connected.wait(20) and stream.status == 200, stream.status
    # A refresh continues the session: the stream stays open past a session check.
    rotated = api.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert rotated.status_code == 200, rotated.text
    assert not stream.closed.wait(7), f"ended by a refresh: {stream.events}"
    # Logging out ends it.
    out = api.post("/api/v1/auth/logout", json={"refresh_token": rotated.json()["refresh_token"]})
    assert out.status_code == 204
    assert stream.ended(timeout=15)["reason"] == "session_revoked"
    # Nor does the access token, still unexpired, open another.
    bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
    again = httpx.get(f"{live_api}{STREAM}", headers=bearer, timeout=10)
    assert again.status_code == 401, again.text


def test_the_admin_token_opens_a_stream_without_expiry(
    api: TestClient, settings: Settings, live_api: str
) -> None:
    with httpx.Client(timeout=httpx.Timeout(10, read=10)) as client:
        headers = {"Authorization": f"Bearer {admin_token(settings)}"}
        with client.stream("GET", f"{live_api}{STREAM}", headers=headers) as response:
            assert response.status_code == 200
            assert next(response.iter_lines()) == ": connected"
