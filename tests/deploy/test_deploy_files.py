"""deploy/ checked without a container engine: compose and systemd name real `carewatch`
commands and options, real settings, and the ports the settings default to; and each process
reads only its own secrets (deploy/env/), so the database roles of migration 0008 hold."""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import pytest
import typer.main
import yaml

from services.api.app import create_app
from services.cli import app
from services.cli.plugins import load_command, plugin_entry_points
from services.errors import ConfigError
from services.settings import (
    SERVICE_ROLES,
    ServiceRole,
    Settings,
    admin_token,
    database_url,
    mqtt_admin_endpoint,
    mqtt_ingest_endpoint,
)

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
UNITS = sorted((DEPLOY / "systemd").glob("*.service"))
HARDENING = ("NoNewPrivileges=true", "ProtectSystem=strict", "ProtectHome=true", "PrivateTmp=true")
DEFAULTS = Settings.model_fields
ENV = DEPLOY / "env"
EXAMPLES = sorted(ENV.glob("*.env.example"))

# Which env file each `carewatch` command is given (besides common.env): the first word of
# the command line in compose.yaml and the units. `--help` is compose's `admin` tool service.
ENV_FILE_OF_COMMAND = {
    "migrate": "owner",
    "upgrade-state": "owner",
    "backup": "owner",
    "--help": "owner",
    "ingest": "ingest",
    "detect": "detector",
    "alerts": "alerts",
    "api": "api",
}
# What each process's code path reads, from services/cli/ and services/api/app.py:
#   migrate, backup: database_url(s) (backup also: local_database, local_broker);
#   admin (`device add`, `device check`; `user add`, `site add`, `team load` need only the
#     first): database_url(s), mqtt_admin_endpoint(s);
#   ingest: mqtt_ingest_endpoint(s), database_url(s, "ingest");
#   detect: mqtt_ingest_endpoint(s), database_url(s, "detector");
#   alerts: database_url(s, "alerts"), admin_token(s) (signs acknowledgement links);
#   api: mqtt_admin_endpoint(s) (provisioning), admin_token(s), database_url(s, "api").
SECRETS_OF_FILE = {
    "owner": {"CAREWATCH_DATABASE_URL", "CAREWATCH_MQTT_ADMIN_URL"},
    "ingest": {"CAREWATCH_INGEST_DATABASE_URL", "CAREWATCH_MQTT_URL"},
    "detector": {"CAREWATCH_DETECTOR_DATABASE_URL", "CAREWATCH_MQTT_URL"},
    "alerts": {"CAREWATCH_ALERTS_DATABASE_URL", "CAREWATCH_ADMIN_TOKEN"},
    "api": {"CAREWATCH_API_DATABASE_URL", "CAREWATCH_ADMIN_TOKEN", "CAREWATCH_MQTT_ADMIN_URL"},
}
SECRET_SETTINGS = {
    f"CAREWATCH_{name.upper()}"
    for name, field in DEFAULTS.items()
    if "SecretStr" in str(field.annotation)
}


def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    return loaded


def carewatch_services() -> dict[str, dict[str, Any]]:
    return {
        name: s
        for name, s in compose()["services"].items()
        if str(s.get("image", "")).startswith("carewatch:")
    }


def check_command(argv: list[str]) -> None:
    """`argv` (after `carewatch`) names a registered command and only its options."""
    # Typer's click classes (typer may vendor click): duck-typed, groups have `commands`.
    command: Any = typer.main.get_command(app)
    words = list(argv)
    while hasattr(command, "commands"):
        assert words, f"{argv}: a command group needs a subcommand"
        name = words.pop(0)
        entry = plugin_entry_points().get(name)  # `upgrade-state`, by its entry point
        command = command.commands.get(name) or (entry and load_command(entry))
        assert command is not None, f"{argv}: `carewatch` has no command {name!r}"
    options = {opt for p in command.params for opt in p.opts + p.secondary_opts}
    for word in words:
        if word.startswith("--"):
            assert word.split("=", 1)[0] in options, f"{argv}: no option {word}"


def env_file(name: str) -> dict[str, str]:
    """deploy/env/NAME.env.example as the `KEY=value` lines systemd and compose read."""
    values = {}
    for line in (ENV / f"{name}.env.example").read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip()
    return values


