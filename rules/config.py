"""Configuration plumbing the rules share: immutable validated models, and overrides
(per site, per resident) deep-merged in and validated again with errors naming the key."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from rules.errors import OverrideError


class RuleConfig(BaseModel):
    """Base of rule configurations: immutable, unknown keys refused, no NaN or infinity."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> Self:
        copy = super().model_copy(update=update, deep=deep)
        # A compiled `plan` (cached_property) describes the original's fields: never share it.
        copy.__dict__.pop("plan", None)
        return copy


C = TypeVar("C", bound=BaseModel)


def with_overrides(config: C, overrides: Mapping[str, Any]) -> C:
    """`config` with `overrides` deep-merged in and the result validated again.

    Keys nest as mappings ({"spo2": {"low": {"threshold": 88}}}) or as dotted paths
    ({"spo2.low.threshold": 88}); a mapping merges into a mapping, anything else replaces
    (None switches an optional limit off). Raises OverrideError naming every bad key.
    """
    merged = merge(config.model_dump(), _expand(overrides, ""))
    try:
        return type(config).model_validate(merged)
    except ValidationError as exc:
        problems = [
            (".".join(str(part) for part in err["loc"]) or "<config>", err["msg"])
            for err in exc.errors()
        ]
        raise OverrideError(problems) from exc


def _expand(overrides: Mapping[Any, Any], where: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in overrides.items():
        path = f"{where}{key}"
        if not isinstance(key, str) or not all(key.split(".")):
            raise OverrideError([(repr(path), "override keys are non-empty dotted names")])
        nested = _expand(value, f"{path}.") if isinstance(value, Mapping) else value
        for part in reversed(key.split(".")[1:]):
            nested = {part: nested}
        out = merge(out, {key.split(".")[0]: nested})
    return out


def merge(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    """`over` merged into `base`: mappings merge key by key, anything else replaces."""
    out = dict(base)
    for key, value in over.items():
        current = out.get(key)
        if isinstance(value, Mapping) and isinstance(current, Mapping):
            out[key] = merge(current, value)
        else:
            out[key] = value
    return out
