"""The demo control socket: owner-only, one JSON line each way, bad requests answered with
the reason and nothing queued, a stale socket file taken over, a live one seen as in use."""

from __future__ import annotations

import socket
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from device_sim.control import ControlServer, ControlUnavailable, in_use, send_event

RESIDENTS = {"r4": ["demo-w001", "demo-b001"], "r2": ["demo-w000", "demo-b000"]}


@pytest.fixture
def sock_path() -> Iterator[Path]:
    # Short: a Unix socket path is limited to about 100 bytes (pytest's tmp_path can be longer).
    with tempfile.TemporaryDirectory(prefix="cw-ctl-", dir="/tmp") as d:
        yield Path(d) / "demo-control.sock"


def played(server: ControlServer) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    server.drain(lambda kind, key: out.append((kind, key)))
    return out


def test_a_request_is_answered_and_queued_for_the_run_loop(sock_path: Path) -> None:
    server = ControlServer(sock_path, RESIDENTS)
    try:
        assert stat.S_IMODE(sock_path.stat().st_mode) == 0o600
        assert in_use(sock_path)
        reply = send_event(sock_path, "hypoxia", None)  # the first resident given
        assert reply["ok"] and reply["resident"] == "r4"
        assert reply["devices"] == ["demo-w001", "demo-b001"]
        assert reply["expect"].startswith("hypoxia")
        assert send_event(sock_path, "sos", "2")["resident"] == "r2"
        assert played(server) == [("hypoxia", "r4"), ("sos", "r2")]
    finally:
        server.close()
    assert not sock_path.exists()
    assert not in_use(sock_path)
    with pytest.raises(ControlUnavailable):
        send_event(sock_path, "sos", None)


@pytest.mark.parametrize(
    ("kind", "resident", "error"),
    [
        ("flood", None, "unknown event 'flood'"),
        ("fall", "7", "no demo resident '7': the running demo has 4, 2"),
    ],
)
def test_a_bad_request_gets_the_reason_and_plays_nothing(
    sock_path: Path, kind: str, resident: str | None, error: str
) -> None:
    server = ControlServer(sock_path, RESIDENTS)
    try:
        reply = send_event(sock_path, kind, resident)
        assert reply["ok"] is False and reply["error"].startswith(error)
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as raw:
            raw.connect(str(sock_path))
            raw.sendall(b"not json\n")
            assert b'"ok": false' in raw.recv(4096)
        assert played(server) == []
    finally:
        server.close()


def test_a_scenario_run_holds_the_socket_but_refuses_events(sock_path: Path) -> None:
    server = ControlServer(sock_path, RESIDENTS, refuse="this simulator plays a scenario")
    try:
        assert send_event(sock_path, "fall", None) == {
            "ok": False,
            "error": "this simulator plays a scenario",
        }
        assert played(server) == []
    finally:
        server.close()


def test_a_socket_left_by_a_dead_simulator_is_taken_over(sock_path: Path) -> None:
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(str(sock_path))
    stale.close()  # the file stays, nobody listens
    assert sock_path.exists() and not in_use(sock_path)
    server = ControlServer(sock_path, RESIDENTS)
    try:
        assert send_event(sock_path, "sos", None)["ok"]
    finally:
        server.close()