def check_env_name(name: str) -> None:
    assert name.startswith("CAREWATCH_"), name
    field = name.removeprefix("CAREWATCH_").lower()
    assert field in DEFAULTS, f"{name} is not a setting (services/settings.py)"


def test_compose_runs_real_commands_with_real_settings() -> None:
    services = carewatch_services()
    assert {"migrate", "detector", "alerts", "api", "ingest-1"} <= set(services)
    for name, service in services.items():
        if service["command"] != ["--help"]:  # the admin tool: `docker compose run admin …`
            check_command([str(word) for word in service["command"]])
        for var in service.get("environment", {}):
            check_env_name(var)
        own = ENV_FILE_OF_COMMAND[str(service["command"][0])]
        assert service["env_file"] == ["./env/common.env", f"./env/{own}.env"], name
        assert service["read_only"] is True and "no-new-privileges:true" in service["security_opt"]
    assert services["migrate"]["restart"] == "no"
    assert services["upgrade-state"]["restart"] == "no"
    # The services that refuse pickled state wait for its upgrade (docs/operations.md).
    for name in ("detector", "alerts"):
        waits = services[name]["depends_on"]["upgrade-state"]["condition"]
        assert waits == "service_completed_successfully"
    # Every service but the migration itself waits for it.
    for name, service in services.items():
        if name not in ("migrate", "backup", "admin"):
            assert service["depends_on"]["migrate"]["condition"] == "service_completed_successfully"


def test_compose_keeps_secrets_out_of_the_file() -> None:
    text = (DEPLOY / "compose.yaml").read_text()
    assert not re.search(r"(PASSWORD|TOKEN|_URL)\s*:\s*\S", text.replace("_FILE:", "")), (
        "secrets go in env/*.env or compose secrets, never inline"
    )
    assert compose()["services"]["db"]["environment"]["POSTGRES_PASSWORD_FILE"].startswith(
        "/run/secrets/"
    )


def test_ports_match_the_settings_defaults() -> None:
    services = carewatch_services()
    api = services["api"]
    assert api["environment"]["CAREWATCH_API_PORT"] == str(DEFAULTS["api_port"].default)
    assert api["ports"] == [f"{DEFAULTS['api_port'].default}:{DEFAULTS['api_port'].default}"]
    expected = {
        "detector": DEFAULTS["detector_metrics_port"].default,
        "alerts": DEFAULTS["alerts_metrics_port"].default,
        "api": DEFAULTS["api_port"].default,
    }
    for name, service in services.items():
        if service["command"][:2] == ["ingest", "--worker"]:
            expected[name] = DEFAULTS["ingest_worker_metrics_base"].default + int(
                service["command"][2]
            )
    scrape = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    targets = {
        target
        for job in scrape["scrape_configs"]
        for static in job["static_configs"]
        for target in static["targets"]
    }
    assert targets == {f"{name}:{port}" for name, port in expected.items()}


@pytest.mark.parametrize("unit", UNITS, ids=[u.name for u in UNITS])
def test_systemd_units_run_real_commands_hardened(unit: Path) -> None:
    text = unit.read_text()
    lines = [line.strip() for line in text.splitlines()]
    (exec_start,) = [line for line in lines if line.startswith("ExecStart=")]
    argv = shlex.split(exec_start.removeprefix("ExecStart="))
    assert argv[0] == "/opt/carewatch/.venv/bin/carewatch"
    check_command([word.replace("%i", "1") for word in argv[1:]])
    own = ENV_FILE_OF_COMMAND[argv[1]]
    assert [line for line in lines if line.startswith("EnvironmentFile=")] == [
        "EnvironmentFile=/etc/carewatch/common.env",
        f"EnvironmentFile=/etc/carewatch/{own}.env",
    ], f"{unit.name}: common.env, then only its own secrets"
    for option in HARDENING:
        assert option in lines, f"{unit.name} lacks {option}"
    for line in lines:
        if line.startswith("Environment="):
            check_env_name(line.removeprefix("Environment=").split("=", 1)[0])
    if "Type=oneshot" not in lines:
        assert "Restart=always" in lines and "KillSignal=SIGINT" in lines


