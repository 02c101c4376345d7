"""The board's alarm setting per site (`board_alarm` in the care team document), read through
the API by the board: the site's own value, else `site_defaults`, else continuous; only within
the caller's scope."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.e2e.alerting import store
from tests.support import SITE, UNIT, Conn, login_as

BOARD = "/api/v1/care-team/board"
OTHER_SITE = "t9"


def test_the_board_alarm_falls_back_to_the_defaults_then_continuous_and_keeps_to_scope(
    api: TestClient, db: Conn, ward: str
) -> None:
    caregiver = login_as(api, "board-cg", "caregiver", site=SITE, units=(UNIT,), staff="cg1")
    store(db, {"staff": []})
    answer = api.get(BOARD, params={"site": SITE}, headers=caregiver)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"site": SITE, "alarm": "continuous"}

    store(
        db,
        {"site_defaults": {"board_alarm": "once"}, "sites": {OTHER_SITE: {"board_alarm": "off"}}},
    )
    assert (
        api.get(BOARD, params={"site": SITE, "unit": UNIT}, headers=caregiver).json()["alarm"]
        == "once"
    )
    # An admin sees every site: the other site's own value.
    assert api.get(BOARD, params={"site": OTHER_SITE}).json()["alarm"] == "off"
    # A caregiver of site t1 does not read site t9's board, nor another unit of its own site.
    assert api.get(BOARD, params={"site": OTHER_SITE}, headers=caregiver).status_code == 403
    assert api.get(BOARD, params={"site": SITE, "unit": "u9"}, headers=caregiver).status_code == 403


def test_a_board_alarm_is_one_of_the_three(api: TestClient, db: Conn) -> None:
    accepted = api.put("/api/v1/care-team", json={"site_defaults": {"board_alarm": "off"}})
    assert accepted.status_code == 200, accepted.text
    assert api.get(BOARD, params={"site": SITE}).json()["alarm"] == "off"
    refused = api.put("/api/v1/care-team", json={"site_defaults": {"board_alarm": "loud"}})
    assert refused.status_code == 422
    locs = [e["loc"] for e in refused.json()["detail"]]
    assert ["body", "site_defaults", "board_alarm"] in locs, locs
