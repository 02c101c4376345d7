"""The backup file: one uncompressed tar (the dump is compressed already) holding the dump,
the broker's config when included, and the manifest last, with each file's SHA-256.

Written under a `.partial` name and renamed when complete, so a backup cut short never looks
like one; mode 0600 from the start, as it holds password hashes."""

from __future__ import annotations

import hashlib
import io
import os
import tarfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO

from services.operations.backup.errors import BadArchive
from services.operations.backup.manifest import (
    DUMP_NAME,
    DYNSEC_NAME,
    MANIFEST_NAME,
    FileEntry,
    Manifest,
    parse_manifest,
)

CHUNK = 1 << 20


class _Hashing(io.RawIOBase):
    """A reader that hashes what passes through it."""

    def __init__(self, inner: IO[bytes]) -> None:
        self.inner = inner
        self.digest = hashlib.sha256()

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        data = self.inner.read(size)
        self.digest.update(data)
        return data


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> FileEntry:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o600
    tar.addfile(info, io.BytesIO(data))
    return FileEntry(sha256=hashlib.sha256(data).hexdigest(), bytes=len(data))


def write_archive(dest: Path, *, dump: Path, dynsec: bytes | None, manifest: Manifest) -> Manifest:
    """Write the backup file; returns the manifest as stored (with its file entries)."""
    partial = dest.with_name(dest.name + ".partial")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    files: dict[str, FileEntry] = {}
    try:
        with os.fdopen(fd, "wb") as out:
            with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
                info = tarfile.TarInfo(DUMP_NAME)
                info.size = dump.stat().st_size
                info.mode = 0o600
                with open(dump, "rb") as source:
                    hashing = _Hashing(source)
                    tar.addfile(info, hashing)
                files[DUMP_NAME] = FileEntry(hashing.digest.hexdigest(), info.size)
                if dynsec is not None:
                    files[DYNSEC_NAME] = _add_bytes(tar, DYNSEC_NAME, dynsec)
                manifest = replace(manifest, files=files)
                _add_bytes(tar, MANIFEST_NAME, manifest.to_json().encode())
            out.flush()
            os.fsync(out.fileno())
        partial.rename(dest)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return manifest


@dataclass(frozen=True, slots=True)
class OpenedBackup:
    manifest: Manifest
    dump: Path  # extracted into the caller's work dir
    dynsec: bytes | None


def _copy_checked(tar: tarfile.TarFile, name: str, entry: FileEntry, out: IO[bytes]) -> None:
    try:
        member = tar.getmember(name)
    except KeyError:
        raise BadArchive(f"the backup lacks {name} (truncated or corrupt)") from None
    if not member.isfile() or member.size != entry.bytes:
        raise BadArchive(f"{name} in the backup has the wrong size (truncated or corrupt)")
    source = tar.extractfile(member)
    assert source is not None
    digest = hashlib.sha256()
    while chunk := source.read(CHUNK):
        digest.update(chunk)
        out.write(chunk)
    if digest.hexdigest() != entry.sha256:
        raise BadArchive(f"{name} in the backup does not match its checksum (corrupt)")


def open_archive(path: Path, workdir: Path) -> OpenedBackup:
    """Check the backup file whole (manifest, sizes, checksums) and extract the dump."""
    if not path.is_file():
        raise BadArchive(f"{path}: no such backup file")
    try:
        with tarfile.open(path, mode="r:") as tar:
            try:
                manifest_member = tar.getmember(MANIFEST_NAME)
            except KeyError:
                raise BadArchive(
                    f"{path} has no manifest: truncated or corrupt, or not a CareWatch backup"
                ) from None
            raw = tar.extractfile(manifest_member)
            assert raw is not None
            manifest = parse_manifest(raw.read())
            if DUMP_NAME not in manifest.files:
                raise BadArchive(f"{path}: the manifest lists no database dump")
            dump = workdir / DUMP_NAME
            with open(dump, "wb") as out:
                _copy_checked(tar, DUMP_NAME, manifest.files[DUMP_NAME], out)
            dynsec = None
            if manifest.has_broker:
                buffer = io.BytesIO()
                _copy_checked(tar, DYNSEC_NAME, manifest.files[DYNSEC_NAME], buffer)
                dynsec = buffer.getvalue()
    except (tarfile.TarError, EOFError) as exc:
        raise BadArchive(f"{path} is not a readable backup (truncated or corrupt): {exc}") from None
    return OpenedBackup(manifest=manifest, dump=dump, dynsec=dynsec)
