"""The one place that unpickles: state written by releases before the JSON format (format
version 1 of `detector_snapshots` and `alert_service_state`), read once by `carewatch
upgrade-state` (upgrade/state.py) and rewritten as JSON. No service imports this package
(import-linter's "production-not-upgrade" contract), so the running services never unpickle.

A pickle can call anything it names, so this reader builds only the state classes its caller
lists (the dataclasses the state type can hold) and a few value types (datetime, zones, numpy's
array rebuild); any other name — a function, a module, `os.system` — is refused, and so is a
result of another type than expected.
"""

from __future__ import annotations

import datetime
import decimal
import io
import pickle
import sys
import zoneinfo
from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np

__all__ = ["PREVIOUS_MODULES", "LegacyStateRefused", "read_legacy"]

# A pickle names each class by the module it lived in when it was written. State classes moved
# since (module today -> module in the releases that pickled) are still found under the old name.
PREVIOUS_MODULES: dict[str, str] = {
    "services.careteam.roster": "services.alerts.roster",  # apply-moves: keep
}

# State classes that have moved since the last release that pickled them: the (module, name)
# its pickles spell -> the (module, name) the class has now. Only a class the caller lists is
# built under its old name too.
MOVED: dict[tuple[str, str], tuple[str, str]] = {
    ("rules.fall", "FallDetectorState"): ("rules.fall_detector", "FallDetectorState"),
}


class LegacyStateRefused(ValueError):
    """A legacy row that is not plain state: not loaded, nothing in it run."""


def _zone_getattr(obj: object, name: str) -> object:
    # A ZoneInfo pickles as getattr(ZoneInfo, "_unpickle")(key, ...): that lookup only.
    if obj is zoneinfo.ZoneInfo and name == "_unpickle":
        return zoneinfo.ZoneInfo._unpickle  # type: ignore[attr-defined]
    raise LegacyStateRefused(f"getattr({obj!r:.40}, {name!r:.40}) is not allowed")


def _values() -> dict[tuple[str, str], Any]:
    allowed: dict[tuple[str, str], Any] = {
        ("datetime", "datetime"): datetime.datetime,
        ("datetime", "date"): datetime.date,
        ("datetime", "timedelta"): datetime.timedelta,
        ("datetime", "timezone"): datetime.timezone,
        ("zoneinfo", "ZoneInfo"): zoneinfo.ZoneInfo,
        ("decimal", "Decimal"): decimal.Decimal,
        ("builtins", "frozenset"): frozenset,
        ("builtins", "set"): set,
        ("builtins", "getattr"): _zone_getattr,
        ("numpy", "dtype"): np.dtype,
    }
    # How numpy rebuilds an array from protocol 5 pickles (module moved in numpy 2).
    for module in ("numpy.core.numeric", "numpy._core.numeric"):
        allowed[(module, "_frombuffer")] = _frombuffer
    return allowed


def _frombuffer(buf: Any, dtype: Any, shape: Any, order: Any) -> Any:
    if not isinstance(dtype, np.dtype) or dtype.kind not in "fiub":
        raise LegacyStateRefused(f"array of {dtype!r:.40}")
    return np.frombuffer(bytes(buf), dtype=dtype).reshape(shape, order=order)


class _Restricted(pickle.Unpickler):
    def __init__(self, blob: bytes, allowed: dict[tuple[str, str], Any]) -> None:
        super().__init__(io.BytesIO(blob))
        self.allowed = allowed

    def find_class(self, module: str, name: str) -> Any:
        found = self.allowed.get((module, name))
        if found is None:
            raise LegacyStateRefused(f"{module}.{name} is not a state class")
        return found

    def persistent_load(self, pid: Any) -> Any:
        raise LegacyStateRefused("persistent ids are not allowed")


def _names(c: type) -> Iterator[tuple[str, str]]:
    # Its module, and each enclosing package that re-exports it: a class moved when its module
    # was split into a package (rules.news2 -> rules.news2.rule) was pickled under the old name.
    module = c.__module__
    while module:
        if getattr(sys.modules.get(module), c.__qualname__, None) is c:
            yield module, c.__qualname__
        module = module.rpartition(".")[0]


def read_legacy(blob: bytes, classes: Iterable[type], expect: type | tuple[type, ...]) -> Any:
    """The value pickled in `blob`, built only from `classes` and plain values; it must be an
    `expect`. Raises LegacyStateRefused for anything else."""
    allowed = _values()
    for c in classes:
        allowed.update({name: c for name in _names(c)})
        if c.__module__ in PREVIOUS_MODULES:
            allowed[(PREVIOUS_MODULES[c.__module__], c.__qualname__)] = c
    allowed.update({old: allowed[new] for old, new in MOVED.items() if new in allowed})
    try:
        value = _Restricted(bytes(blob), allowed).load()
    except LegacyStateRefused:
        raise
    except Exception as e:  # a truncated or mangled pickle fails in many ways
        raise LegacyStateRefused(f"unreadable legacy state: {type(e).__name__}: {e}") from None
    if not isinstance(value, expect):
        raise LegacyStateRefused(f"legacy state is a {type(value).__name__}, expected {expect}")
    return value
