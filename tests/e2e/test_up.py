"""`carewatch up` as a user runs it: first start creates the data dir, the demo ward's
readings land, Ctrl-C stops everything cleanly, a second start reuses the data."""

from __future__ import annotations

import json
import os
import signal
import socket
import stat
import subprocess
import sys
import urllib.request
from pathlib import Path

import psycopg
import pytest

from services.errors import SetupError
from services.operations.local.env import scratch_settings, service_env
from services.operations.local.system import ensure_port_free, find_binary
from services.settings import Settings, database_url
from tests.support import count, wait_for

CLI = [sys.executable, "-m", "services.cli"]


def start_up(settings: Settings, *args: str) -> tuple[subprocess.Popen[bytes], Path]:
    out = Path(settings.data_dir) / f"up-{len(list(Path(settings.data_dir).glob('up-*')))}.out"
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "wb") as sink:
        proc = subprocess.Popen(
            [*CLI, "up", *args], env=service_env(settings), stdout=sink, stderr=subprocess.STDOUT
        )
    return proc, out


def healthy(settings: Settings) -> bool:
    try:
        url = f"http://127.0.0.1:{settings.api_port}/healthz"
        with urllib.request.urlopen(url, timeout=2) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def ctrl_c(proc: subprocess.Popen[bytes], out: Path) -> None:
    proc.send_signal(signal.SIGINT)
    code = proc.wait(90)
    assert code == 0, out.read_text()


def test_up_runs_the_demo_ward_then_restarts_on_the_same_data() -> None:
    settings = scratch_settings("carewatch-up-")
    proc, out = start_up(settings, "--residents", "2", "--rate", "5")
    try:
        wait_for(lambda: healthy(settings), until=bool, timeout=90, what=f"/healthz\n{out}")
        secrets_file = Path(settings.data_dir) / "secrets.json"
        assert stat.S_IMODE(secrets_file.stat().st_mode) == 0o600
        with psycopg.connect(database_url(settings), autocommit=True) as db:
            # The first start wrote the demo's week of history before the services started
            # (tests/e2e/test_demo_history.py checks that it pages nobody).
            assert count(db, "SELECT count(*) FROM readings WHERE ts < now() - '6 days'::interval")
            serving = db.execute("SELECT now()").fetchone()
            assert serving is not None
            wait_for(
                lambda: count(
                    db,
                    "SELECT count(DISTINCT device_id) FROM readings WHERE received_at > %s",
                    serving[0],
                ),
                # two residents and the family bed, a wearable and a bed sensor each, live
                until=lambda n: n == 6,
                timeout=60,
                what="live readings from every simulated device",
            )
            assert count(db, "SELECT count(*) FROM readings WHERE resident_id IS NULL") == 0
        # The simulator is supervised like the services: killed, it is started again.
        first = wait_for(lambda: child_pid(settings, SIMULATOR), until=bool, what="simulator")
        assert first is not None
        os.kill(first, signal.SIGKILL)
        wait_for(
            lambda: child_pid(settings, SIMULATOR),
            until=lambda pid: pid not in (None, first),
            timeout=30,
            what="the simulator restarted",
        )
        # ... and takes the demo ward's control socket back: demo events reach it.
        wait_for(
            lambda: (
                subprocess.run(
                    [*CLI, "demo", "event", "sos"],
                    env=service_env(settings),
                    capture_output=True,
                    timeout=60,
                    check=False,
                ).returncode
            ),
            until=lambda code: code == 0,
            timeout=90,
            every=1.0,
            what="a demo event taken by the restarted simulator",
        )
        with psycopg.connect(database_url(settings), autocommit=True) as db:
            assert count(db, "SELECT count(*) FROM care_team") == 1  # the demo care team
            home = count(db, "SELECT resident_id FROM residents WHERE site_id = 'demo-home'")
            row = db.execute("SELECT document FROM care_team").fetchone()
            assert row is not None
            team = row[0]
            assert [h["id"] for h in team["hospitals"]] == ["demo-hospital"]
            assert team["contacts"] == [
                {"resident": home, "family": ["demo-family"], "family_doctors": ["demo-gp"]}
            ]
            assert (
                count(
                    db,
                    "SELECT count(DISTINCT r.device_id) FROM readings r"
                    " JOIN devices d USING (device_id) WHERE d.site_id = 'demo-home'",
                )
                == 2
            )
        # Demo users can log in; their passwords are in a 0600 file, not in the output.
        users_file = Path(settings.data_dir) / "demo-users.json"
        assert stat.S_IMODE(users_file.stat().st_mode) == 0o600
        people = json.loads(users_file.read_text())
        assert set(people) == {"demo-caregiver", "demo-nurse", "demo-doctor", "demo-admin"}
        assert not any(password in out.read_text() for password in people.values())
        login = urllib.request.Request(
            f"http://127.0.0.1:{settings.api_port}/api/v1/auth/token",
            data=f"username=demo-nurse&password={people['demo-nurse']}".encode(),
            method="POST",
        )
        with urllib.request.urlopen(login, timeout=10) as response:  # noqa: S310 - loopback
            assert "access_token" in json.loads(response.read())
        pager = f"http://127.0.0.1:{settings.api_port}/demo/pager"
        with urllib.request.urlopen(pager, timeout=10) as response:
            assert "演示寻呼机" in response.read().decode()  # Chinese first
    finally:
        ctrl_c(proc, out)
    for port, what in (
        (settings.pg_port, "pg"),
        (settings.mqtt_port, "mqtt"),
        (settings.api_port, "api"),
    ):
        ensure_port_free("127.0.0.1", port, what=what, env_var="-")  # nothing left behind
    first_secrets = json.loads(secrets_file.read_text())
    assert "CareWatch stopped." in out.read_text()
    assert "restarting sim" in out.read_text()
    assert child_pid(settings, SIMULATOR) is None  # stopped with the rest

    proc, out = start_up(settings, "--no-sim")
    try:
        wait_for(lambda: healthy(settings), until=bool, timeout=90, what="/healthz again")
        added = subprocess.run(
            [*CLI, "device", "add", "cli-dev-1", "--site", "demo"],
            env=service_env(settings),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert added.returncode == 0, added.stderr
        assert "password:" in added.stdout
        with psycopg.connect(database_url(settings), autocommit=True) as db:
            assert count(db, "SELECT count(*) FROM readings") > 0  # the first run's data
            assert count(db, "SELECT count(*) FROM devices WHERE device_id = 'cli-dev-1'") == 1
    finally:
        ctrl_c(proc, out)
    assert json.loads(secrets_file.read_text()) == first_secrets
    assert "applied migration" not in out.read_text()


def test_up_names_a_taken_port_and_how_to_fix_it() -> None:
    settings = scratch_settings("carewatch-up-port-")
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", settings.api_port))
        squatter.listen()
        proc, out = start_up(settings, "--no-sim")
        code = proc.wait(60)
    text = out.read_text()
    assert code == 1
    assert f"127.0.0.1:{settings.api_port}" in text and "CAREWATCH_API_PORT" in text
    assert not (Path(settings.data_dir) / "pg").exists()  # failed before touching anything


@pytest.mark.parametrize(
    ("field", "env_var"),
    [
        ("ingest_metrics_port", "CAREWATCH_INGEST_METRICS_PORT"),
        ("detector_metrics_port", "CAREWATCH_DETECTOR_METRICS_PORT"),
        ("alerts_metrics_port", "CAREWATCH_ALERTS_METRICS_PORT"),
    ],
)
def test_up_names_a_taken_metrics_port_before_starting(field: str, env_var: str) -> None:
    settings = scratch_settings("carewatch-up-metrics-")
    port = getattr(settings, field)
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", port))
        squatter.listen()
        proc, out = start_up(settings, "--no-sim")
        try:
            code = proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGINT)  # it started anyway: stop it, leave nothing behind
            proc.wait(90)
            pytest.fail(f"carewatch up started with its metrics port taken:\n{out.read_text()}")
    text = out.read_text()
    assert code == 1, text
    assert f"127.0.0.1:{port}" in text and env_var in text
    assert "CareWatch is up" not in text
    assert not (Path(settings.data_dir) / "pg").exists()  # failed before touching anything


