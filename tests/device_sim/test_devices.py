"""The devices file: owner-only, atomic, round-trips, never shows a password."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from device_sim.devices import SimDevice, load_devices, save_devices
from device_sim.errors import DevicesFileError

DEVICES = [
    SimDevice("w-001", "site-a", "wearable", "pw-wearable-1", "res-1"),
    SimDevice("b-001", "site-a", "bed_sensor", "pw-bed-1", "res-1"),
    SimDevice("w-002", "site-b", "wearable", 'pässwörd "quoted"', "res-2"),
]


@pytest.fixture
def open_umask() -> Iterator[None]:
    # The file must be 0600 because we ask for it, not because the umask happens to be strict.
    old = os.umask(0)
    try:
        yield
    finally:
        os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "devices.json"
    save_devices(path, DEVICES)
    assert load_devices(path) == DEVICES


@pytest.mark.usefixtures("open_umask")
def test_written_owner_only_even_over_a_world_readable_file(tmp_path: Path) -> None:
    path = tmp_path / "devices.json"
    path.write_text("{}")
    path.chmod(0o644)
    save_devices(path, DEVICES)
    assert mode(path) == 0o600
    save_devices(path, DEVICES[:1])
    assert mode(path) == 0o600
    assert load_devices(path) == DEVICES[:1]
    assert [p.name for p in tmp_path.iterdir()] == ["devices.json"]  # no temp file left


def test_repr_and_str_hide_the_password() -> None:
    for device in DEVICES:
        assert device.password not in repr(device)
        assert device.password not in str(device)
        assert device.device_id in repr(device)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"device_id": "w 1"}, "device_id"),
        ({"device_id": "w/1"}, "device_id"),
        ({"device_id": "x" * 65}, "device_id"),
        ({"site_id": "site+"}, "site_id"),
        ({"kind": "watch"}, "kind"),
        ({"password": ""}, "password"),
        ({"resident_key": ""}, "resident_key"),
    ],
    ids=["space", "slash", "too-long", "wildcard-site", "kind", "empty-password", "no-resident"],
)
def test_invalid_device_refused(kwargs: dict[str, str], match: str) -> None:
    fields = {
        "device_id": "w-1",
        "site_id": "s",
        "kind": "wearable",
        "password": "p",
        "resident_key": "r",
    }
    with pytest.raises(ValueError, match=match):
        SimDevice(**{**fields, **kwargs})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("content", "match"),
    [
        ("not json", "not valid JSON"),
        ("[]", "version 1"),
        ('{"version": 2, "devices": []}', "version 1"),
        ('{"version": 1, "devices": {}}', "must be a list"),
        ('{"version": 1, "devices": [1]}', "expected an object"),
        ('{"version": 1, "devices": [{"device_id": "w"}]}', "missing site_id"),
        (
            json.dumps(
                {
                    "version": 1,
                    "devices": [
                        {
                            "device_id": "w/1",
                            "site_id": "s",
                            "kind": "wearable",
                            "password": "p",
                            "resident_key": "r",
                        }
                    ],
                }
            ),
            "invalid device_id",
        ),
    ],
    ids=["not-json", "not-object", "version", "devices-not-list", "entry", "missing", "bad-id"],
)
def test_bad_file_says_what_is_wrong(tmp_path: Path, content: str, match: str) -> None:
    path = tmp_path / "devices.json"
    path.write_text(content)
    with pytest.raises(DevicesFileError, match=match):
        load_devices(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DevicesFileError, match="cannot read"):
        load_devices(tmp_path / "nope.json")


def test_repeated_device_id_refused(tmp_path: Path) -> None:
    with pytest.raises(DevicesFileError, match="repeats"):
        save_devices(tmp_path / "d.json", [DEVICES[0], DEVICES[0]])
    assert list(tmp_path.iterdir()) == []
