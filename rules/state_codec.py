"""Rule and alert state as JSON: an explicit, stable format driven by the state's type hints.

A dataclass is an object of its fields by name (a field missing from the document takes its
default, so adding a field with a default needs nothing here; a field without a default, or a
name the class no longer has, is an error: a rename needs a converter, never a silent loss).
Everything else is as plain as the type allows: datetime as ISO 8601 (in a named zone:
{"local", "fold", "zone"}), timedelta as whole microseconds, tuples, frozensets and lists as
arrays, mappings with text keys as objects and with other keys as arrays of [key, value] pairs,
Decimal as text, numpy arrays as {"dtype", "shape", "data" (base64, little-endian)},
non-finite floats as {"float": "nan"}. Only a union of several dataclasses is tagged (its
member's "@type").

Pure: no I/O. A document's format version is kept by whoever stores it (see `upgrade`).
"""

from __future__ import annotations

import base64
import dataclasses
import enum
import math
import types
import typing
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from decimal import Decimal
from functools import cache
from typing import Any, Literal, Union
from zoneinfo import ZoneInfo

import numpy as np

__all__ = ["Json", "StateFormatError", "dataclasses_in", "decode", "encode", "upgrade"]

Json = Any  # None | bool | int | float | str | list[Json] | dict[str, Json]
TAG = "@type"


class StateFormatError(ValueError):
    """A document that does not fit the type it is read as (or a type that has no format)."""


def encode(value: Any, tp: Any) -> Json:
    """`value` as a document of type `tp` (a value not of that type, e.g. one read from an old
    format, is a StateFormatError: decoding the result checks the rest)."""
    try:
        return _codec(tp)[0](value)
    except (AttributeError, TypeError, ValueError, KeyError) as e:
        if isinstance(e, StateFormatError):
            raise
        raise StateFormatError(f"not a {tp!r}: {type(e).__name__}: {e}") from None


def decode(doc: Json, tp: Any) -> Any:
    return _codec(tp)[1](doc)


def upgrade(
    doc: Json, version: int, current: int, steps: Mapping[int, Callable[[Json], Json]]
) -> Json:
    """Bring a document of format `version` to `current`: `steps[v]` turns v into v + 1."""
    if version > current:
        raise StateFormatError(f"format version {version} is newer than this code's {current}")
    for v in range(version, current):
        if v not in steps:
            raise StateFormatError(f"no converter from format version {v} to {v + 1}")
        doc = steps[v](doc)
    return doc


def dataclasses_in(tp: Any) -> frozenset[type]:
    """Every dataclass a value of type `tp` may hold (what a legacy reader may build)."""
    found: set[type] = set()

    def walk(t: Any) -> None:
        for arg in typing.get_args(t):
            walk(arg)
        if dataclasses.is_dataclass(t) and isinstance(t, type) and t not in found:
            found.add(t)
            for hint in _hints(t).values():
                walk(hint)

    walk(tp)
    return frozenset(found)


Codec = tuple[Callable[[Any], Json], Callable[[Json], Any]]


@cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


@cache
def _codec(tp: Any) -> Codec:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if tp is type(None) or tp is None:
        return _exact(type(None), "null")
    if tp in (bool, int, str):
        return _exact(tp, tp.__name__)
    if tp is float:
        return _encode_float, _decode_float
    if tp is datetime:
        return _encode_datetime, _decode_datetime
    if tp is timedelta:
        return (lambda v: v // timedelta(microseconds=1)), _wrap(
            lambda d: timedelta(microseconds=_check(d, int)), "timedelta"
        )
    if tp is Decimal:
        return str, _wrap(lambda d: Decimal(_check(d, str)), "Decimal")
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return (lambda v: v.value), _wrap(tp, tp.__name__)
    if origin is Literal:
        return (lambda v: v), lambda d: _literal(d, args)
    if origin in (Union, types.UnionType):
        return _union(args)
    if origin is tuple:
        return _tuple(args)
    if origin in (frozenset, set, list):
        enc, dec = _codec(args[0])
        order = (lambda items: items) if origin is list else _sorted
        return (lambda v: order([enc(x) for x in v])), lambda d: origin(
            dec(x) for x in _check(d, list)
        )
    if origin in (dict, Mapping):
        return _mapping(args[0], args[1])
    if tp is np.ndarray or origin is np.ndarray:
        return _encode_array, _decode_array
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        return _dataclass(tp)
    raise StateFormatError(f"no state format for {tp!r}")


