"""The state codec: every state the detector and the alert service keep survives JSON, and a
document that does not fit is refused with the field it is about."""

from __future__ import annotations

import dataclasses
import json
import math
import types
import typing
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, Literal, Union
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from rules.baseline import BaselineState
from rules.devices import DeviceState
from rules.engine import ResidentRules
from rules.fall import FallRuleState
from rules.news2 import News2State
from rules.outbreak import OutbreakState
from rules.state_codec import StateFormatError, dataclasses_in, decode, encode, upgrade
from rules.vitals import VitalsRuleState
from services.alerts.model import AckEvent, AlertBook, Escalation, Incident

ZONES = st.sampled_from([UTC, ZoneInfo("Asia/Shanghai"), ZoneInfo("Europe/Berlin")])


def strategy(tp: Any) -> st.SearchStrategy[Any]:
    """Values of any type the state holds, built from its hints (as the codec reads them)."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if tp is type(None):
        return st.none()
    if tp is bool:
        return st.booleans()
    if tp is int:
        return st.integers(-(2**40), 2**40)
    if tp is float:
        return st.floats(allow_nan=False, width=64)
    if tp is str:
        return st.text(max_size=8)
    if tp is datetime:
        # hypothesis takes naive bounds and adds the zone
        low, high = datetime(2000, 1, 1), datetime(2100, 1, 1)  # noqa: DTZ001
        return st.datetimes(min_value=low, max_value=high, timezones=ZONES)
    if tp is timedelta:
        return st.timedeltas(min_value=timedelta(days=-9999), max_value=timedelta(days=9999))
    if tp is Decimal:
        return st.decimals(allow_nan=False, allow_infinity=False, places=2)
    if origin is Literal:
        return st.sampled_from(args)
    if origin in (Union, types.UnionType):
        return st.one_of(*(strategy(a) for a in args))
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return st.lists(strategy(args[0]), max_size=2).map(tuple)
        return st.tuples(*(strategy(a) for a in args))
    if origin is frozenset:
        return st.frozensets(strategy(args[0]), max_size=2)
    if origin in (dict, Mapping):
        return st.dictionaries(strategy(args[0]), strategy(args[1]), max_size=2)
    if origin is np.ndarray:
        return hnp.arrays(np.float32, hnp.array_shapes(max_dims=2, max_side=4))
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        hints = typing.get_type_hints(tp)
        # Deferred: a state type may refer to itself.
        fields = {f.name: lazy(hints[f.name]) for f in dataclasses.fields(tp)}
        return st.builds(tp, **fields)
    raise AssertionError(f"no strategy for {tp!r}")


def lazy(tp: Any) -> st.SearchStrategy[Any]:
    return st.deferred(lambda: strategy(tp))


def same(a: Any, b: Any) -> bool:
    """Equal, with arrays compared by value and datetimes by instant and zone."""
    if isinstance(a, np.ndarray):
        same_type = isinstance(b, np.ndarray) and a.dtype == b.dtype
        return same_type and np.array_equal(a, b, equal_nan=True)
    if isinstance(a, datetime):
        return a == b and a.utcoffset() == b.utcoffset() and str(a.tzinfo) == str(b.tzinfo)
    if dataclasses.is_dataclass(a) and not isinstance(a, type):
        return type(a) is type(b) and all(
            same(getattr(a, f.name), getattr(b, f.name)) for f in dataclasses.fields(a)
        )
    if isinstance(a, Mapping):
        return isinstance(b, Mapping) and a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, tuple | list):
        return type(a) is type(b) and len(a) == len(b) and all(map(same, a, b))
    return type(a) is type(b) and a == b


def through_json(value: Any, tp: Any) -> Any:
    return decode(json.loads(json.dumps(encode(value, tp), allow_nan=False)), tp)


STATE_FIELDS = {
    k: v for k, v in typing.get_type_hints(ResidentRules).items() if k not in ("profile", "config")
}
ROOTS = [*STATE_FIELDS.values(), OutbreakState, AlertBook]


@pytest.mark.parametrize("tp", ROOTS, ids=[*STATE_FIELDS, "OutbreakState", "AlertBook"])
@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_every_state_round_trips(tp: Any, data: st.DataObject) -> None:
    value = data.draw(strategy(tp))
    assert same(through_json(value, tp), value)


@settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(book=strategy(AlertBook))
def test_a_book_round_trips_to_the_same_json(book: AlertBook) -> None:
    doc = encode(book, AlertBook)
    assert encode(decode(doc, AlertBook), AlertBook) == doc


def test_the_types_named_in_the_state_are_the_ones_the_codec_knows() -> None:
    names = {c.__name__ for c in dataclasses_in(AlertBook)}
    assert {"Incident", "Escalation", "AckEvent", "Staff"} <= names
    assert {"FallIncident", "FallDetectorState"} <= {
        c.__name__ for c in dataclasses_in(FallRuleState)
    }


def test_non_finite_floats_and_zones_survive() -> None:
    berlin = datetime(2026, 3, 29, 1, 30, tzinfo=ZoneInfo("Europe/Berlin"))
    back = through_json((math.inf, -math.inf, berlin), tuple[float, float, datetime])
    assert back[:2] == (math.inf, -math.inf)
    assert back[2].tzinfo == ZoneInfo("Europe/Berlin") and back[2] == berlin
    # Wall-clock arithmetic across the DST change is the same as on the original.
    assert back[2] + timedelta(hours=1) == berlin + timedelta(hours=1)
    assert math.isnan(decode(encode(math.nan, float), float))


def test_a_fall_buffer_comes_back_read_only_and_equal() -> None:
    buffer = np.arange(12, dtype=np.float32).reshape(4, 3) / 7
    back = decode(encode(buffer, np.ndarray), np.ndarray)
    assert back.dtype == np.float32 and np.array_equal(back, buffer)
    assert not back.flags.writeable


def test_a_new_field_with_a_default_needs_no_converter() -> None:
    doc = encode(DeviceState("w1", worn=False), DeviceState)
    del doc["will_at"]  # as written before `will_at` existed
    assert decode(doc, DeviceState) == DeviceState("w1", worn=False)


def test_a_renamed_or_missing_field_is_an_error_naming_it() -> None:
    doc = encode(News2State(alert_total=5), News2State)
    doc["alert_score"] = doc.pop("alert_total")
    with pytest.raises(StateFormatError, match=r"News2State has no field \['alert_score'\]"):
        decode(doc, News2State)
    with pytest.raises(StateFormatError, match=r"DeviceState.device_id is missing"):
        decode({}, DeviceState)


@pytest.mark.parametrize(
    ("tp", "doc", "message"),
    [
        (VitalsRuleState, {"last_seen": {}, "conditions": 3}, r"VitalsRuleState.conditions"),
        (Escalation, {"reached": [[1]]}, r"Escalation.reached: expected \[key, value\]"),
        (Incident, {"@type": "Incident"}, r"no field \['@type'\]"),
        (BaselineState, {"clock": {"day": "x"}}, r"BaselineState.clock: .*LocalDay.day"),
        (datetime, "yesterday", r"not a datetime"),
        (int, True, r"expected"),
        (float, False, r"expected"),
        (News2State, {"alert_band": "purple"}, r"alert_band"),
    ],
)
def test_documents_that_do_not_fit_are_refused(tp: Any, doc: Any, message: str) -> None:
    with pytest.raises(StateFormatError, match=message):
        decode(doc, tp)


def test_a_union_of_state_classes_is_tagged() -> None:
    timeline = typing.get_type_hints(Incident)["timeline"]
    ack = AckEvent(datetime(2026, 1, 1, tzinfo=UTC), "n1", "web")
    [doc] = encode((ack,), timeline)
    assert doc["@type"] == "AckEvent" and decode([doc], timeline) == (ack,)


def test_upgrade_runs_each_step_and_refuses_gaps_and_newer_formats() -> None:
    steps = {2: lambda d: {**d, "b": d["a"]}, 3: lambda d: {k: v for k, v in d.items() if k != "a"}}
    assert upgrade({"a": 1}, 2, 4, steps) == {"b": 1}
    assert upgrade({"a": 1}, 4, 4, steps) == {"a": 1}
    with pytest.raises(StateFormatError, match="no converter from format version 1 to 2"):
        upgrade({}, 1, 4, steps)
    with pytest.raises(StateFormatError, match="newer"):
        upgrade({}, 5, 4, steps)


def test_lists_keep_their_order_and_sets_are_written_sorted() -> None:
    assert encode([3, 1, 2], list[int]) == [3, 1, 2]
    assert encode(frozenset({3, 1, 2}), frozenset[int]) == [1, 2, 3]