@pytest.mark.parametrize("service", ["detector", "alerts"])
def test_systemd_starts_the_state_upgrade_before_the_services_that_refuse_pickles(
    service: str,
) -> None:
    lines = (DEPLOY / "systemd" / f"carewatch-{service}.service").read_text().splitlines()
    for key in ("After=", "Requires="):
        (line,) = [line for line in lines if line.startswith(key)]
        assert "carewatch-upgrade-state.service" in line.split("=", 1)[1].split()


def test_the_env_examples_are_common_plus_one_per_process() -> None:
    assert {p.name.removesuffix(".env.example") for p in EXAMPLES} == {"common"} | set(
        SECRETS_OF_FILE
    )
    assert not (DEPLOY / "carewatch.env.example").exists()  # one file for all: the old layout


@pytest.mark.parametrize("example", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_the_env_examples_set_only_real_settings(example: Path) -> None:
    for name in env_file(example.name.removesuffix(".env.example")):
        check_env_name(name)


def test_common_env_holds_no_secret() -> None:
    assert not set(env_file("common")) & SECRET_SETTINGS
    assert not [v for v in env_file("common").values() if "CHANGE-ME" in v]


@pytest.mark.parametrize("process", sorted(SECRETS_OF_FILE))
def test_each_process_file_holds_exactly_its_own_secrets(process: str) -> None:
    given = env_file(process)
    assert set(given) & SECRET_SETTINGS == SECRETS_OF_FILE[process]
    if process != "owner":
        assert "CAREWATCH_DATABASE_URL" not in given, "only the owner's file holds its URL"
    roles = {f"CAREWATCH_{r.upper()}_DATABASE_URL" for r in SERVICE_ROLES}
    own = {f"CAREWATCH_{process.upper()}_DATABASE_URL"} & roles
    assert set(given) & roles == own, "a service's file holds its own role's URL, no other's"
    for name in own:
        assert given[name].startswith(f"postgresql://carewatch_{process}:")
    # Shared settings live in common.env only: one place to change them.
    assert not set(given) & set(env_file("common"))


def both_files(process: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """The settings a process gets from common.env and its own file, and nothing else (an
    empty data dir: any fallback to local secrets is a ConfigError)."""
    for name in list(DEFAULTS):
        monkeypatch.delenv(f"CAREWATCH_{name.upper()}", raising=False)
    for name, value in (env_file("common") | env_file(process)).items():
        monkeypatch.setenv(name, value)
    return Settings(data_dir=tmp_path)


# Each process's start-up, as services/cli/ and services/api/app.py do it.
STARTS: dict[str, Callable[[Settings], object]] = {
    "owner": lambda s: (database_url(s), mqtt_admin_endpoint(s)),
    "ingest": lambda s: (mqtt_ingest_endpoint(s), database_url(s, "ingest")),
    "detector": lambda s: (mqtt_ingest_endpoint(s), database_url(s, "detector")),
    "alerts": lambda s: (database_url(s, "alerts"), admin_token(s)),
    "api": create_app,  # builds everything it needs; connects only in its lifespan
}


@pytest.mark.parametrize("process", sorted(STARTS))
def test_each_process_starts_from_its_files_alone(
    process: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = both_files(process, tmp_path, monkeypatch)
    STARTS[process](settings)
    # An external database: nothing embedded is started or read from data_dir.
    assert not settings.local_database
    if process == "owner":
        assert database_url(settings).startswith("postgresql://carewatch:")
        # backup/restore must not look for (or write) an embedded broker's dynsec file.
        assert not settings.local_broker
    else:
        with pytest.raises(ConfigError):  # the owner's URL is out of reach
            database_url(settings)
        role = cast("ServiceRole", process)
        assert database_url(settings, role).startswith(f"postgresql://carewatch_{process}:")


def test_no_deploy_file_or_doc_names_the_shared_env_file() -> None:
    root = DEPLOY.parent
    texts = [p for p in DEPLOY.rglob("*") if p.is_file() and p.suffix != ".crt"]
    texts += [root / "README.md", *sorted((root / "docs").glob("*.md"))]
    for path in texts:
        assert "carewatch.env" not in path.read_text(errors="replace"), path
