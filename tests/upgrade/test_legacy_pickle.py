"""The legacy reader builds state classes and plain values only: a row that would run code is
refused before anything in it runs."""

from __future__ import annotations

import os
import pickle
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from rules.outbreak import OutbreakState
from rules.state_codec import StateFormatError, dataclasses_in, decode, encode
from rules.types import AlertCandidate
from services.alerts.model import AlertBook
from upgrade.legacy_pickle import LegacyStateRefused, read_legacy

FIXTURES = Path(__file__).parents[1] / "fixtures" / "legacy_state"


class _Reduces:
    """Pickles as a call of `func(*args)`: what a hostile row would hold."""

    def __init__(self, func: Callable[..., Any], *args: Any) -> None:
        self.func, self.args = func, args

    def __reduce__(self) -> tuple[Any, ...]:
        return self.func, self.args


def test_a_row_that_would_call_os_system_is_refused(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    blob = pickle.dumps(_Reduces(os.system, f"touch {marker}"))
    with pytest.raises(LegacyStateRefused, match=r"(posix|os)\.system is not a state class"):
        read_legacy(blob, dataclasses_in(AlertBook), AlertBook)
    assert not marker.exists()


@pytest.mark.parametrize(
    ("value", "refused"),
    [
        # getattr is allowed only as ZoneInfo pickles use it: not to reach a module's globals.
        (_Reduces(getattr, OutbreakState, "__init__"), r"getattr\(.*'__init__'\) is not allowed"),
        (_Reduces(eval, "1"), r"builtins.eval is not a state class"),
        (AlertCandidate("r", "raise", "s", "k", "low", None, "t"), r"AlertCandidate is not"),  # type: ignore[arg-type]
    ],
    ids=["getattr", "eval", "not-a-state-class"],
)
def test_anything_but_state_classes_and_plain_values_is_refused(value: Any, refused: str) -> None:
    with pytest.raises(LegacyStateRefused, match=refused):
        read_legacy(pickle.dumps(value), dataclasses_in(OutbreakState), OutbreakState)


def test_a_value_of_another_type_or_a_broken_blob_is_refused() -> None:
    with pytest.raises(LegacyStateRefused, match="is a int, expected"):
        read_legacy(pickle.dumps(3), dataclasses_in(OutbreakState), OutbreakState)
    blob = (FIXTURES / "alert_book.pickle").read_bytes()
    with pytest.raises(LegacyStateRefused, match="unreadable"):
        read_legacy(blob[: len(blob) // 2], dataclasses_in(AlertBook), AlertBook)


def test_the_previous_release_s_book_reads() -> None:
    blob = (FIXTURES / "alert_book.pickle").read_bytes()
    book = read_legacy(blob, dataclasses_in(AlertBook), AlertBook)
    assert book.incidents[1].status == "notified"


def test_a_state_class_holding_the_wrong_types_is_refused_when_decoded() -> None:
    """The reader checks names only; the codec then checks every field's type."""
    forged = OutbreakState(unit=3, onsets={"x": "y"})  # type: ignore[arg-type, dict-item]
    value = read_legacy(pickle.dumps(forged), dataclasses_in(OutbreakState), OutbreakState)
    with pytest.raises(StateFormatError):
        decode(encode(value, OutbreakState), OutbreakState)
    with pytest.raises(StateFormatError, match="not a"):
        encode(OutbreakState(onsets=3), OutbreakState)  # type: ignore[arg-type]
