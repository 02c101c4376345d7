"""Detector partitions (`carewatch detect --sites ...`): parsing and what follows from it."""

from __future__ import annotations

import pytest

from services.detector.partition import EVERY_SITE, Partition, parse_partition
from services.errors import ConfigError


def test_without_sites_it_is_the_single_detector_of_before() -> None:
    assert parse_partition(None, None) is EVERY_SITE
    assert parse_partition(" ", None) is EVERY_SITE
    assert EVERY_SITE.client_id == "carewatch-detector"
    assert EVERY_SITE.cursor_key == "cursor:manual"
    assert EVERY_SITE.topic_filters == ("carewatch/v1/#",)
    assert EVERY_SITE.owns("anything")


@pytest.mark.parametrize(
    ("sites", "name", "expected"),
    [
        ("t1", None, Partition("t1", frozenset({"t1"}))),
        ("t2, t1,", None, Partition("t1_t2", frozenset({"t1", "t2"}))),
        ("t1,t2", "north", Partition("north", frozenset({"t1", "t2"}))),
    ],
    ids=["one-site", "named-by-sites-sorted", "named"],
)
def test_parse(sites: str, name: str | None, expected: Partition) -> None:
    assert parse_partition(sites, name) == expected


def test_a_partition_has_its_own_session_filters_and_cursor() -> None:
    north = parse_partition("t2,t1", "north")
    assert north.client_id == "carewatch-detector-north"
    assert north.cursor_key == "cursor:manual:north"
    assert north.topic_filters == ("carewatch/v1/t1/#", "carewatch/v1/t2/#")
    assert north.owns("t1") and north.owns("t2") and not north.owns("t3")


@pytest.mark.parametrize(
    ("sites", "name"),
    [
        (None, "north"),
        ("t1/x", None),
        ("t1,+", None),
        ("t1", "no spaces"),
        (",".join(f"site-{n:02d}" for n in range(12)), None),  # a derived name over 64
    ],
    ids=["name-without-sites", "slash", "wildcard", "bad-name", "name-too-long"],
)
def test_refused(sites: str | None, name: str | None) -> None:
    with pytest.raises(ConfigError):
        parse_partition(sites, name)
