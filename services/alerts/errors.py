"""Errors the alert core raises on purpose; the I/O layer maps them (e.g. to HTTP 404 / 409 / 422).
(A care team document or alert policy that does not validate: services/careteam/errors.py.)

AlertError
 ├── UnknownAlert        no alert or incident with that id in the book
 ├── UnknownSubject      a candidate about a resident the roster does not place at a site/unit
 ├── IllegalTransition   a state change the state machine does not allow (from, to, id)
 └── ResolutionError     a resolution without a valid outcome (or with a system-only outcome)
"""

from __future__ import annotations

from services.errors import CareWatchError


class AlertError(CareWatchError):
    """Base of the alert core's own errors."""


class UnknownAlert(AlertError, LookupError):
    """No open (or not yet forgotten) alert / incident with this id."""

    def __init__(self, kind: str, ident: int) -> None:
        self.kind = kind
        self.ident = ident
        super().__init__(f"no {kind} with id {ident} in the alert book")


class UnknownSubject(AlertError, LookupError):
    """A candidate whose subject cannot be placed at a site and unit, so nobody could be paged."""

    def __init__(self, subject: str, reason: str) -> None:
        self.subject = subject
        super().__init__(f"cannot route alerts about {subject!r}: {reason}")


class IllegalTransition(AlertError):
    """The state machine refuses `source` → `target` for the incident or alert `ident`."""

    def __init__(self, kind: str, ident: int, source: str, target: str) -> None:
        self.kind = kind
        self.ident = ident
        self.source = source
        self.target = target
        super().__init__(f"{kind} {ident}: illegal transition {source} → {target}")


class ResolutionError(AlertError, ValueError):
    """A resolution without an allowed outcome."""
