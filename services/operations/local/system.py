"""Small facts about the machine: binaries, free ports, which system user runs a server."""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path

from services.errors import SetupError

FIX_SETUP = "run scripts/setup (it installs what is missing)"


def find_binary(name: str, *, search: tuple[str, ...] = ()) -> Path:
    """A binary from PATH or from the given glob patterns (newest match last wins)."""
    found = shutil.which(name)
    if found:
        return Path(found)
    for pattern in search:
        matches = sorted(glob.glob(pattern))
        if matches:
            return Path(matches[-1])
    raise SetupError(f"`{name}` not found: {FIX_SETUP}")


def ensure_port_free(host: str, port: int, *, what: str, env_var: str) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # As the servers themselves do: a port held only by closed connections (TIME_WAIT)
        # is free to listen on; a port with a listener is not.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            raise SetupError(
                f"{what} cannot listen on {host}:{port}: the port is in use ({exc.strerror}). "
                f"Stop whatever uses it, or choose another port with {env_var}=PORT"
            ) from None


def free_port(host: str = "127.0.0.1") -> int:
    """A port that is free right now (for tests and benchmarks)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass(frozen=True, slots=True)
class RunAs:
    """Which account a server runs under: ourselves, or a system user when we are root."""

    user: str | None
    uid: int
    gid: int

    @classmethod
    def for_server(cls, system_user: str) -> RunAs:
        if os.geteuid() != 0:
            return cls(None, os.getuid(), os.getgid())
        try:
            entry = pwd.getpwnam(system_user)
        except KeyError:
            raise SetupError(
                f"running as root needs the `{system_user}` system user: {FIX_SETUP}"
            ) from None
        return cls(system_user, entry.pw_uid, entry.pw_gid)

    def own(self, path: Path) -> None:
        """Give `path` (a file or directory we created for this server) to its account."""
        if self.user is None:
            return
        os.chown(path, self.uid, self.gid)
        for root, dirs, files in os.walk(path):
            for name in dirs + files:
                os.chown(os.path.join(root, name), self.uid, self.gid, follow_symlinks=False)

    def check_can_enter(self, path: Path) -> None:
        """The server's account must reach `path`: a data dir under /root, say, it cannot."""
        if self.user is None:
            return
        runuser = find_binary("runuser", search=("/usr/sbin/runuser", "/sbin/runuser"))
        ok = subprocess.run(
            [str(runuser), "-u", self.user, "--", "test", "-w", str(path)], check=False
        ).returncode
        if ok != 0:
            raise SetupError(
                f"the `{self.user}` system user cannot write {path} (a parent directory is "
                "closed to it): set CAREWATCH_DATA_DIR to a directory it can reach, "
                "e.g. /var/lib/carewatch"
            )