def test_a_missing_binary_is_named_with_the_fix() -> None:
    expected = r"`carewatch-no-such-server` not found: run scripts/setup"
    with pytest.raises(SetupError, match=expected):
        find_binary("carewatch-no-such-server", search=("/nonexistent/*/bin",))


def child_pid(settings: Settings, head: list[bytes]) -> int | None:
    """The pid of `up`'s child for this data dir whose command line, after the interpreter,
    begins with `head`."""
    data_dir = str(Path(settings.data_dir).resolve())
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            argv = (proc / "cmdline").read_bytes().split(b"\0")
            environ = (proc / "environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if argv[1 : 1 + len(head)] == head and (
            f"CAREWATCH_DATA_DIR={data_dir}".encode() in environ
        ):
            return int(proc.name)
    return None


def service_pid(settings: Settings, command: str) -> int | None:
    """The pid of `carewatch <command>` running for this data dir (it is `up`'s child)."""
    return child_pid(settings, [b"-m", b"services.cli", command.encode()])


SIMULATOR = [b"-m", b"device_sim"]  # `up` runs the simulator as a program of its own


def test_up_restarts_a_service_that_dies() -> None:
    settings = scratch_settings("carewatch-up-restart-")
    proc, out = start_up(settings, "--no-sim")
    try:
        wait_for(lambda: healthy(settings), until=bool, timeout=90, what="/healthz")
        first = wait_for(lambda: service_pid(settings, "ingest"), until=bool, what="ingest")
        assert first is not None
        os.kill(first, signal.SIGKILL)
        again = wait_for(
            lambda: service_pid(settings, "ingest"),
            until=lambda pid: pid not in (None, first),
            timeout=30,
            what="the ingest worker restarted",
        )
        assert again != first
    finally:
        ctrl_c(proc, out)
    assert "ingest exited" in out.read_text() and "restarting ingest" in out.read_text()
