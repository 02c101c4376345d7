"""The pure parts of getting a page out: retry and fallback timing, message text, signed
one-time links, and the care team document's validation."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest

from rules.types import AlertCandidate
from services.alerts.lifecycle import apply_candidate
from services.alerts.links import LinkError, LinkSigner
from services.alerts.messages import (
    Audience,
    Fever,
    Place,
    acknowledged_message,
    page_message,
    resolved_message,
)
from services.alerts.model import AlertBook, Incident
from services.careteam.errors import AlertConfigError
from services.careteam.team import load_care_team, roster_of
from services.notifications.retry import RetryPolicy
from tests.services.alerts.fakes import CONFIG, ROSTER, T0, at

KEY = "k" * 32
EN = Audience("en", full_details=True)  # English, names and values (a site's choice)


@pytest.mark.parametrize(
    ("attempts", "channel", "channels", "expected"),
    [
        (1, 0, 2, (0, 1.0)),  # first failure: the same channel again, after the base delay
        (2, 0, 2, (1, 0.0)),  # its second: straight on to the fallback
        (3, 1, 2, (1, 4.0)),  # the fallback's first failure: backoff keeps growing
        (4, 1, 2, (0, 8.0)),  # every channel failed this round: back off, start over
        (1, 0, 1, (0, 1.0)),
        (2, 0, 1, (0, 2.0)),  # a single channel is retried for ever with backoff
        (20, 0, 1, (0, 60.0)),  # capped
    ],
)
def test_retries_back_off_then_fall_back_and_start_over(
    attempts: int, channel: int, channels: int, expected: tuple[int, float]
) -> None:
    assert RetryPolicy().after_failure(attempts, channel, channels) == expected


def test_a_retry_policy_is_checked() -> None:
    with pytest.raises(ValueError, match="attempts_per_channel"):
        RetryPolicy(attempts_per_channel=0)
    with pytest.raises(ValueError, match="base_s"):
        RetryPolicy(base_s=5, cap_s=1)


def fall(subject: str = "resident:1", **values: float) -> AlertCandidate:
    return AlertCandidate(
        rule_id="fall.device",
        action="raise",
        subject=subject,
        dedupe_key=f"fall:{subject}",
        severity="high",
        ts=T0,
        title="Fall reported by device",
        values=dict(values),
    )


def incident_of(*candidates: AlertCandidate) -> Incident:
    book = AlertBook()
    for c in candidates:
        book, _ = apply_candidate(book, c, now=T0, config=CONFIG, roster=ROSTER)
    (incident,) = book.incidents.values()
    return incident


PLACE = Place("Sunshine Home", "Unit 1", "Zhang Wei", "203", "2")


def test_a_page_says_who_where_what_the_values_when_and_how_to_acknowledge() -> None:
    message = page_message(
        incident_of(fall(impact_g=3.14, still_s=40)),
        PLACE,
        step=1,
        renotify=False,
        link="https://cw.example/a/T",
        to=EN,
    )
    assert message.title == "[HIGH] Fall reported by device — Zhang Wei"
    lines = message.body.splitlines()
    assert lines[:3] == [
        "Fall reported by device",
        "Who: Zhang Wei",
        "Where: Sunshine Home, unit Unit 1, room 203, bed 2",
    ]
    assert "Fall reported by device: impact 3.14 g, still for 40 s" in lines
    assert "Since: 3/9 10:00" in lines  # the site's local time
    assert lines[-1] == "Acknowledge: https://cw.example/a/T"
    assert not any("Escalation" in line for line in lines)


def test_reminders_and_later_steps_say_so() -> None:
    message = page_message(incident_of(fall()), PLACE, step=2, renotify=True, link=None, to=EN)
    assert message.title.startswith("REMINDER [HIGH]")
    assert "Escalation step 2: nobody has acknowledged yet." in message.body
    assert "Acknowledge" not in message.body


def test_an_outbreak_page_lists_the_febrile_residents() -> None:
    cluster = AlertCandidate(
        rule_id="outbreak.fever_cluster",
        action="raise",
        subject="unit:site-a/unit-1",
        dedupe_key="outbreak:unit:site-a/unit-1",
        severity="high",
        ts=T0,
        title="Fever cluster: 2 residents of unit unit-1 within 72 h",
        values={"count": 2},
        audience="infection_control",
    )
    fevers = [Fever("A", 38.44, at(-3600)), Fever("B", 39.0, at(-60))]
    body = page_message(
        incident_of(cluster),
        Place("Sunshine Home", "Unit 1"),
        step=1,
        renotify=False,
        link=None,
        fevers=fevers,
        to=EN,
    ).body
    assert "Who: unit Unit 1" in body
    assert "Febrile residents (2):\n  A: 38.4 °C at 3/9 09:00\n  B: 39.0 °C at 3/9 09:59" in body


def test_an_outbreak_page_never_names_a_resident_without_messaging_consent() -> None:
    cluster = AlertCandidate(
        rule_id="outbreak.fever_cluster",
        action="raise",
        subject="unit:site-a/unit-1",
        dedupe_key="outbreak:unit:site-a/unit-1",
        severity="high",
        ts=T0,
        title="Fever cluster: 2 residents of unit unit-1 within 72 h",
        values={"count": 2},
        audience="infection_control",
    )
    fevers = [Fever("A", 38.44, at(-3600), messaging_consent=False), Fever("B", 39.0, at(-60))]
    body = page_message(
        incident_of(cluster),
        Place("Sunshine Home", "Unit 1"),
        step=1,
        renotify=False,
        link=None,
        fevers=fevers,
        to=EN,
    ).body
    assert "Febrile residents (2):\n  B: 39.0 °C at 3/9 09:59" in body  # counted, not named
    assert "A:" not in body and "38.4" not in body


@pytest.mark.parametrize(
    ("kind", "named"),
    [("wearable", "wristband w-17"), ("bed_sensor", "bed sensor w-17"), ("", "device w-17")],
    ids=["wristband", "bed-sensor", "kind-unknown"],
)
def test_a_device_page_names_the_device_kind_and_id(kind: str, named: str) -> None:
    offline = AlertCandidate(
        rule_id="device.offline",
        action="raise",
        subject="resident:1",
        dedupe_key="device.offline:w-17",
        severity="medium",
        ts=T0,
        title="Device disconnected",
        values={"device_id": "w-17", "device_kind": kind} if kind else {"device_id": "w-17"},
    )
    message = page_message(incident_of(offline), PLACE, step=1, renotify=False, link=None, to=EN)
    assert message.title == f"[MEDIUM] Device disconnected ({named}) — Zhang Wei"
    assert message.body.splitlines()[0] == f"Device disconnected ({named})"
    done = resolved_message(incident_of(offline), PLACE, by="system", outcome="self_cleared", to=EN)
    assert named in done.body


def test_follow_ups_are_short_and_clear() -> None:
    incident = incident_of(fall())
    ack = acknowledged_message(incident, PLACE, by="Li Na", to=EN)
    assert ack.title == "Acknowledged — Zhang Wei"
    assert ack.body.startswith("Li Na is on it: Fall reported by device")
    done = resolved_message(incident, PLACE, by="Li Na", outcome="false_alarm", to=EN)
    assert done.title == "Resolved — Zhang Wei" and "false alarm" in done.body


def test_a_link_names_its_alert_and_person_and_nothing_else_verifies() -> None:
    signer = LinkSigner(KEY)
    link = signer.issue(42, "cg1", now=T0)
    assert signer.verify(link.token) == (42, "cg1", link.nonce)
    assert link.expires_at == T0 + timedelta(seconds=signer.ttl_s)
    assert signer.issue(42, "cg1", now=T0).nonce != link.nonce  # each page its own link
    with pytest.raises(LinkError, match="not a valid"):
        signer.verify(link.token[:-2] + ("AA" if not link.token.endswith("AA") else "BB"))
    with pytest.raises(LinkError, match="not a valid"):
        LinkSigner("another key of 32 characters....").verify(link.token)
    with pytest.raises(ValueError, match="at least 16"):
        LinkSigner("short")


def test_an_old_link_has_expired(monkeypatch: pytest.MonkeyPatch) -> None:
    signer = LinkSigner(KEY, ttl_s=60)
    token = signer.issue(1, "cg1", now=T0).token
    later = time.time() + 61
    monkeypatch.setattr(time, "time", lambda: later)  # what itsdangerous's timestamps read
    with pytest.raises(LinkError, match="expired"):
        signer.verify(token)


DOCUMENT = {
    "staff": [
        {"id": "cg1", "name": "Li Na", "role": "caregiver", "channels": ["ntfy://cw-ward-1"]},
        {"id": "fam", "name": "Daughter", "role": "family", "channels": ["mailto://d@x.org"]},
    ],
    "shifts": [{"staff": "cg1", "site": "s", "start": "22:00", "end": "07:00", "units": ["u"]}],
    "contacts": [{"resident": 7, "family": ["fam"]}],
    "hospitals": [{"id": "h", "name": "H", "sites": ["s"], "channels": ["json://h.example"]}],
}


def test_a_care_team_document_becomes_the_roster() -> None:
    team = load_care_team(DOCUMENT)
    roster = roster_of(team, {7: ("s", "u", "Asia/Shanghai"), 8: ("s", "u", "Asia/Shanghai")})
    assert roster.residents[7].family == ("fam",) and roster.residents[8].family == ()
    assert roster.shifts[0].covers(T0.replace(hour=3))  # crosses midnight
    assert [h.id for h in team.hospitals_for("s")] == ["h"] and not team.hospitals_for("x")


@pytest.mark.parametrize(
    ("change", "path", "message"),
    [
        (
            {"staff": [{"id": "x", "name": "X", "role": "caregiver", "channels": ["nope"]}]},
            "staff.0.channels",
            "not an apprise URL",
        ),
        (
            {"staff": [{"id": "x", "name": "X", "role": "janitor", "channels": ["ntfy://a"]}]},
            "staff.0.role",
            "",
        ),
        (
            {"shifts": [{"staff": "ghost", "site": "s", "start": "08:00", "end": "20:00"}]},
            "<care team>",
            "unknown staff 'ghost'",
        ),
        ({"alerts": {"grouping_window_s": -1}}, "alerts.grouping_window_s", ""),
        ({"surprise": 1}, "surprise", "Extra inputs"),
    ],
)
def test_a_bad_document_names_the_problem(
    change: dict[str, object], path: str, message: str
) -> None:
    with pytest.raises(AlertConfigError) as caught:
        load_care_team({**DOCUMENT, **change})
    assert any(key == path and message in msg for key, msg in caught.value.problems), (
        caught.value.problems
    )


def test_contacts_of_unknown_residents_are_refused() -> None:
    with pytest.raises(AlertConfigError, match=r"unknown residents \[7\]"):
        roster_of(load_care_team(DOCUMENT), {})


def test_the_example_care_team_in_deploy_is_valid() -> None:
    from pathlib import Path

    import yaml

    example = Path(__file__).parents[3] / "deploy" / "care-team.example.yaml"
    team = load_care_team(yaml.safe_load(example.read_text()))
    assert {s.role for s in team.staff} >= {"caregiver", "charge_nurse", "physician"}
    assert team.alerts.escalation.default.critical.start_step == 2
