"""Tests for ingest.directory: hits cached for good, misses remembered for a TTL, bounded."""

from __future__ import annotations

import pytest

from ingest.directory import DeviceDirectory

TTL = 5.0


class FakeClock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class FakeLookup:
    """The devices table as a dict; records every device id it is asked about."""

    def __init__(self, sites: dict[str, str] | None = None) -> None:
        self.sites = dict(sites or {})
        self.calls: list[str] = []

    def __call__(self, device_id: str) -> str | None:
        self.calls.append(device_id)
        return self.sites.get(device_id)


def directory(lookup: FakeLookup, clock: FakeClock) -> DeviceDirectory:
    return DeviceDirectory(lookup, clock, miss_ttl_s=TTL)


def test_hit_is_looked_up_once_and_cached_forever() -> None:
    lookup, clock = FakeLookup({"dev-1": "t1"}), FakeClock()
    d = directory(lookup, clock)
    assert d.site_of("dev-1") == "t1"
    for _ in range(3):
        clock.advance(1e9)
        assert d.site_of("dev-1") == "t1"
    assert lookup.calls == ["dev-1"]


def test_hit_is_final_even_if_the_table_changes() -> None:
    lookup, clock = FakeLookup({"dev-1": "t1"}), FakeClock()
    d = directory(lookup, clock)
    assert d.site_of("dev-1") == "t1"
    lookup.sites["dev-1"] = "t2"
    clock.advance(TTL * 10)
    assert d.site_of("dev-1") == "t1"
    assert lookup.calls == ["dev-1"]


def test_devices_are_cached_independently() -> None:
    lookup, clock = FakeLookup({"dev-1": "t1", "dev-2": "t2"}), FakeClock()
    d = directory(lookup, clock)
    assert [d.site_of(x) for x in ("dev-1", "dev-2", "dev-1", "dev-2")] == ["t1", "t2"] * 2
    assert lookup.calls == ["dev-1", "dev-2"]


@pytest.mark.parametrize(
    ("elapsed", "looked_up_again"),
    [
        (0.0, False),
        (TTL / 2, False),
        (TTL - 0.001, False),
        (TTL, True),
        (TTL + 0.001, True),
        (TTL * 100, True),
    ],
    ids=["same-instant", "half-ttl", "just-before-ttl", "at-ttl", "just-after-ttl", "long-after"],
)
def test_miss_is_remembered_for_the_ttl(elapsed: float, looked_up_again: bool) -> None:
    lookup, clock = FakeLookup(), FakeClock()
    d = directory(lookup, clock)
    assert d.site_of("ghost") is None
    clock.advance(elapsed)
    assert d.site_of("ghost") is None
    assert len(lookup.calls) == (2 if looked_up_again else 1)


def test_miss_ttl_restarts_from_the_latest_lookup() -> None:
    lookup, clock = FakeLookup(), FakeClock()
    d = directory(lookup, clock)
    d.site_of("ghost")
    clock.advance(TTL)
    d.site_of("ghost")  # looked up again: the miss is now remembered from here
    clock.advance(TTL - 0.001)
    d.site_of("ghost")
    assert lookup.calls == ["ghost", "ghost"]


def test_flood_of_one_unknown_device_costs_one_lookup_per_ttl() -> None:
    lookup, clock = FakeLookup(), FakeClock()
    d = directory(lookup, clock)
    for _ in range(1000):  # 1000 messages over 2.5 TTLs
        assert d.site_of("ghost") is None
        clock.advance(TTL / 400)
    assert len(lookup.calls) == 3


def test_device_provisioned_after_a_miss_is_found_once_the_ttl_passes() -> None:
    lookup, clock = FakeLookup(), FakeClock()
    d = directory(lookup, clock)
    assert d.site_of("new") is None
    lookup.sites["new"] = "t1"  # provisioning commits
    clock.advance(TTL - 0.001)
    assert d.site_of("new") is None  # still the remembered miss
    clock.advance(0.001)
    assert d.site_of("new") == "t1"
    clock.advance(TTL * 10)
    assert d.site_of("new") == "t1"  # and from now on a cached hit
    assert lookup.calls == ["new", "new"]


def test_misses_stay_bounded() -> None:
    lookup, clock = FakeLookup({"real": "t1"}), FakeClock()
    d = directory(lookup, clock)
    for i in range(25_000):  # an account spraying random device ids
        assert d.site_of(f"ghost-{i}") is None
    assert len(d._misses) <= 10_001
    # Forgetting misses never costs a known device its cached site.
    assert d.site_of("real") == "t1"
    for i in range(25_000):
        d.site_of(f"other-{i}")
    assert d.site_of("real") == "t1"
    assert lookup.calls.count("real") == 1
