"""The options of `carewatch sim` (one alias each, so the command reads as a list)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

ResidentsOption = Annotated[
    int | None, typer.Option(min=1, max=500, help="Residents to simulate (default 8).")
]
RateOption = Annotated[
    float | None,
    typer.Option(min=0.001, max=100.0, help="Vitals (and bed readings) per second each."),
]
DurationOption = Annotated[
    float | None, typer.Option(help="Simulated seconds to run (default: forever).")
]
SeedOption = Annotated[
    int | None, typer.Option(help="Random seed: same seed, same messages (default 1).")
]
SpeedOption = Annotated[
    float,
    typer.Option(
        min=0.1, help="Simulated seconds per real second ('inf': as fast as acknowledged)."
    ),
]
StartOption = Annotated[
    str | None,
    typer.Option(
        help="Simulated start, RFC 3339 with an offset (default: now, or early enough to "
        "end now when faster than real time)."
    ),
]
DevicesOption = Annotated[
    Path | None,
    typer.Option(help="Devices file (JSON) to use instead of the local demo ward."),
]
HostOption = Annotated[str | None, typer.Option(help="Broker host (default CAREWATCH_MQTT_HOST).")]
PortOption = Annotated[
    int | None,
    typer.Option(
        help="Broker port (default CAREWATCH_MQTT_PORT; with TLS CAREWATCH_MQTT_TLS_PORT)."
    ),
]
TlsOption = Annotated[
    bool, typer.Option("--tls", help="Connect over TLS (mqtts), as devices in the field do.")
]
CaFileOption = Annotated[
    Path | None,
    typer.Option(
        help="With TLS, trust only this CA (PEM; default CAREWATCH_MQTT_CA_FILE, else the "
        "system's CAs). Implies --tls."
    ),
]
ScenarioOption = Annotated[
    Path | None,
    typer.Option(
        help="Scenario YAML (which resident, what, when; see device_sim/library): played "
        "by the ward's devices, with its ground truth in the labels."
    ),
]
LabelsOption = Annotated[
    Path | None,
    typer.Option(
        help="Write the ground-truth labels here (JSON Lines; default with --scenario or "
        "--out: beside the output, NAME.labels.jsonl)."
    ),
]
OutOption = Annotated[
    Path | None,
    typer.Option(
        help="Dry run: write the messages to this JSON Lines file instead of publishing "
        "(no broker, no pacing; with --start, byte-identical every time)."
    ),
]
RoutineOption = Annotated[
    bool | None,
    typer.Option(
        "--routine/--no-routine",
        help="Meals, the morning wash (wearable off) and everyday activities (motion "
        "windows). Default on.",
    ),
]
FeverRateOption = Annotated[
    float, typer.Option(min=0.0, help="Fevers per resident-day (HR and RR rise with them).")
]
WifiDropsOption = Annotated[
    float,
    typer.Option(min=0.0, help="Wi-Fi drops per device-day; the backlog is sent on reconnecting."),
]
ClockDriftOption = Annotated[
    float,
    typer.Option(min=0.0, max=1000.0, help="Device clock drift: standard deviation, ppm."),
]
DuplicateRateOption = Annotated[
    float, typer.Option(min=0.0, max=1.0, help="Share of messages sent twice.")
]
ReorderRateOption = Annotated[
    float,
    typer.Option(min=0.0, max=1.0, help="Share of messages overtaken by 1-3 later ones."),
]
MalformedRateOption = Annotated[
    float,
    typer.Option(min=0.0, max=1.0, help="Share of readings followed by a malformed copy."),
]
MalformedKindOption = Annotated[
    list[str] | None,
    typer.Option(help="Only this malformed kind (repeat; default: all of them)."),
]
MaxInflightOption = Annotated[
    int,
    typer.Option(min=1, max=65535, help="QoS 1: unacknowledged messages per device at most."),
]
