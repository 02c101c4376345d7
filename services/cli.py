"""The `carewatch` command: run the stack, its services, devices and the simulator."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Protocol

import typer

from services.errors import CareWatchError
from services.settings import Settings

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

app = typer.Typer(help="CareWatch: resident monitoring and alerting.", no_args_is_help=True)
device_app = typer.Typer(help="Provision and manage devices.", no_args_is_help=True)
site_app = typer.Typer(help="Sites (care homes, community stations, home-care areas).")
app.add_typer(device_app, name="device")
app.add_typer(site_app, name="site")
user_app = typer.Typer(help="User accounts for the API and web pages.", no_args_is_help=True)
app.add_typer(user_app, name="user")
team_app = typer.Typer(
    help="The care team document: staff, shifts, contacts, hospitals, alert policy.",
    no_args_is_help=True,
)
app.add_typer(team_app, name="team")
demo_app = typer.Typer(help="The demo ward of `carewatch up`.", no_args_is_help=True)
app.add_typer(demo_app, name="demo")


def setup_logging(service: str) -> None:
    logging.basicConfig(
        level=logging.INFO,
        format=f"%(asctime)s {service} %(levelname)s %(name)s: %(message)s",
    )


def fail(exc: Exception) -> typer.Exit:
    typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
    return typer.Exit(code=1)


def stop_on_signals(stop: threading.Event) -> None:
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())


class Service(Protocol):
    def run(self) -> None: ...

    def stop(self) -> None: ...


def run_service(service: Service, *, metrics_port: int, registry: CollectorRegistry) -> None:
    """Serve its metrics on loopback (port 0: none) and run it until SIGINT or SIGTERM, which
    ask it to stop cleanly (finish and commit what it holds)."""
    from prometheus_client import start_http_server

    if metrics_port:
        start_http_server(metrics_port, addr=Settings().metrics_host, registry=registry)
    stop = threading.Event()
    stop_on_signals(stop)

    def stop_when_told() -> None:
        stop.wait()
        service.stop()

    threading.Thread(target=stop_when_told, daemon=True).start()
    service.run()


@app.command()
def up(
    no_sim: Annotated[bool, typer.Option("--no-sim", help="Do not start the simulator.")] = False,
    residents: Annotated[int, typer.Option(min=1, max=500, help="Demo residents.")] = 8,
    rate: Annotated[float, typer.Option(min=0.01, max=50.0, help="Vitals per second each.")] = 1.0,
) -> None:
    """Run everything locally in the foreground (data under CAREWATCH_DATA_DIR)."""
    from services.local.supervisor import run_up

    setup_logging("up")
    try:
        run_up(Settings(), sim=not no_sim, residents=residents, rate=rate)
    except CareWatchError as exc:
        raise fail(exc) from None


@app.command()
def migrate() -> None:
    """Apply pending database migrations (to CAREWATCH_DATABASE_URL or the local database)."""
    import psycopg

    from services.db.migrate import apply_migrations
    from services.settings import database_url

    setup_logging("migrate")
    try:
        with psycopg.connect(database_url(Settings()), autocommit=True) as conn:
            applied = apply_migrations(conn)
    except CareWatchError as exc:
        raise fail(exc) from None
    typer.echo(f"applied {len(applied)} migration(s)")


DynsecOption = Annotated[
    Path | None,
    typer.Option(
        "--dynsec-file",
        help="An external Mosquitto's dynamic-security.json (device accounts); "
        "the embedded broker's is used by default.",
    ),
]


@app.command()
def backup(
    path: Annotated[
        Path | None, typer.Argument(help="The backup file, or a directory to put it in.")
    ] = None,
    dynsec_file: DynsecOption = None,
) -> None:
    """Back up the database (one consistent pg_dump snapshot) and the broker's device accounts
    into one file; see docs/operations.md."""
    from datetime import UTC, datetime

    from services.backup.progress import RichSteps
    from services.backup.run import backup as run_backup

    setup_logging("backup")
    try:
        dest, manifest = run_backup(
            Settings(), path, dynsec_file=dynsec_file, now=datetime.now(UTC), ui=RichSteps()
        )
    except CareWatchError as exc:
        raise fail(exc) from None
    rows = sum(manifest.database.tables.values())
    typer.echo(f"backup written: {dest} ({rows} rows in {len(manifest.database.tables)} tables)")
    if not manifest.has_broker:
        typer.echo("note: no broker config included (give --dynsec-file for an external broker)")


@app.command()
def restore(
    path: Annotated[Path, typer.Argument(help="A file written by `carewatch backup`.")],
    force: Annotated[
        bool, typer.Option("--force", help="Replace a target database that holds data.")
    ] = False,
    dynsec_file: DynsecOption = None,
) -> None:
    """Restore a backup into an empty database (stop every CareWatch service first)."""
    from services.backup.progress import RichSteps
    from services.backup.run import restore as run_restore

    setup_logging("restore")
    try:
        report = run_restore(Settings(), path, force=force, dynsec_file=dynsec_file, ui=RichSteps())
    except CareWatchError as exc:
        raise fail(exc) from None
    for note in report.notes:
        typer.echo(f"note: {note}")
    db = report.manifest.database
    typer.echo(
        f"restored the backup of {report.manifest.created_at}: {sum(db.tables.values())} rows "
        f"in {len(db.tables)} tables, schema at migration {db.migration_version}"
    )
    if report.migrations_applied:
        typer.echo(f"then applied migration(s) {', '.join(report.migrations_applied)}")
    if report.broker_file is not None:
        typer.echo(f"broker accounts restored to {report.broker_file} (start the broker now)")


@app.command()
def ingest(
    worker_no: Annotated[
        int | None,
        typer.Option(
            "--worker",
            help="Worker N of several sharing the stream: client id CLIENT_ID-N, the shared "
            "group, metrics on CAREWATCH_INGEST_WORKER_METRICS_BASE+N (docs/scaling.md).",
        ),
    ] = None,
    share_group: Annotated[
        str | None, typer.Option(help="MQTT 5 shared-subscription group (several workers).")
    ] = None,
    client_id: Annotated[str | None, typer.Option(help="MQTT client id (one per worker).")] = None,
    metrics_port: Annotated[
        int | None, typer.Option(help="Serve /metrics on this loopback port (0: none).")
    ] = None,
) -> None:
    """Run the ingest worker: MQTT → validated readings → TimescaleDB."""
    from prometheus_client import CollectorRegistry

    from ingest.metrics import IngestMetrics
    from ingest.scaleout import worker_identity
    from ingest.worker import IngestWorker, WorkerConfig
    from services.settings import database_url, mqtt_ingest_endpoint

    setup_logging("ingest")
    settings = Settings()
    registry = CollectorRegistry()
    try:
        identity = worker_identity(
            worker=worker_no if worker_no is not None else settings.ingest_worker,
            client_id=client_id,
            share_group=share_group or settings.ingest_share_group,
            metrics_port=metrics_port,
            base_client_id=settings.ingest_client_id,
            default_metrics_port=settings.ingest_metrics_port,
            worker_metrics_base=settings.ingest_worker_metrics_base,
        )
        worker = IngestWorker(
            WorkerConfig(
                client_id=identity.client_id,
                batch_size=settings.ingest_batch_size,
                flush_s=settings.ingest_flush_ms / 1000,
                queue_max=settings.ingest_queue_max,
                share_group=identity.share_group,
                retention_days=settings.retention_days,
                dead_letter_days=settings.dead_letter_days,
                dead_letter_max_rows=settings.dead_letter_max_rows,
            ),
            mqtt_endpoint=mqtt_ingest_endpoint(settings),
            database_url=database_url(settings, "ingest"),
            metrics=IngestMetrics(registry),
        )
    except CareWatchError as exc:
        raise fail(exc) from None
    logging.getLogger("carewatch.ingest").info(
        "client id %s, %s", identity.client_id, worker.config.topic_filter
    )
    run_service(worker, metrics_port=identity.metrics_port, registry=registry)


@app.command()
def detect(
    sites: Annotated[
        str | None,
        typer.Option(
            help="Only these sites, comma-separated: one partition of several "
            "(default: CAREWATCH_DETECTOR_SITES, else every site; docs/scaling.md)."
        ),
    ] = None,
    partition: Annotated[
        str | None,
        typer.Option(
            help="The partition's stable name: its MQTT session and cursor "
            "(default: CAREWATCH_DETECTOR_PARTITION, else the sites joined by _)."
        ),
    ] = None,
    client_id: Annotated[
        str | None,
        typer.Option(help="MQTT client id (default carewatch-detector[-PARTITION])."),
    ] = None,
    metrics_port: Annotated[
        int | None,
        typer.Option(help="Serve /metrics on this loopback port (default: the setting; 0: none)."),
    ] = None,
) -> None:
    """Run the streaming detector: the device stream → rules → alert candidates."""
    from prometheus_client import CollectorRegistry

    from services.broker.acl import check_service_client_id
    from services.detector.partition import parse_partition
    from services.detector.service import Detector, DetectorConfig, DetectorMetrics
    from services.settings import database_url, mqtt_ingest_endpoint

    setup_logging("detect")
    settings = Settings()
    registry = CollectorRegistry()
    try:
        owned = parse_partition(
            sites if sites is not None else settings.detector_sites,
            partition or settings.detector_partition,
        )
        if client_id is not None:
            check_service_client_id(client_id, "--client-id")
        detector = Detector(
            DetectorConfig(partition=owned, client_id=client_id),
            mqtt_endpoint=mqtt_ingest_endpoint(settings),
            database_url=database_url(settings, "detector"),
            metrics=DetectorMetrics(registry),
        )
    except CareWatchError as exc:
        raise fail(exc) from None
    port = settings.detector_metrics_port if metrics_port is None else metrics_port
    run_service(detector, metrics_port=port, registry=registry)


@app.command()
def alerts() -> None:
    """Run the alert service: candidates → incidents → escalation → notifications (apprise)."""
    from prometheus_client import CollectorRegistry

    from services.alerts.links import LinkSigner
    from services.alerts.service import AlertMetrics, AlertService, AlertServiceConfig
    from services.referrals.for_alerts import AlertReferrals
    from services.settings import admin_token, database_url

    setup_logging("alerts")
    settings = Settings()
    registry = CollectorRegistry()
    try:
        service = AlertService(
            database_url(settings, "alerts"),
            signer=LinkSigner(admin_token(settings), ttl_s=settings.ack_link_ttl_s),
            metrics=AlertMetrics(registry),
            referrals=AlertReferrals(),
            config=AlertServiceConfig(base_url=settings.base_url),
        )
    except CareWatchError as exc:
        raise fail(exc) from None
    run_service(service, metrics_port=settings.alerts_metrics_port, registry=registry)


def _read_team(path: Path) -> object:
    import yaml

    from services.alerts.team import load_care_team

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise CareWatchError(f"cannot read {path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise CareWatchError(f"{path} is not valid YAML/JSON: {exc}") from None
    if not isinstance(data, dict):
        raise CareWatchError(f"{path}: the document must be a mapping (staff:, shifts:, ...)")
    return load_care_team(data)


@team_app.command("check")
def team_check(path: Path) -> None:
    """Validate a care team file without storing it."""
    try:
        _read_team(path)
    except CareWatchError as exc:
        raise fail(exc) from None
    typer.echo(f"{path}: valid")


@team_app.command("load")
def team_load(path: Path) -> None:
    """Validate a care team file and store it as the new version (the alert service reloads)."""
    from psycopg import AsyncConnection

    from services.alerts.team import CareTeam, roster_of
    from services.alerts.team_store import placements, store_team
    from services.settings import database_url

    try:
        team = _read_team(path)
        assert isinstance(team, CareTeam)

        async def store() -> int:
            async with await AsyncConnection.connect(database_url(Settings())) as conn:
                roster_of(team, await placements(conn))  # contacts must name known residents
                version = await store_team(conn, team, by=f"cli:{path.name}")
                await conn.commit()
                return version

        version = asyncio.run(store())
    except CareWatchError as exc:
        raise fail(exc) from None
    typer.echo(f"stored care team version {version}")


@user_app.command("add")
def user_add(
    username: str,
    role: Annotated[str, typer.Option(help="admin, physician, nurse, caregiver or integrator.")],
    site: Annotated[
        str | None, typer.Option(help="The site they work at (omit: every site).")
    ] = None,
    unit: Annotated[
        list[str] | None, typer.Option(help="A unit they work on (repeat; omit: every unit).")
    ] = None,
    staff: Annotated[str | None, typer.Option(help="Their id in the care team document.")] = None,
    hospital: Annotated[
        str | None, typer.Option(help="For a partner hospital's staff: the hospital id.")
    ] = None,
) -> None:
    """Create a user; the password is read from standard input (never from the command line,
    where other users and the shell history would see it)."""
    from psycopg import AsyncConnection

    from services.auth.principal import ROLES
    from services.auth.users import create_user
    from services.settings import database_url

    if role not in ROLES:
        raise fail(CareWatchError(f"unknown role {role!r}: one of {', '.join(ROLES)}"))
    if sys.stdin.isatty():
        import getpass

        password = getpass.getpass("password: ")
    else:
        password = sys.stdin.readline().rstrip("\n")

    async def add() -> int:
        async with await AsyncConnection.connect(database_url(Settings())) as conn:
            user_id = await create_user(
                conn,
                username,
                password,
                role,  # checked against ROLES above
                site_id=site,
                unit_ids=unit or (),
                staff_id=staff,
                hospital_id=hospital,
            )
            await conn.commit()
            return user_id

    try:
        user_id = asyncio.run(add())
    except CareWatchError as exc:
        raise fail(exc) from None
    typer.echo(f"created user {username} ({role}) with id {user_id}")


@app.command("eval")
def eval_(
    split: Annotated[
        str | None, typer.Option(help="Only this split: tune or heldout (default: both).")
    ] = None,
    scenario: Annotated[
        list[str] | None, typer.Option("--scenario", "-s", help="Only these scenarios (by name).")
    ] = None,
    details: Annotated[
        bool, typer.Option("--details/--no-details", help="List misses and false alerts.")
    ] = True,
) -> None:
    """Replay the labelled scenario library through the rules; print detection quality."""
    from services.evaluation.report import eval_command

    if split not in (None, "tune", "heldout"):
        raise fail(ValueError(f"--split must be tune or heldout, got {split!r}"))
    eval_command(split=split, scenarios=scenario or (), details=details)


@app.command()
def api() -> None:
    """Run the HTTP API and web pages."""
    import uvicorn

    from services.api.app import create_app
    from services.api.server import server_config

    setup_logging("api")
    settings = Settings()
    try:
        application = create_app(settings)
    except CareWatchError as exc:
        raise fail(exc) from None
    server = uvicorn.Server(server_config(application, settings))
    server.run()
    if not server.started:  # as uvicorn.run: a port in use (or the like) is a failed start
        raise typer.Exit(3)


@site_app.command("add")
def site_add(site_id: str, name: Annotated[str, typer.Option(help="Display name.")]) -> None:
    """Add a site (idempotent)."""
    from psycopg import AsyncConnection

    from services.devices import repo
    from services.settings import database_url

    async def run() -> None:
        async with await AsyncConnection.connect(database_url(Settings()), autocommit=True) as conn:
            await repo.ensure_site(conn, site_id=site_id, name=name)

    asyncio.run(run())
    typer.echo(f"site {site_id} ready")


@device_app.command("add")
def device_add(
    device_id: str,
    site: Annotated[str, typer.Option(help="The site the device belongs to.")],
    kind: Annotated[str, typer.Option(help="wearable, bed_sensor or gateway.")] = "wearable",
    placement: Annotated[
        str | None,
        typer.Option(
            help="Where it is worn: wrist, waist, chest or pendant; bed for a bed sensor."
        ),
    ] = None,
) -> None:
    """Provision a device: prints its MQTT password once (only a hash is kept)."""
    from psycopg import AsyncConnection

    from rules.fall_placement import parse_placement
    from services.broker.dynsec import DynsecAccounts
    from services.devices.provisioning import DeviceError, provision_device
    from services.settings import database_url, mqtt_admin_endpoint

    if kind not in ("wearable", "bed_sensor", "gateway"):
        raise fail(ValueError("--kind must be wearable, bed_sensor or gateway"))
    try:
        # Checked before connecting to anything; the pairing with --kind by provision_device.
        declared = None if placement is None else parse_placement(placement)
    except ValueError as exc:
        raise fail(exc) from None
    settings = Settings()

    async def run() -> str:
        broker = DynsecAccounts(mqtt_admin_endpoint(settings))
        async with await AsyncConnection.connect(database_url(settings), autocommit=True) as conn:
            issued = await provision_device(
                conn,
                broker,
                device_id=device_id,
                site_id=site,
                kind=kind,  # type: ignore[arg-type]
                placement=declared,
            )
            return issued.password

    try:
        password = asyncio.run(run())
    except (CareWatchError, DeviceError) as exc:
        raise fail(exc) from None
    typer.echo(
        f"device:   {device_id}\nsite:     {site}\n"
        + (f"placement: {placement}\n" if placement else "")
        + f"broker:   {settings.mqtt_host}:{settings.mqtt_port}"
    )
    typer.echo(
        f"username: {device_id}\npassword: {password}   (shown once: store it on the device)"
    )
    typer.echo(f"topics:   carewatch/v1/{site}/{device_id}/{{vitals,motion,bed,event,status,fhir}}")


@device_app.command("check")
def device_check(
    device: Annotated[str, typer.Option("--device", help="The device to watch.")],
    duration: Annotated[
        float | None, typer.Option(min=0.1, help="Seconds to watch (default: until Ctrl-C).")
    ] = None,
    expect: Annotated[
        list[str] | None,
        typer.Option(help="A stream it must send (repeat; default: by its kind)."),
    ] = None,
    max_skew: Annotated[
        float, typer.Option(min=0.0, help="Clock offset, in seconds, beyond which to warn.")
    ] = 2.0,
    strict: Annotated[
        bool, typer.Option("--strict", help="Fail on warnings too (gaps, skew, missing streams).")
    ] = False,
) -> None:
    """Watch a device's messages live and judge each as the ingest worker would; exits 1 if
    any would be rejected."""
    from datetime import timedelta

    from services.devices.check import parse_streams
    from services.devices.watch import run_device_check

    try:
        wanted = None if expect is None else parse_streams(expect)
    except ValueError as exc:
        raise fail(exc) from None
    try:
        summary = run_device_check(
            Settings(),
            device_id=device,
            duration_s=duration,
            expect=wanted,
            max_skew=timedelta(seconds=max_skew),
            strict=strict,
            emit=typer.echo,
        )
    except CareWatchError as exc:
        raise fail(exc) from None
    raise typer.Exit(code=summary.exit_code(strict=strict))


@app.command()
def sim(
    residents: Annotated[
        int | None, typer.Option(min=1, max=500, help="Residents to simulate (default 8).")
    ] = None,
    rate: Annotated[
        float | None,
        typer.Option(min=0.001, max=100.0, help="Vitals (and bed readings) per second each."),
    ] = None,
    duration: Annotated[
        float | None, typer.Option(help="Simulated seconds to run (default: forever).")
    ] = None,
    seed: Annotated[
        int | None, typer.Option(help="Random seed: same seed, same messages (default 1).")
    ] = None,
    speed: Annotated[
        float,
        typer.Option(
            min=0.1, help="Simulated seconds per real second ('inf': as fast as acknowledged)."
        ),
    ] = 1.0,
    start: Annotated[
        str | None,
        typer.Option(
            help="Simulated start, RFC 3339 with an offset (default: now, or early enough to "
            "end now when faster than real time)."
        ),
    ] = None,
    devices: Annotated[
        Path | None,
        typer.Option(help="Devices file (JSON) to use instead of the local demo ward."),
    ] = None,
    host: Annotated[
        str | None, typer.Option(help="Broker host (default CAREWATCH_MQTT_HOST).")
    ] = None,
    port: Annotated[
        int | None,
        typer.Option(
            help="Broker port (default CAREWATCH_MQTT_PORT; with TLS CAREWATCH_MQTT_TLS_PORT)."
        ),
    ] = None,
    tls: Annotated[
        bool, typer.Option("--tls", help="Connect over TLS (mqtts), as devices in the field do.")
    ] = False,
    ca_file: Annotated[
        Path | None,
        typer.Option(
            help="With TLS, trust only this CA (PEM; default CAREWATCH_MQTT_CA_FILE, else the "
            "system's CAs). Implies --tls."
        ),
    ] = None,
    scenario: Annotated[
        Path | None,
        typer.Option(
            help="Scenario YAML (which resident, what, when; see device_sim/library): played "
            "by the ward's devices, with its ground truth in the labels."
        ),
    ] = None,
    labels: Annotated[
        Path | None,
        typer.Option(
            help="Write the ground-truth labels here (JSON Lines; default with --scenario or "
            "--out: beside the output, NAME.labels.jsonl)."
        ),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            help="Dry run: write the messages to this JSON Lines file instead of publishing "
            "(no broker, no pacing; with --start, byte-identical every time)."
        ),
    ] = None,
    routine: Annotated[
        bool | None,
        typer.Option(
            "--routine/--no-routine",
            help="Meals, the morning wash (wearable off) and everyday activities (motion "
            "windows). Default on.",
        ),
    ] = None,
    fever_rate: Annotated[
        float, typer.Option(min=0.0, help="Fevers per resident-day (HR and RR rise with them).")
    ] = 0.0,
    wifi_drops: Annotated[
        float,
        typer.Option(
            min=0.0, help="Wi-Fi drops per device-day; the backlog is sent on reconnecting."
        ),
    ] = 0.0,
    clock_drift: Annotated[
        float,
        typer.Option(min=0.0, max=1000.0, help="Device clock drift: standard deviation, ppm."),
    ] = 0.0,
    duplicate_rate: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="Share of messages sent twice.")
    ] = 0.0,
    reorder_rate: Annotated[
        float,
        typer.Option(min=0.0, max=1.0, help="Share of messages overtaken by 1-3 later ones."),
    ] = 0.0,
    malformed_rate: Annotated[
        float,
        typer.Option(min=0.0, max=1.0, help="Share of readings followed by a malformed copy."),
    ] = 0.0,
    malformed_kind: Annotated[
        list[str] | None,
        typer.Option(help="Only this malformed kind (repeat; default: all of them)."),
    ] = None,
    max_inflight: Annotated[
        int,
        typer.Option(min=1, max=65535, help="QoS 1: unacknowledged messages per device at most."),
    ] = 1000,
) -> None:
    """Simulate residents' wearables and bed sensors publishing through the broker (or, with
    --out, into a file), with a summary at the end."""
    from datetime import UTC, datetime
    from typing import cast

    from device_sim.devices import load_devices, synthetic_ward
    from device_sim.errors import SimulatorError
    from device_sim.faults import Faults
    from device_sim.malformed import MALFORMED_KINDS, MalformedKind
    from device_sim.run import run_simulation, write_simulation
    from device_sim.scenarios import ScenarioError, load_spec
    from device_sim.ward import WardOptions
    from services.local.demo import claim_demo_ward, ensure_demo_ward

    setup_logging("sim")
    settings = Settings()
    try:
        spec = None if scenario is None else load_spec(scenario)
        if spec is not None:
            given = [
                name
                for name, value in (
                    ("--residents", residents),
                    ("--rate", rate),
                    ("--duration", duration),
                    ("--routine/--no-routine", routine),
                )
                if value is not None
            ]
            if fever_rate:
                given.append("--fever-rate")
            if given:
                raise ValueError(
                    f"{', '.join(given)}: the scenario file sets its residents, cadence, "
                    "duration and events"
                )
        kinds = tuple(malformed_kind or MALFORMED_KINDS)
        unknown = [k for k in kinds if k not in MALFORMED_KINDS]
        if unknown:
            raise ValueError(
                f"unknown malformed kind {unknown[0]!r}: one of {', '.join(MALFORMED_KINDS)}"
            )
        faults = Faults(
            wifi_drops_per_day=wifi_drops,
            clock_drift_ppm=clock_drift,
            duplicate_rate=duplicate_rate,
            reorder_rate=reorder_rate,
            malformed_rate=malformed_rate,
            malformed_kinds=cast("tuple[MalformedKind, ...]", kinds),
        )
        ward = WardOptions(routine=routine is not False, fever_rate=fever_rate)
        begin = None if start is None else datetime.fromisoformat(start)
        if begin is not None and begin.utcoffset() is None:
            raise ValueError(f"--start {start!r} needs an offset (e.g. +08:00 or Z)")
        count = len(spec.residents) if spec is not None else residents or 8
        seed_ = seed if seed is not None else spec.seed if spec is not None else 1
        if labels is None and out is not None:
            labels = out.with_name(f"{out.stem}.labels.jsonl")
        stop = threading.Event()
        stop_on_signals(stop)
        if out is not None:
            chosen = load_devices(devices) if devices is not None else synthetic_ward(count)
            summary = write_simulation(
                chosen,
                out,
                duration_s=duration,
                seed=seed_,
                start=begin or datetime.now(UTC),
                rate_hz=rate or 1.0,
                stop=stop,
                progress=sys.stderr.isatty(),
                ward=ward,
                faults=faults,
                scenario=spec,
                labels_path=labels,
            )
            verb = f"wrote to {out}:"
        else:
            control = None
            if devices is not None:
                chosen = load_devices(devices)
            else:
                # A scenario casts the nursing home's residents (its clusters are per unit).
                chosen = asyncio.run(ensure_demo_ward(settings, count, family_bed=spec is None))
                control = claim_demo_ward(settings, chosen, live=spec is None)
            use_tls = tls or ca_file is not None
            trusted = ca_file or settings.mqtt_ca_file
            default_port = settings.mqtt_port
            if use_tls:
                default_port = settings.mqtt_tls_port or 8883
            try:
                summary = run_simulation(
                    chosen,
                    host=host or settings.mqtt_host,
                    port=port or default_port,
                    tls=use_tls,
                    ca_file=None if trusted is None else str(trusted),
                    rate_hz=rate or 1.0,
                    duration_s=duration,
                    seed=seed_,
                    stop=stop,
                    speed=speed,
                    start=begin,
                    progress=sys.stderr.isatty(),
                    max_inflight=max_inflight,
                    ward=ward,
                    faults=faults,
                    scenario=spec,
                    labels_path=labels,
                    control=control,
                )
            finally:
                if control is not None:
                    control.close()
            verb = "published"
    except (CareWatchError, SimulatorError, ScenarioError, ValueError, OSError) as exc:
        raise fail(exc) from None
    for line in summary.lines(verb=verb):
        typer.echo(line)
    if labels is not None:
        typer.echo(f"  labels: {summary.labels:,} written to {labels}")


@demo_app.command("event")
def demo_event(
    kind: Annotated[
        str,
        typer.Argument(
            help="fall, sos, hypoxia, fever, bed-exit, news2-deterioration or device-offline."
        ),
    ],
    resident: Annotated[
        str | None,
        typer.Option(help="The resident's id (as on the board; default: the first)."),
    ] = None,
) -> None:
    """Make something happen to a resident of the running demo ward (`carewatch up`): their
    devices send it, and the rules page as they would for the real thing. Exits 2 when the
    event, the resident or a running demo is not there."""
    from device_sim.control import ControlUnavailable, send_event
    from device_sim.demo_events import KINDS, DemoEventError, script_for
    from services.local.demo import control_path

    def refuse(message: str) -> typer.Exit:
        typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
        return typer.Exit(code=2)

    try:
        script_for(kind)
    except DemoEventError as exc:
        raise refuse(str(exc)) from None
    path = control_path(Settings())
    try:
        reply = send_event(path, kind, resident)
    except ControlUnavailable:
        raise refuse(
            f"no demo simulator is running for {path.parent}: start `carewatch up` (or "
            "`carewatch sim` on the demo ward) first"
        ) from None
    except (OSError, ValueError) as exc:
        raise refuse(f"the demo simulator did not answer: {exc}") from None
    if not reply.get("ok"):
        raise refuse(str(reply.get("error", "refused")))
    devices = ", ".join(reply.get("devices", []))
    who = str(reply["resident"]).removeprefix("r")
    typer.echo(f"{kind} sent to resident {who} ({devices}).")
    typer.echo(f"expect: {reply.get('expect', '')}")
    typer.echo(f"other kinds: {', '.join(k for k in KINDS if k != kind)}")


if __name__ == "__main__":
    app()