def _check(doc: Json, kind: type | tuple[type, ...]) -> Any:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if not isinstance(doc, kinds) or (isinstance(doc, bool) and bool not in kinds):
        raise StateFormatError(f"expected {kind}, got {doc!r:.80}")
    return doc


def _wrap(build: Callable[[Any], Any], what: str) -> Callable[[Json], Any]:
    def dec(doc: Json) -> Any:
        try:
            return build(doc)
        except (TypeError, ValueError) as e:
            raise StateFormatError(f"not a {what}: {doc!r:.80} ({e})") from None

    return dec


def _exact(kind: type, what: str) -> Codec:
    return (lambda v: v), _wrap(lambda d: _check(d, kind), what)


def _literal(doc: Json, allowed: tuple[Any, ...]) -> Any:
    if doc not in allowed:
        raise StateFormatError(f"{doc!r:.80} is not one of {allowed}")
    return doc


def _sorted(items: list[Json]) -> list[Json]:
    try:
        return sorted(items)  # stable output for sets of text or numbers
    except TypeError:
        return items


def _encode_float(v: float) -> Json:
    return float(v) if math.isfinite(v) else {"float": repr(float(v))}


def _decode_float(doc: Json) -> float:
    if isinstance(doc, dict) and set(doc) == {"float"} and doc["float"] in ("nan", "inf", "-inf"):
        return float(doc["float"])
    return float(_check(doc, (int, float)))


def _encode_datetime(v: datetime) -> Json:
    if isinstance(v.tzinfo, ZoneInfo):  # keep the zone: wall-clock arithmetic depends on it
        local = v.replace(tzinfo=None).isoformat()
        return {"local": local, "fold": v.fold, "zone": v.tzinfo.key}
    return v.isoformat()


def _decode_datetime(doc: Json) -> datetime:
    try:
        if isinstance(doc, dict) and set(doc) == {"local", "fold", "zone"}:
            local = datetime.fromisoformat(_check(doc["local"], str))
            return local.replace(tzinfo=ZoneInfo(doc["zone"]), fold=_check(doc["fold"], int))
        return datetime.fromisoformat(_check(doc, str))
    except (TypeError, ValueError, KeyError) as e:
        raise StateFormatError(f"not a datetime: {doc!r:.80} ({e})") from None


def _encode_array(v: np.ndarray[Any, Any]) -> Json:
    little = v.astype(v.dtype.newbyteorder("<"), copy=False)
    data = base64.b64encode(np.ascontiguousarray(little).tobytes()).decode("ascii")
    return {"dtype": little.dtype.str, "shape": list(v.shape), "data": data}


def _decode_array(doc: Json) -> np.ndarray[Any, Any]:
    try:
        dtype = np.dtype(_check(doc["dtype"], str))
        if dtype.kind not in "fiub":
            raise ValueError(f"dtype {dtype} is not numeric")
        shape = tuple(_check(n, int) for n in _check(doc["shape"], list))
        raw = base64.b64decode(_check(doc["data"], str), validate=True)
        array = np.frombuffer(raw, dtype=dtype).reshape(shape)
        if not dtype.isnative:
            array = array.astype(dtype.newbyteorder("="))
        array.setflags(write=False)  # as the rules keep their buffers
        return array
    except (TypeError, ValueError, KeyError) as e:
        raise StateFormatError(f"not an array: {e}") from None


def _tuple(args: tuple[Any, ...]) -> Codec:
    if len(args) == 2 and args[1] is Ellipsis:
        enc, dec = _codec(args[0])
        return (lambda v: [enc(x) for x in v]), lambda d: tuple(dec(x) for x in _check(d, list))
    codecs = [_codec(a) for a in args]

    def decode_fixed(doc: Json) -> tuple[Any, ...]:
        if len(_check(doc, list)) != len(codecs):
            raise StateFormatError(f"expected {len(codecs)} items, got {doc!r:.80}")
        return tuple(c[1](x) for c, x in zip(codecs, doc, strict=True))

    return (lambda v: [c[0](x) for c, x in zip(codecs, v, strict=True)]), decode_fixed


