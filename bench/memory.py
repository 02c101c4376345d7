"""Memory per process role: proportional set size (PSS), so PostgreSQL's shared buffers count
once across its backends rather than once per backend."""

from __future__ import annotations

from pathlib import Path


def _ppid(pid: int) -> int | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(text[text.rindex(")") + 2 :].split()[1])


def _pss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except OSError:
        pass  # exited meanwhile
    return 0


def pss_mb(roles: dict[int, str], postmaster: int | None) -> dict[str, float]:
    """MB per role now (a role's processes summed; the postmaster's children are postgres)."""
    out: dict[str, float] = {}
    for entry in Path("/proc").glob("[0-9]*"):
        pid = int(entry.name)
        role = roles.get(pid)
        if role is None and postmaster is not None:
            role = "postgres" if pid == postmaster or _ppid(pid) == postmaster else None
        if role is not None:
            out[role] = out.get(role, 0.0) + _pss_kb(pid) / 1024
    return out


def peaks(current: dict[str, float], sample: dict[str, float]) -> dict[str, float]:
    return {role: max(current.get(role, 0.0), sample.get(role, 0.0)) for role in current | sample}
