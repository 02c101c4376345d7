"""The pages' files without a browser: every label in both catalogues, every key the pages use
in them, the backend's vocabularies covered, no inline script or style and nothing from
another origin; the security headers on every page."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import get_args

import pytest
from fastapi.testclient import TestClient

from rules.news2 import Band, Parameter
from rules.outbreak_syndromes import SYNDROMES
from rules.vocabulary import PERSON_KINDS, SIGNS
from services.alerts.model import STAFF_OUTCOMES
from services.api.routes.resident_care import Status as ResidentStatus
from services.api.routes.web import WEB_DIR
from services.auth.principal import ROLES
from services.careteam.roster import Role as StaffRole
from services.records.model import ABILITY_LEVELS, Sex
from services.referrals.model import STATES, TRANSITIONS

CATALOGUES = {path.stem: json.loads(path.read_text()) for path in (WEB_DIR / "i18n").glob("*.json")}
SCRIPTS = sorted((WEB_DIR / "js").glob("*.js"))
PAGES = sorted(WEB_DIR.glob("*.html"))
PLACEHOLDER = re.compile(r"\{(\w+)\}")
NAMESPACES = {key.split(".")[0] for key in CATALOGUES["en"]}


def used_keys() -> set[str]:
    """Keys named literally in the modules and the pages (dynamic ones are checked below)."""
    keys: set[str] = set()
    for script in SCRIPTS:
        for literal in re.findall(r"'([a-z0-9_]+(?:\.[A-Za-z0-9_]+)+)'", script.read_text()):
            if literal.split(".")[0] in NAMESPACES:
                keys.add(literal)
    for page in PAGES:
        keys.update(re.findall(r'data-i18n(?:-[a-z-]+)?="([^"]+)"', page.read_text()))
    return keys


def test_both_languages_have_the_same_labels_with_the_same_placeholders() -> None:
    assert set(CATALOGUES) == {"en", "zh"}
    en, zh = CATALOGUES["en"], CATALOGUES["zh"]
    assert sorted(set(en) ^ set(zh)) == []
    for key, text in en.items():
        assert set(PLACEHOLDER.findall(text)) == set(PLACEHOLDER.findall(zh[key])), key
        assert zh[key].strip(), key


def test_every_key_the_pages_use_is_in_the_catalogue() -> None:
    keys = used_keys()
    assert len(keys) > 100
    assert sorted(keys - set(CATALOGUES["en"])) == []


@pytest.mark.parametrize(
    ("prefix", "values"),
    [
        ("severity.", ("low", "medium", "high", "critical")),
        ("status.", ("open", "notified", "escalated", "acknowledged", "resolved")),
        ("outcome.", STAFF_OUTCOMES),
        ("state.", STATES),
        ("transition.", tuple({to for steps in TRANSITIONS.values() for to in steps})),
        ("role.", (*ROLES, *get_args(StaffRole))),
        ("param.", get_args(Parameter)),
        ("band.", get_args(Band)),
        ("live.", ("connecting", "live", "reconnecting", "unavailable")),
        ("device.", ("offline", "silent", "off_wrist", "battery_low")),
        ("range.", ("1h", "24h", "7d", "30d")),
        ("symptom.", SIGNS),
        ("syndrome.", (*SYNDROMES, "fever")),
        ("outbreak_status.", ("open", "reported", "ruled_out")),
        ("person_kind.", PERSON_KINDS),
        ("resident_status.", get_args(ResidentStatus)),
        ("ability.", ABILITY_LEVELS),
        ("sex.", get_args(Sex)),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_the_backends_vocabularies_have_labels(prefix: str, values: tuple[str, ...]) -> None:
    missing = [v for v in values if f"{prefix}{v}" not in CATALOGUES["en"]]
    assert missing == []


def test_every_rule_of_the_detection_doc_has_a_label() -> None:
    doc = (Path(__file__).resolve().parents[2] / "docs" / "detection.md").read_text()
    table = doc.split("## The rules", 1)[1].split("\n\n")[1]
    rules = set(re.findall(r"^\| `([a-z0-9_.]+)`", table, re.MULTILINE))
    assert len(rules) > 15
    # "vital.hr.low / .high": the doc writes a pair in one row.
    rules |= {"vital.hr.high", "vital.rr.high", "vital.sbp.high", "baseline.rr"}
    assert sorted(r for r in rules if f"rule.{r}" not in CATALOGUES["en"]) == []


def test_every_stylesheet_closes_what_it_opens() -> None:
    """A rule left open swallows every rule after it (a merge once cut the print styles off
    this way): comments aside, each `{` has its `}` and none closes early."""
    for sheet in sorted((WEB_DIR / "css").glob("*.css")):
        text = re.sub(r"/\*.*?\*/", "", sheet.read_text(), flags=re.S)
        depth = 0
        for line_no, line in enumerate(text.splitlines(), 1):
            depth += line.count("{") - line.count("}")
            assert depth >= 0, f"{sheet.name}:{line_no} closes a rule that was not open"
        assert depth == 0, f"{sheet.name}: {depth} rule(s) never closed"


def test_pages_have_no_inline_code_and_nothing_from_elsewhere() -> None:
    for page in PAGES:
        html = page.read_text()
        assert re.findall(r"<script(?![^>]*\bsrc=)", html) == [], page.name
        assert "<style" not in html and " style=" not in html, page.name
        assert not re.search(r"\son[a-z]+=", html), page.name  # no inline event handlers
        assert not re.search(r"(src|href)=\"(https?:)?//", html), page.name
    for script in SCRIPTS:
        code = script.read_text()
        unsafe = re.search(r"\.(inner|outer)HTML\b|insertAdjacentHTML|\beval\(", code)
        assert unsafe is None, script.name
        assert not re.search(r"from '(?!\./)", code), script.name  # only our own modules


@pytest.mark.services
@pytest.mark.parametrize(
    "path",
    [
        "/login",
        "/board",
        "/residents/1",
        "/referrals",
        "/admin",
        "/devices",
        "/family",
        "/web/js/board.js",
    ],
)
def test_pages_carry_the_security_headers(api: TestClient, path: str) -> None:
    response = api.get(path, headers={"Authorization": ""})
    assert response.status_code == 200
    csp = response.headers["content-security-policy"]
    directives = dict(d.strip().split(" ", 1) for d in csp.split(";"))
    assert directives["script-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'"
    assert "unsafe" not in csp
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"
    expected = "text/javascript" if path.endswith(".js") else "text/html"
    assert response.headers["content-type"].startswith(expected)
    again = api.get(path, headers={"Authorization": "", "If-None-Match": response.headers["etag"]})
    assert again.status_code == 304


@pytest.mark.services
def test_only_the_pages_own_files_are_served(api: TestClient) -> None:
    for path in ("/web/../app.py", "/web/%2e%2e/app.py", "/web/js/missing.js", "/web/i18n"):
        assert api.get(path, headers={"Authorization": ""}).status_code == 404, path
    home = api.get("/", headers={"Authorization": ""}, follow_redirects=False)
    assert home.status_code == 303 and home.headers["location"] == "/board"