def _mapping(key: Any, value: Any) -> Codec:
    kenc, kdec = _codec(key)
    venc, vdec = _codec(value)
    if key is str:
        return (lambda v: {k: venc(x) for k, x in v.items()}), lambda d: {
            k: vdec(x) for k, x in _check(d, dict).items()
        }

    def decode_pairs(doc: Json) -> dict[Any, Any]:
        pairs = [_check(p, list) for p in _check(doc, list)]
        if any(len(p) != 2 for p in pairs):
            raise StateFormatError(f"expected [key, value] pairs, got {doc!r:.80}")
        return {kdec(k): vdec(x) for k, x in pairs}

    return (lambda v: [[kenc(k), venc(x)] for k, x in v.items()]), decode_pairs


def _accepts(tp: Any, value: Any) -> bool:
    """Whether `value` is of member `tp` of a union (to choose how to write it)."""
    origin = typing.get_origin(tp) or tp
    if tp is type(None) or tp is None:
        return value is None
    if origin is Literal:
        return value in typing.get_args(tp)
    if tp is float:
        return isinstance(value, float | int) and not isinstance(value, bool)
    if tp is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if origin is Mapping:
        return isinstance(value, Mapping)
    return isinstance(value, origin)


def _union(members: tuple[Any, ...]) -> Codec:
    classes = [m for m in members if dataclasses.is_dataclass(m) and isinstance(m, type)]
    if len(classes) > 1:
        if len(classes) != len(members):
            raise StateFormatError(f"a union of dataclasses and other types: {members}")
        by_name = {c.__name__: _codec(c) for c in classes}

        def encode_tagged(v: Any) -> Json:
            return {TAG: type(v).__name__, **by_name[type(v).__name__][0](v)}

        def decode_tagged(doc: Json) -> Any:
            fields = dict(_check(doc, dict))
            name = fields.pop(TAG, None)
            if name not in by_name:
                raise StateFormatError(f"{TAG} {name!r} is not one of {sorted(by_name)}")
            return by_name[name][1](fields)

        return encode_tagged, decode_tagged

    others = [m for m in members if m not in (None, type(None))]

    def encode_member(v: Any) -> Json:
        if v is None and len(others) < len(members):
            return None
        if len(others) == 1:  # `X | None`, the common case: no need to look
            return _codec(others[0])[0](v)
        for m in members:
            if _accepts(m, v):
                return _codec(m)[0](v)
        raise StateFormatError(f"{v!r:.80} is none of {members}")

    def decode_member(doc: Json) -> Any:
        if doc is not None and len(others) == 1:
            return _codec(others[0])[1](doc)  # its own error says which field is wrong
        for m in members:
            try:
                return _codec(m)[1](doc)
            except StateFormatError:
                continue
        raise StateFormatError(f"{doc!r:.80} is none of {members}")

    return encode_member, decode_member


def _dataclass(cls: type) -> Codec:
    fields = [f for f in dataclasses.fields(cls) if f.init]
    names = {f.name for f in fields}
    # Field codecs resolved on first use (a state type may refer to itself), then kept.
    compiled: list[tuple[str, Codec]] = []

    def field_codecs() -> list[tuple[str, Codec]]:
        if not compiled:
            hints = _hints(cls)
            compiled.extend((f.name, _codec(hints[f.name])) for f in fields)
        return compiled

    def encode_fields(v: Any) -> Json:
        return {name: codec[0](getattr(v, name)) for name, codec in field_codecs()}

    def decode_fields(doc: Json) -> Any:
        given = _check(doc, dict)
        unknown = set(given) - names
        if unknown:
            raise StateFormatError(f"{cls.__name__} has no field {sorted(unknown)}")
        kwargs: dict[str, Any] = {}
        for f, (name, codec) in zip(fields, field_codecs(), strict=True):
            if name not in given:
                if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                    raise StateFormatError(f"{cls.__name__}.{name} is missing")
                continue
            try:
                kwargs[name] = codec[1](given[name])
            except StateFormatError as e:
                raise StateFormatError(f"{cls.__name__}.{name}: {e}") from None
        return cls(**kwargs)

    return encode_fields, decode_fields
