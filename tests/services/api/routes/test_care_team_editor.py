"""The care team as an editor uses it: read (channels redacted to their scheme), change a
little, send it all back. Channels sent back as read keep their stored URLs; a redacted
channel that matches nothing stored is refused, named by its path."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.e2e.alerting import team
from tests.receivers import HttpReceiver, SmtpReceiver
from tests.support import Conn

pytestmark = pytest.mark.usefixtures("ward")


def stored(db: Conn) -> dict[str, Any]:
    db.rollback()
    row = db.execute("SELECT document FROM care_team ORDER BY version DESC LIMIT 1").fetchone()
    assert row is not None
    return dict(row[0])


@pytest.fixture
def receivers() -> Iterator[tuple[HttpReceiver, SmtpReceiver]]:
    # Up and down, though nothing is sent: the SMTP controller owns an event loop to close.
    http, smtp = HttpReceiver(), SmtpReceiver()
    http.up()
    smtp.up()
    try:
        yield http, smtp
    finally:
        http.down()
        smtp.down()


def test_channels_sent_back_as_read_keep_their_stored_urls(
    api: TestClient, db: Conn, receivers: tuple[HttpReceiver, SmtpReceiver]
) -> None:
    http, smtp = receivers
    document = team(http, smtp)
    assert api.put("/api/v1/care-team", json=document).status_code == 200
    read = api.get("/api/v1/care-team").json()["document"]
    assert read["staff"][0]["channels"] == ["json://…"]

    read["staff"][0]["name"] = "Li Na (night)"
    saved = api.put("/api/v1/care-team", json=read)
    assert saved.status_code == 200, saved.text
    now = stored(db)
    assert now["staff"][0]["name"] == "Li Na (night)"
    assert now["staff"][0]["channels"] == [http.url("cg1")]
    assert now["staff"][1]["channels"] == [smtp.url("cn1@example.org")]

    # A hidden channel given to someone who has no such channel stored: refused by its path.
    read["staff"][1]["channels"] = ["json://…"]
    refused = api.put("/api/v1/care-team", json=read)
    assert refused.status_code == 422
    (problem,) = refused.json()["detail"]
    assert problem["loc"] == ["body", "staff", "1", "channels", "0"]
    assert stored(db)["staff"][1]["channels"] == [smtp.url("cn1@example.org")]
