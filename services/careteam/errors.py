"""The care team's own error: a care team document, roster or alert policy that does not
validate, with every problem named by its dotted path (the API answers 422 with them)."""

from __future__ import annotations

from collections.abc import Sequence

from services.errors import CareWatchError

__all__ = ["AlertConfigError"]


class AlertConfigError(CareWatchError, ValueError):
    """Configuration that does not validate. `problems` pairs each bad key (a dotted path such as
    "units.site-a/unit-1.critical.steps.0.who") with what is wrong with it."""

    def __init__(self, problems: Sequence[tuple[str, str]]) -> None:
        self.problems = tuple(problems)
        super().__init__("; ".join(f"{key}: {message}" for key, message in self.problems))

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(key for key, _ in self.problems)
