"""`carewatch sim` (also `python -m device_sim`): the simulated ward publishing through the
broker, or written to a file with --out, and a summary at the end."""

from __future__ import annotations

import asyncio
import sys
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, cast

import typer

from device_sim.cli.options import (
    CaFileOption,
    ClockDriftOption,
    DevicesOption,
    DuplicateRateOption,
    DurationOption,
    FeverRateOption,
    HostOption,
    LabelsOption,
    MalformedKindOption,
    MalformedRateOption,
    MaxInflightOption,
    OutOption,
    PortOption,
    RateOption,
    ReorderRateOption,
    ResidentsOption,
    RoutineOption,
    ScenarioOption,
    SeedOption,
    SpeedOption,
    StartOption,
    TlsOption,
    WifiDropsOption,
)
from device_sim.errors import SimulatorError
from device_sim.faults import Faults
from device_sim.malformed import MALFORMED_KINDS, MalformedKind
from device_sim.scenarios import ScenarioError, ScenarioSpec, load_spec
from device_sim.ward import WardOptions
from services.cli.common import fail, setup_logging, stop_on_signals
from services.errors import CareWatchError
from services.settings import Settings

if TYPE_CHECKING:
    from device_sim.run_summary import SimSummary

sim_app = typer.Typer(add_completion=False)


@dataclass(frozen=True)
class Plan:
    """What a run is, whether published or written."""

    spec: ScenarioSpec | None
    residents: int
    rate_hz: float
    duration_s: float | None
    seed: int
    start: datetime | None
    ward: WardOptions
    faults: Faults
    labels: Path | None
    stop: threading.Event


def scenario_spec(
    path: Path | None, given: dict[str, object], fever_rate: float
) -> ScenarioSpec | None:
    """The scenario file's spec; it sets residents, cadence, duration and events itself, so
    options that would too are refused."""
    if path is None:
        return None
    spec = load_spec(path)
    clashing = [name for name, value in given.items() if value is not None]
    if fever_rate:
        clashing.append("--fever-rate")
    if clashing:
        raise ValueError(
            f"{', '.join(clashing)}: the scenario file sets its residents, cadence, "
            "duration and events"
        )
    return spec


def malformed_kinds(asked: list[str] | None) -> tuple[MalformedKind, ...]:
    kinds = tuple(asked or MALFORMED_KINDS)
    unknown = [k for k in kinds if k not in MALFORMED_KINDS]
    if unknown:
        raise ValueError(
            f"unknown malformed kind {unknown[0]!r}: one of {', '.join(MALFORMED_KINDS)}"
        )
    return cast("tuple[MalformedKind, ...]", kinds)


def parse_start(start: str | None) -> datetime | None:
    begin = None if start is None else datetime.fromisoformat(start)
    if begin is not None and begin.utcoffset() is None:
        raise ValueError(f"--start {start!r} needs an offset (e.g. +08:00 or Z)")
    return begin


def write_run(plan: Plan, devices: Path | None, out: Path) -> SimSummary:
    """A dry run into `out`: the given devices, or a synthetic ward like the demo's."""
    from device_sim.devices import load_devices, synthetic_ward
    from device_sim.run import write_simulation

    chosen = load_devices(devices) if devices is not None else synthetic_ward(plan.residents)
    return write_simulation(
        chosen,
        out,
        duration_s=plan.duration_s,
        seed=plan.seed,
        start=plan.start or datetime.now(UTC),
        rate_hz=plan.rate_hz,
        stop=plan.stop,
        progress=sys.stderr.isatty(),
        ward=plan.ward,
        faults=plan.faults,
        scenario=plan.spec,
        labels_path=plan.labels,
    )


@dataclass(frozen=True)
class Broker:
    host: str | None
    port: int | None
    tls: bool
    ca_file: Path | None
    speed: float
    max_inflight: int


