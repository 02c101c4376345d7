"""Simulated devices and the JSON file that holds their MQTT credentials (mode 0600)."""

from __future__ import annotations

import json
import os
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Literal, get_args

from device_sim.errors import DevicesFileError

DeviceKind = Literal["wearable", "bed_sensor"]
DEVICE_KINDS: Final[tuple[DeviceKind, ...]] = get_args(DeviceKind)
FILE_VERSION: Final = 1
FILE_MODE: Final = 0o600

# Protocol v1 ids; an explicit ASCII class because `\w` would also match non-ASCII letters.
_ID: Final = re.compile(r"[A-Za-z0-9_-]{1,64}")
_FIELDS: Final = ("device_id", "site_id", "kind", "password", "resident_key")


@dataclass(frozen=True)
class SimDevice:
    """One simulated device and the credentials it connects with (username = device_id)."""

    device_id: str
    site_id: str
    kind: DeviceKind
    password: str = field(repr=False)  # repr ends up in logs and tracebacks
    resident_key: str  # a wearable and a bed sensor with the same key watch the same resident

    def __post_init__(self) -> None:
        for name in ("device_id", "site_id"):
            value = getattr(self, name)
            if not isinstance(value, str) or _ID.fullmatch(value) is None:
                raise ValueError(f"invalid {name} {value!r}: must match [A-Za-z0-9_-]{{1,64}}")
        if self.kind not in DEVICE_KINDS:
            raise ValueError(f"invalid kind {self.kind!r}: one of {', '.join(DEVICE_KINDS)}")
        if not isinstance(self.password, str) or not self.password:
            raise ValueError(f"device {self.device_id}: password must be a non-empty string")
        if not isinstance(self.resident_key, str) or not self.resident_key:
            raise ValueError(f"device {self.device_id}: resident_key must be a non-empty string")


def synthetic_ward(residents: int, site_id: str = "demo") -> list[SimDevice]:
    """A wearable and a bed sensor per resident, named as the demo ward names them, with
    placeholder passwords: for a dry run, which needs no broker."""
    if residents < 1:
        raise ValueError("a ward has at least one resident")
    devices = []
    kinds: tuple[tuple[str, DeviceKind], ...] = (("w", "wearable"), ("b", "bed_sensor"))
    for i in range(residents):
        for prefix, kind in kinds:
            devices.append(
                SimDevice(f"demo-{prefix}{i:03d}", site_id, kind, "dry-run", f"r{i + 1}")
            )
    return devices


def load_devices(path: str | os.PathLike[str]) -> list[SimDevice]:
    """Read a devices file written by `save_devices`; DevicesFileError if it is not one."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise DevicesFileError(f"cannot read devices file {path}: {exc.strerror or exc}") from exc
    try:
        doc = json.loads(text)
    except ValueError as exc:
        raise DevicesFileError(f"devices file {path} is not valid JSON: {exc}") from None
    if not isinstance(doc, dict) or doc.get("version") != FILE_VERSION:
        raise DevicesFileError(
            f"devices file {path} is not a version {FILE_VERSION} file "
            '(expected {"version": 1, "devices": [...]})'
        )
    entries = doc.get("devices")
    if not isinstance(entries, list):
        raise DevicesFileError(f"devices file {path}: `devices` must be a list")
    devices = [_device_from(entry, path, i) for i, entry in enumerate(entries)]
    _check_unique(devices, path)
    return devices


def save_devices(path: str | os.PathLike[str], devices: Iterable[SimDevice]) -> None:
    """Write the devices file atomically, readable by its owner only (it holds passwords)."""
    path = Path(path)
    devices = list(devices)
    _check_unique(devices, path)
    doc = {
        "version": FILE_VERSION,
        "devices": [{name: getattr(d, name) for name in _FIELDS} for d in devices],
    }
    data = (json.dumps(doc, indent=2, ensure_ascii=False) + "\n").encode("utf-8")
    # Created 0600 from the start (never chmod after the fact: the passwords would be readable
    # for a moment) under a unique name, then renamed over the target so readers see the old
    # file or the new one, never half of one.
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _device_from(entry: Any, path: Path, index: int) -> SimDevice:
    where = f"devices file {path}, entry {index}"
    if not isinstance(entry, dict):
        raise DevicesFileError(f"{where}: expected an object")
    missing = [name for name in _FIELDS if name not in entry]
    if missing:
        raise DevicesFileError(f"{where}: missing {', '.join(missing)}")
    try:
        return SimDevice(**{name: entry[name] for name in _FIELDS})
    except ValueError as exc:
        raise DevicesFileError(f"{where}: {exc}") from None


def _check_unique(devices: list[SimDevice], path: Path) -> None:
    seen: set[str] = set()
    for device in devices:
        if device.device_id in seen:
            raise DevicesFileError(f"devices file {path}: device_id {device.device_id} repeats")
        seen.add(device.device_id)
