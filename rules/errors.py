"""Errors the rules raise on purpose.

RuleError
 └── OverrideError   a configuration or per-site / per-resident override that does not validate
"""

from __future__ import annotations

from collections.abc import Sequence


class RuleError(ValueError):
    """Base of the rules' own errors."""


class OverrideError(RuleError):
    """A configuration or per-resident override that does not validate. `problems` pairs each
    bad key (a dotted path such as "spo2.low.threshold") with what is wrong with it."""

    def __init__(self, problems: Sequence[tuple[str, str]]) -> None:
        self.problems = tuple(problems)
        super().__init__("; ".join(f"{key}: {message}" for key, message in self.problems))

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(key for key, _ in self.problems)
