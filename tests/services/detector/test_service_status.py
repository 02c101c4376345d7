"""The detector monitors only residents admitted (issue 17): one sent to hospital, discharged
or deceased since it was last read is dropped from the rules, timers and all, so nothing new
is raised for them; and the loader leaves them out, read from the real database."""

from __future__ import annotations

import pytest

from rules.engine import RulesConfig
from rules.types import ResidentProfile
from services.detector.config import DetectorConfig
from services.detector.residents import ResidentRecord, load_resident, load_residents
from services.detector.service import Detector
from services.settings import MqttEndpoint
from tests.support import Conn

SITE, UNIT = "det-status-site", "det-status-unit"


class Profiles:
    """The detector's profile cache, with what the last read found."""

    def __init__(self) -> None:
        self.records: dict[int, ResidentRecord | None] = {}

    def get(self, resident_id: int) -> ResidentRecord | None:
        return self.records.get(resident_id)


def test_a_resident_no_longer_admitted_leaves_the_rules() -> None:
    endpoint = MqttEndpoint("127.0.0.1", 1, "nobody", "unused")
    d = Detector(DetectorConfig(), mqtt_endpoint=endpoint, database_url="postgresql://")
    profiles = Profiles()
    d.profiles = profiles  # type: ignore[assignment]
    profiles.records[7] = ResidentRecord(ResidentProfile(7, SITE, UNIT), RulesConfig())
    assert d._ensure_resident(7) and 7 in d.engine.residents

    profiles.records[7] = None  # re-read: in hospital now
    assert not d._ensure_resident(7)
    assert 7 not in d.engine.residents  # no timer of theirs runs at the next tick


@pytest.mark.services
def test_the_loader_reads_only_residents_admitted(db: Conn) -> None:
    db.execute("INSERT INTO sites VALUES (%s, %s) ON CONFLICT DO NOTHING", [SITE, SITE])
    db.execute("INSERT INTO units VALUES (%s, %s, %s) ON CONFLICT DO NOTHING", [SITE, UNIT, UNIT])
    ids = {}
    for status in ("admitted", "in_hospital", "discharged", "deceased"):
        row = db.execute(
            "INSERT INTO residents (site_id, unit_id, display_name, status)"
            " VALUES (%s, %s, %s, %s) RETURNING resident_id",
            [SITE, UNIT, status, status],
        ).fetchone()
        assert row is not None
        ids[status] = int(row[0])
    assert set(load_residents(db, frozenset({SITE}))) == {ids["admitted"]}
    assert load_resident(db, ids["admitted"]) is not None
    for status in ("in_hospital", "discharged", "deceased"):
        assert load_resident(db, ids[status]) is None, status