def publish_run(plan: Plan, devices: Path | None, broker: Broker) -> SimSummary:
    """Publish to the broker: the given devices, or the local demo ward's (held through its
    control socket while they run, which also takes `carewatch demo event`)."""
    from device_sim.cli.demo_ward import claim_demo_ward, ensure_demo_ward
    from device_sim.devices import load_devices
    from device_sim.run import run_simulation

    settings = Settings()
    control = None
    if devices is not None:
        chosen = load_devices(devices)
    else:
        # A scenario casts the nursing home's residents (its clusters are per unit).
        family_bed = plan.spec is None
        chosen = asyncio.run(ensure_demo_ward(settings, plan.residents, family_bed=family_bed))
        control = claim_demo_ward(settings, chosen, live=plan.spec is None)
    use_tls = broker.tls or broker.ca_file is not None
    trusted = broker.ca_file or settings.mqtt_ca_file
    default_port = (settings.mqtt_tls_port or 8883) if use_tls else settings.mqtt_port
    try:
        return run_simulation(
            chosen,
            host=broker.host or settings.mqtt_host,
            port=broker.port or default_port,
            tls=use_tls,
            ca_file=None if trusted is None else str(trusted),
            rate_hz=plan.rate_hz,
            duration_s=plan.duration_s,
            seed=plan.seed,
            stop=plan.stop,
            speed=broker.speed,
            start=plan.start,
            progress=sys.stderr.isatty(),
            max_inflight=broker.max_inflight,
            ward=plan.ward,
            faults=plan.faults,
            scenario=plan.spec,
            labels_path=plan.labels,
            control=control,
        )
    finally:
        if control is not None:
            control.close()


@sim_app.command()
def sim(
    residents: ResidentsOption = None,
    rate: RateOption = None,
    duration: DurationOption = None,
    seed: SeedOption = None,
    speed: SpeedOption = 1.0,
    start: StartOption = None,
    devices: DevicesOption = None,
    host: HostOption = None,
    port: PortOption = None,
    tls: TlsOption = False,
    ca_file: CaFileOption = None,
    scenario: ScenarioOption = None,
    labels: LabelsOption = None,
    out: OutOption = None,
    routine: RoutineOption = None,
    fever_rate: FeverRateOption = 0.0,
    wifi_drops: WifiDropsOption = 0.0,
    clock_drift: ClockDriftOption = 0.0,
    duplicate_rate: DuplicateRateOption = 0.0,
    reorder_rate: ReorderRateOption = 0.0,
    malformed_rate: MalformedRateOption = 0.0,
    malformed_kind: MalformedKindOption = None,
    max_inflight: MaxInflightOption = 1000,
) -> None:
    """Simulate residents' wearables and bed sensors publishing through the broker (or, with
    --out, into a file), with a summary at the end."""
    setup_logging("sim")
    try:
        given: dict[str, object] = {"--residents": residents, "--rate": rate}
        given |= {"--duration": duration, "--routine/--no-routine": routine}
        spec = scenario_spec(scenario, given, fever_rate)
        faults = Faults(
            wifi_drops_per_day=wifi_drops,
            clock_drift_ppm=clock_drift,
            duplicate_rate=duplicate_rate,
            reorder_rate=reorder_rate,
            malformed_rate=malformed_rate,
            malformed_kinds=malformed_kinds(malformed_kind),
        )
        if labels is None and out is not None:
            labels = out.with_name(f"{out.stem}.labels.jsonl")
        plan = Plan(
            spec=spec,
            residents=len(spec.residents) if spec is not None else residents or 8,
            rate_hz=rate or 1.0,
            duration_s=duration,
            seed=seed if seed is not None else spec.seed if spec is not None else 1,
            start=parse_start(start),
            ward=WardOptions(routine=routine is not False, fever_rate=fever_rate),
            faults=faults,
            labels=labels,
            stop=threading.Event(),
        )
        stop_on_signals(plan.stop)
        if out is not None:
            summary, verb = write_run(plan, devices, out), f"wrote to {out}:"
        else:
            broker = Broker(host, port, tls, ca_file, speed, max_inflight)
            summary, verb = publish_run(plan, devices, broker), "published"
    except (CareWatchError, SimulatorError, ScenarioError, ValueError, OSError) as exc:
        raise fail(exc) from None
    for line in summary.lines(verb=verb):
        typer.echo(line)
    if labels is not None:
        typer.echo(f"  labels: {summary.labels:,} written to {labels}")
