"""`carewatch region add`, `carewatch site add --region`, `carewatch site region` and
`carewatch user add --role regulator --region`: run against the session's real database with
the owner's URL, as an operator would."""

from __future__ import annotations

from typer.testing import CliRunner, Result

from services.cli import app
from tests.support import Conn


def _run(db_url: str, *args: str, stdin: str | None = None) -> Result:
    return CliRunner().invoke(app, list(args), input=stdin, env={"CAREWATCH_DATABASE_URL": db_url})


def test_an_operator_makes_a_region_puts_sites_in_it_and_a_regulator_on_it(
    db: Conn, db_url: str
) -> None:
    made = _run(db_url, "region", "add", "cli-north", "--name", "North district")
    assert made.exit_code == 0, made.output
    assert "region cli-north added" in made.output
    renamed = _run(db_url, "region", "add", "cli-north", "--name", "北区")
    assert renamed.exit_code == 0, renamed.output
    row = db.execute("SELECT name FROM regions WHERE region_id = 'cli-north'").fetchone()
    assert row == ("北区",)

    site = _run(db_url, "site", "add", "cli-s1", "--name", "Home one", "--region", "cli-north")
    assert site.exit_code == 0, site.output
    _run(db_url, "site", "add", "cli-s2", "--name", "Home two")
    moved = _run(db_url, "site", "region", "cli-s2", "cli-north")
    assert moved.exit_code == 0, moved.output
    regions = db.execute(
        "SELECT site_id, region_id FROM sites WHERE site_id LIKE 'cli-s%' ORDER BY site_id"
    ).fetchall()
    assert regions == [("cli-s1", "cli-north"), ("cli-s2", "cli-north")]
    out = _run(db_url, "site", "region", "cli-s2")
    assert out.exit_code == 0, out.output
    row = db.execute("SELECT region_id FROM sites WHERE site_id = 'cli-s2'").fetchone()
    assert row == (None,)

    user = _run(
        db_url, "user", "add", "cli-reg", "--role", "regulator", "--region", "cli-north",
        stdin="a long enough password\n",
    )  # fmt: skip
    assert user.exit_code == 0, user.output
    row = db.execute("SELECT role, region_id FROM users WHERE username = 'cli-reg'").fetchone()
    assert row == ("regulator", "cli-north")


def test_unknown_regions_and_sites_are_refused_and_change_nothing(db: Conn, db_url: str) -> None:
    _run(db_url, "site", "add", "cli-s3", "--name", "Home three")
    for args, says in [
        (("site", "region", "cli-s3", "no-such-region"), "no region 'no-such-region'"),
        (("site", "region", "no-such-site", "cli-north"), "no site 'no-such-site'"),
        (("site", "add", "cli-s4", "--name", "Four", "--region", "nowhere"), "no region"),
        (("region", "add", "bad id!", "--name", "x"), "a region id is 1-64"),
        (("region", "add", "cli-empty", "--name", " "), "needs a name"),
    ]:
        refused = _run(db_url, *args)
        assert refused.exit_code == 1, (args, refused.output)
        assert says in refused.output, (args, refused.output)
    # The site add with an unknown region is one transaction: no site without its region.
    assert db.execute("SELECT 1 FROM sites WHERE site_id = 'cli-s4'").fetchone() is None
    assert db.execute("SELECT 1 FROM regions WHERE region_id = 'cli-empty'").fetchone() is None
    regulator = _run(
        db_url, "user", "add", "cli-reg-x", "--role", "regulator", "--region", "nowhere",
        stdin="a long enough password\n",
    )  # fmt: skip
    assert regulator.exit_code == 1, regulator.output
    assert "no region 'nowhere'" in regulator.output


def test_a_lead_hospital_must_be_one_of_the_care_teams(db: Conn, db_url: str) -> None:
    refused = _run(
        db_url, "region", "add", "cli-lead", "--name", "Lead", "--lead-hospital", "cli-no-hosp"
    )
    assert refused.exit_code == 1, refused.output
    assert "no hospital 'cli-no-hosp'" in refused.output
    # One transaction: the region is not made without its lead hospital.
    assert db.execute("SELECT 1 FROM regions WHERE region_id = 'cli-lead'").fetchone() is None
