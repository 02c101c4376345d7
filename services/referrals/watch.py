"""The post-discharge watch period's effect on the rules (issue 17): rule overrides put on the
resident's own for N days after a return, and taken back off when it ends. Pure.

What it changes, and nothing else (the NEWS2 chart and its bands stay RCP 2017's):
- extra rounds: observations are due twice as often at NEWS2 0 (6-hourly, not 12) and 1-4
  (3-hourly, not 6), so the board shows a round overdue sooner and a missed one leaves the
  score incomplete sooner;
- tighter raising: a band must hold half as long before the NEWS2 alert raises (30 s for a
  single 3, 15 s for 5-6; >= 7 raises at once as always).

Taking them off restores, key by key, what the resident's own overrides held before; a key
staff changed during the watch is left as they set it.
"""

from __future__ import annotations

from collections.abc import Mapping
from copy import deepcopy
from typing import Any, Final

WATCH_OVERRIDES: Final[Mapping[str, Any]] = {
    "news2": {
        "observe_every_s": {"zero": 6 * 3600.0, "low": 3 * 3600.0},
        "raise_after_s": {"low_medium": 30.0, "medium": 15.0},
    }
}

Path = tuple[str, ...]


def leaves(tree: Mapping[str, Any], prefix: Path = ()) -> dict[Path, Any]:
    """Every non-mapping value of a nested mapping, by its path."""
    found: dict[Path, Any] = {}
    for key, value in tree.items():
        if isinstance(value, Mapping):
            found |= leaves(value, (*prefix, key))
        else:
            found[(*prefix, key)] = value
    return found


def apply(own: Mapping[str, Any], watch: Mapping[str, Any]) -> tuple[dict[str, Any], list[Any]]:
    """The resident's overrides with the watch's laid over them, and what they replaced: a
    list of [path, present, value] (JSON-ready) for `restore`."""
    merged = deepcopy(dict(own))
    saved: list[Any] = []
    for path, value in leaves(watch).items():
        present, before = _get(merged, path)
        saved.append([list(path), present, before])
        _set(merged, path, value)
    return merged, saved


def restore(own: Mapping[str, Any], watch: Mapping[str, Any], saved: list[Any]) -> dict[str, Any]:
    """`own` with the watch's keys set back to what `saved` recorded; a key whose value is no
    longer the watch's (staff changed it meanwhile) keeps its new value."""
    result = deepcopy(dict(own))
    applied = leaves(watch)
    for raw_path, present, before in saved:
        path = tuple(raw_path)
        now_present, now_value = _get(result, path)
        if not now_present or applied.get(path) != now_value:
            continue
        if present:
            _set(result, path, before)
        else:
            _delete(result, path)
    return result


def _get(tree: Mapping[str, Any], path: Path) -> tuple[bool, Any]:
    node: Any = tree
    for key in path:
        if not isinstance(node, Mapping) or key not in node:
            return False, None
        node = node[key]
    return True, node


def _set(tree: dict[str, Any], path: Path, value: Any) -> None:
    node = tree
    for key in path[:-1]:
        child = node.get(key)
        if not isinstance(child, dict):
            child = node[key] = {}
        node = child
    node[path[-1]] = value


def _delete(tree: dict[str, Any], path: Path) -> None:
    # Remove the leaf, then every mapping the removal left empty.
    if len(path) == 1:
        tree.pop(path[0], None)
        return
    child = tree.get(path[0])
    if isinstance(child, dict):
        _delete(child, path[1:])
        if not child:
            del tree[path[0]]
