"""docs/device-protocol.md is true: its Python and mosquitto_pub examples store readings through
the real broker and worker, its tables match the codec, and its JSON examples pass the schemas
and the codec (or fail them with the reason they are labelled with)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final

import pytest
from fastapi.testclient import TestClient
from jsonschema import Draft202012Validator

from ingest.codec import decode
from ingest.errors import REJECT_REASONS, Rejected
from ingest.schemas import protocol_schemas
from rules.vocabulary import MAX_ABS_ACCELERATION_G, RANGES, STREAMS
from tests.support import Conn, count, wait_for

DOC: Final = Path(__file__).resolve().parents[2] / "docs" / "device-protocol.md"
PLACEHOLDERS: Final = ("<host>", "<port>", "<site_id>", "<device_id>", "<password>")
# What both examples publish on `vitals`: "the same publish".
EXAMPLE_VITALS: Final = [("hr", 72.0), ("rr", 16.0), ("spo2", 97.0), ("temp", 36.7)]
RUN_TIMEOUT_S: Final = 60


@dataclass(frozen=True)
class Block:
    lang: str
    tags: tuple[str, ...]  # the rest of the info string, e.g. ("vitals", "rejected=out_of_range")
    body: str


def doc_text() -> str:
    return DOC.read_text(encoding="utf-8")


def blocks(lang: str) -> list[Block]:
    found = []
    for match in re.finditer(r"^```(\w*)([^\n]*)\n(.*?)^```$", doc_text(), re.M | re.S):
        if match[1] == lang:
            found.append(Block(match[1], tuple(match[2].split()), match[3]))
    return found


def only_block(lang: str) -> str:
    (block,) = blocks(lang)
    return block.body


def section(title: str) -> str:
    """The text under the `## {title}` heading, up to the next `## ` heading."""
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", doc_text(), re.M | re.S)
    assert match is not None, f"no section {title!r}"
    return match[1]


def table_rows(text: str) -> list[list[str]]:
    """The body rows of the markdown tables in `text`, cells stripped."""
    rows = [
        [cell.strip() for cell in line.strip().strip("|").split("|")]
        for line in text.splitlines()
        if line.lstrip().startswith("|")
    ]
    return [row for row in rows if not all(set(cell) <= set("-: ") for cell in row)]


# --- the text ------------------------------------------------------------------------------


def test_every_reject_reason_is_documented() -> None:
    documented = {
        match[1]
        for row in table_rows(section("Rejections"))
        if (match := re.fullmatch(r"`(\w+)`", row[0]))
    }
    assert documented == set(REJECT_REASONS)


def test_ranges_table_matches_the_codec() -> None:
    text = section("Streams").split("### Value ranges", 1)[1].split("\n## ", 1)[0]
    documented: dict[str, tuple[float, float]] = {}
    for row in table_rows(text)[1:]:  # after the header row
        lo, hi = float(row[2]), float(row[3])
        for name in re.findall(r"`(\w+)`", row[0]):
            documented[name] = (lo, hi)
    axes = dict.fromkeys(("ax", "ay", "az"), (-MAX_ABS_ACCELERATION_G, MAX_ABS_ACCELERATION_G))
    assert documented == {**RANGES, **axes}


def test_per_stream_tables_repeat_the_same_ranges() -> None:
    checked = set()
    for row in table_rows(section("Streams")):
        names = re.findall(r"`(\w+)`", row[0])
        bounds = re.fullmatch(r"(\S+) to (\S+)", row[-1].replace("−", "-"))
        if bounds is None or not names or not set(names) <= RANGES.keys():
            continue
        for name in names:
            assert (float(bounds[1]), float(bounds[2])) == RANGES[name], row
            checked.add(name)
    assert checked == set(RANGES)


def test_fahrenheit_range_in_the_fhir_section() -> None:
    lo, hi = RANGES["temp"]
    assert f"`[degF]`: {lo * 9 / 5 + 32:g} to {hi * 9 / 5 + 32:g}" in section(
        "The FHIR path (`fhir` stream)"
    )


def json_examples() -> list[Block]:
    return [block for block in blocks("json") if block.tags]


@pytest.mark.parametrize(
    "block", json_examples(), ids=lambda b: "-".join(b.tags) if isinstance(b, Block) else ""
)
def test_json_example_passes_schema_and_codec_or_fails_as_labelled(block: Block) -> None:
    stream, *labels = block.tags
    expected = next((label.split("=", 1)[1] for label in labels if "rejected=" in label), None)
    payload = json.loads(block.body)
    schemas = {str(name): schema for name, schema in protocol_schemas().items()}
    valid = Draft202012Validator(schemas[stream]).is_valid(payload)
    reason = None
    try:
        decode(
            f"carewatch/v1/site-a/dev-1/{stream}",
            block.body.encode(),
            received_at=datetime.now(UTC),
        )
    except Rejected as rejected:
        reason = rejected.reason
    assert reason == expected
    assert valid is (expected is None)


def test_every_stream_has_a_valid_json_example() -> None:
    examples = {b.tags[0] for b in json_examples() if len(b.tags) == 1}
    assert examples == set(STREAMS)


def test_untagged_json_blocks_are_json() -> None:
    for block in blocks("json"):
        json.loads(block.body)


# --- the runnable examples, against the real broker and worker -----------------------------


@pytest.fixture
def provisioned(api: TestClient, ward: str) -> dict[str, Any]:
    """A fresh device, provisioned as the doc says: the response holds the MQTT settings."""
    device_id = f"doc-{uuid.uuid4().hex[:12]}"
    response = api.post(
        "/api/v1/devices", json={"device_id": device_id, "site_id": ward, "kind": "wearable"}
    )
    assert response.status_code == 201, response.text
    issued: dict[str, Any] = response.json()
    return issued


def substitute(example: str, issued: dict[str, Any]) -> str:
    mqtt = issued["mqtt"]
    values = {
        "<host>": mqtt["host"],
        "<port>": str(mqtt["port"]),
        "<site_id>": issued["site_id"],
        "<device_id>": mqtt["username"],
        "<password>": mqtt["password"],
    }
    for placeholder, value in values.items():
        assert placeholder in example, f"the example lacks {placeholder}"
        example = example.replace(placeholder, value)
    assert re.search(r"<[a-z_]+>", example) is None, "a placeholder was left unreplaced"
    return example


def run(args: list[str], cwd: Path) -> None:
    done = subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=RUN_TIMEOUT_S)
    assert done.returncode == 0, f"exit {done.returncode}\n{done.stdout}\n{done.stderr}"


def stored_vitals(db: Conn, device_id: str) -> list[tuple[str, float]]:
    wait_for(
        lambda: count(db, "SELECT count(*) FROM readings WHERE device_id = %s", device_id),
        until=lambda n: n >= len(EXAMPLE_VITALS),
        what=f"the example's readings of {device_id}",
    )
    rows = db.execute(
        "SELECT metric, value, seq, ts FROM readings WHERE device_id = %s ORDER BY metric",
        [device_id],
    ).fetchall()
    now = datetime.now(UTC)
    for _metric, _value, seq, ts in rows:
        assert seq == 2
        # Stamped with the current time in epoch ms (not seconds, not a fixed date).
        assert now - timedelta(minutes=2) < ts <= now
    assert count(db, "SELECT count(*) FROM dead_letters WHERE device_id = %s", device_id) == 0
    return [(metric, value) for metric, value, *_ in rows]


@pytest.mark.usefixtures("ingest_worker")
def test_python_example_stores_its_readings(
    provisioned: dict[str, Any], db: Conn, tmp_path: Path
) -> None:
    script = tmp_path / "device.py"
    script.write_text(substitute(only_block("python"), provisioned), encoding="utf-8")
    run([sys.executable, str(script)], tmp_path)
    device_id = provisioned["device_id"]
    assert stored_vitals(db, device_id) == EXAMPLE_VITALS
    # The retained status is stored too (written in the same batch or just after).
    status = wait_for(
        lambda: db.execute(
            "SELECT battery, online, fw FROM device_status WHERE device_id = %s", [device_id]
        ).fetchall(),
        until=lambda found: len(found) >= 1,
        what="the example's status",
    )
    assert status == [(87.0, True, "1.4.2")]


@pytest.mark.usefixtures("ingest_worker")
def test_mosquitto_pub_example_stores_the_same_readings(
    provisioned: dict[str, Any], db: Conn, tmp_path: Path
) -> None:
    shell = shutil.which("sh")
    assert shutil.which("mosquitto_pub") is not None and shell is not None
    run([shell, "-c", substitute(only_block("sh"), provisioned)], tmp_path)
    assert stored_vitals(db, provisioned["device_id"]) == EXAMPLE_VITALS


def test_examples_publish_with_qos_1() -> None:
    assert "qos=1" in only_block("python")
    assert "-q 1" in only_block("sh")
