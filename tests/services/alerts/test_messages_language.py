"""Pages in the recipient's language from the one catalogue, in the site's local time, private
by default, with a one-segment SMS form; and the care team's language and allow-list settings.
Pure: no database, no sends."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from rules.news2 import News2Config, News2State, news2_step
from rules.types import AlertCandidate, ResidentProfile, Vital
from services.alerts.lifecycle import apply_candidate
from services.alerts.messages import (
    HOME_ROOM,
    KEY_VALUES,
    NEWS2_PARAMETERS,
    SHORT_MAX,
    Audience,
    Place,
    acknowledged_message,
    page_message,
    resolved_message,
    update_message,
)
from services.alerts.model import STAFF_OUTCOMES, AlertBook, Incident
from services.careteam.errors import AlertConfigError
from services.careteam.team import SMS_SCHEMES, load_care_team
from services.catalogue import DIRECTORY, LANGUAGES, catalogue, text
from tests.services.alerts.fakes import CONFIG, ROSTER

ROOT = Path(__file__).resolve().parents[3]
ZH = Audience("zh-CN")  # the product default: Chinese, private
ZH_FULL = Audience("zh-CN", full_details=True)
EN_FULL = Audience("en", full_details=True)
PLACE = Place("阳光护理院", "A 区", "张伟", "203", "2")
# 19:15 UTC on 6 December is 03:15 on 7 December in Shanghai.
T = datetime(2026, 12, 6, 19, 15, tzinfo=UTC)
LINK = "https://cw.example.org/a/" + "x" * 120  # as long as a real signed token
NEWS2_VALUES: dict[str, float | str] = {
    "total": 8,
    "band": "high",
    "scale": 1,
    "rr": 3,
    "spo2": 3,
    "on_o2": 0,
    "sbp": 0,
    "hr": 1,
    "acvpu": 0,
    "temp": 1,
    "value_rr": 26.0,
    "value_spo2": 91.0,
    "value_on_o2": 0.0,
    "value_sbp": 128.0,
    "value_hr": 95.0,
    "value_acvpu": 0.0,
    "value_temp": 38.4,
}


def candidate(
    rule_id: str = "fall.device",
    *,
    severity: str = "high",
    title: str = "Fall reported by device",
    values: dict[str, float | str] | None = None,
    ts: datetime = T,
) -> AlertCandidate:
    return AlertCandidate(
        rule_id=rule_id,
        action="raise",
        subject="resident:1",
        dedupe_key=f"{rule_id}:resident:1",
        severity=severity,  # type: ignore[arg-type]
        ts=ts,
        title=title,
        values=values if values is not None else {"impact_g": 3.1, "still_s": 40},
    )


def incident_of(c: AlertCandidate) -> Incident:
    book, _ = apply_candidate(AlertBook(), c, now=c.ts, config=CONFIG, roster=ROSTER)
    (incident,) = book.incidents.values()
    return incident


# -- one catalogue, both languages --------------------------------------------------------------


def keys_the_pages_use() -> set[str]:
    """Every key the page texts and the acknowledgement page name, literal or built."""
    keys: set[str] = set()
    for source in ("services/alerts/messages.py", "services/api/routes/ack_link.py"):
        code = (ROOT / source).read_text()
        keys |= set(re.findall(r'"((?:pages|ack|app)\.[a-z0-9_.]+)"', code))
        keys |= set(re.findall(r"'((?:pages|ack|app)\.[a-z0-9_.]+)'", code))
    keys |= {f"pages.value.{k}" for k in KEY_VALUES}
    keys |= {f"param.{p}" for p in NEWS2_PARAMETERS}
    keys |= {f"unit.{p}" for p in ("rr", "spo2", "sbp", "hr", "temp")}
    keys |= {f"band.{b}" for b in ("low", "low_medium", "medium", "high")}
    keys |= {f"severity.{s}" for s in ("low", "medium", "high", "critical")}
    keys |= {f"outcome.{o}" for o in (*STAFF_OUTCOMES, "self_cleared")}
    keys |= {f"device_kind.{k}" for k in ("wearable", "bed_sensor", "gateway", "unknown")}
    keys |= {"news2.on_o2_yes"}
    return keys


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_message_template_exists_in_both_languages(language: Any) -> None:
    used = keys_the_pages_use()
    assert len(used) > 60
    assert sorted(k for k in used if k not in catalogue(language)) == []


def test_page_templates_match_in_both_directions_with_the_same_placeholders() -> None:
    """The pages' own namespaces: nothing in one language the other lacks, either way."""
    en, zh = catalogue("en"), catalogue("zh-CN")
    ours = ("pages.", "ack.")
    assert sorted(k for k in en if k.startswith(ours) and k not in zh) == []
    assert sorted(k for k in zh if k.startswith(ours) and k not in en) == []
    for key in (k for k in en if k.startswith(ours)):
        assert set(re.findall(r"\{(\w+)\}", en[key])) == set(re.findall(r"\{(\w+)\}", zh[key]))


def test_the_pages_read_the_web_catalogue_not_a_copy() -> None:
    assert DIRECTORY == ROOT / "services" / "api" / "web" / "i18n"
    on_disk = json.loads((DIRECTORY / "zh.json").read_text(encoding="utf-8"))
    assert catalogue("zh-CN") == on_disk
    # The web already names every rule: the pages use the same names.
    fall = incident_of(candidate())
    page = page_message(fall, PLACE, step=1, renotify=False, link=None, to=ZH)
    assert on_disk["rule.fall.device"] in page.title


# -- Chinese, private by default -----------------------------------------------------------------


def test_a_default_page_is_chinese_and_private() -> None:
    page = page_message(incident_of(candidate()), PLACE, step=1, renotify=False, link=LINK)
    assert page.title == "【高】设备报告跌倒 — 203 房 2 床"
    lines = page.body.splitlines()
    assert lines[0] == "设备报告跌倒"
    assert "位置：阳光护理院 · 单元 A 区 · 203 房 · 2 床" in lines
    assert "开始时间：12月7日 03:15" in lines  # Shanghai time, Chinese format, not UTC
    assert lines[-2:] == ["确认接手：", LINK]  # the link alone on its line: tappable, wraps
    for private in ("张伟", "3.1", "40"):
        assert private not in page.body and private not in page.title and private not in page.short


def test_a_resident_at_home_is_placed_at_home_not_in_a_room_called_home() -> None:
    home = Place("示范家庭病床", None, "马林", HOME_ROOM)
    page = page_message(incident_of(candidate()), home, step=1, renotify=False, link=None)
    assert page.title == "【高】设备报告跌倒 — 居家"
    assert "位置：示范家庭病床 · 居家" in page.body.splitlines()
    assert "home" not in page.body and "home" not in page.short
    english = page_message(
        incident_of(candidate()), home, step=1, renotify=False, link=None, to=Audience("en")
    )
    assert english.title.endswith("at home") and "room home" not in english.body
    assert replace(home, bed="1").spot("zh-CN") == "居家 · 1 床"


def test_a_site_that_allows_details_gets_name_and_values() -> None:
    page = page_message(
        incident_of(candidate()), PLACE, step=2, renotify=True, link=None, to=ZH_FULL
    )
    assert page.title == "【提醒】【高】设备报告跌倒 — 张伟"
    assert "长者：张伟" in page.body
    assert "设备报告跌倒：冲击 3.1 g，静止 40 秒" in page.body
    assert "已升级至第 2 级：尚无人确认。" in page.body


@pytest.mark.parametrize("to", [ZH, ZH_FULL, EN_FULL], ids=["zh", "zh full", "en full"])
def test_a_syndromic_cluster_page_gives_counts_and_the_link_never_names(to: Audience) -> None:
    cluster = AlertCandidate(
        rule_id="outbreak.gastrointestinal_cluster",
        action="raise",
        subject="unit:t1/A",
        dedupe_key="outbreak.gastrointestinal_cluster:unit:t1/A",
        severity="high",
        ts=T,
        title="Gastrointestinal illness cluster: 3 cases in unit A within 72 h",
        values={"syndrome": "gastrointestinal", "count": 3, "residents": 2, "staff": 1},
        audience="infection_control",
    )
    unit = Place("阳光护理院", "A 区", None, None, None)
    page = page_message(incident_of(cluster), unit, step=1, renotify=False, link=LINK, to=to)
    expected = {
        "zh-CN": "病例：3 例（长者 2 例，员工 1 例）",
        "en": "Cases: 3 (2 residents, 1 staff)",
    }[to.language]
    assert expected in page.body.splitlines()
    assert LINK in page.body
    if to.language == "zh-CN":
        assert page.title.startswith("【高】单元内胃肠道症状聚集")


@pytest.mark.parametrize(
    ("rule_id", "worst"), [("vital.spo2.low", "最低 84"), ("vital.hr.high", "最高 142")]
)
def test_a_vital_signs_worst_reading_is_named_by_its_direction(rule_id: str, worst: str) -> None:
    value = 84.0 if rule_id.endswith(".low") else 142.0
    alert = candidate(rule_id, values={"value": value, "worst": value, "limit": 90.0})
    page = page_message(incident_of(alert), PLACE, step=1, renotify=False, link=None, to=ZH_FULL)
    assert worst in page.body and "最差" not in page.body


def test_a_news2_page_shows_readings_with_their_sub_scores() -> None:
    news2 = candidate("news2", severity="critical", title="NEWS2 8: high", values=NEWS2_VALUES)
    page = page_message(incident_of(news2), PLACE, step=1, renotify=False, link=None, to=ZH_FULL)
    assert (
        "NEWS2 评分升高：NEWS2 8（高风险）：呼吸频率 26 次/分（3），血氧饱和度 91 %（3），"
        "收缩压 128 mmHg（0），心率 95 次/分（1），意识 A（0），体温 38.4 °C（1）"
    ) in page.body
    assert "SpO2 3 %" not in page.body and "HR 1 bpm" not in page.body  # no scores as values
    english = page_message(incident_of(news2), PLACE, step=1, renotify=False, link=None, to=EN_FULL)
    assert "NEWS2 8 (High risk): Respiration rate 26 /min (3), SpO2 91 % (3)" in english.body
    private = page_message(incident_of(news2), PLACE, step=1, renotify=False, link=None, to=ZH)
    assert "NEWS2 8（高风险）" in private.body and "26" not in private.body


def test_the_news2_rule_hands_the_page_its_readings() -> None:
    profile = ResidentProfile(1, "home", "A")
    now = T
    latest = {
        m: Vital(now, m, v, "vitals")
        for m, v in {
            "rr": 26.0,
            "spo2": 91.0,
            "on_o2": 0.0,
            "sbp": 128.0,
            "hr": 95.0,
            "acvpu": 0.0,
            "temp": 38.4,
        }.items()
    }
    state, found = News2State(), []
    for minute in range(0, 30):
        at = now + timedelta(minutes=minute)
        latest = {m: Vital(at, m, v.value, "vitals") for m, v in latest.items()}
        state, out = news2_step(state, latest, profile=profile, now=at, config=News2Config())
        found += out
    raised = next(c for c in found if c.action == "raise")
    assert raised.values["rr"] == 3 and raised.values["value_rr"] == 26.0
    assert raised.values["value_spo2"] == 91.0 and raised.values["value_temp"] == 38.4


def test_times_are_the_sites_local_time() -> None:
    fall = incident_of(candidate())
    london = replace(fall, timezone="Europe/London")
    page = page_message(london, PLACE, step=1, renotify=False, link=None, to=EN_FULL)
    assert "Since: 12/6 19:15" in page.body


def test_follow_ups_in_chinese() -> None:
    fall = incident_of(candidate())
    ack = acknowledged_message(fall, PLACE, by="李娜")
    assert ack.title == "已确认 — 203 房 2 床" and ack.body.startswith("李娜 已接手：设备报告跌倒")
    done = resolved_message(fall, PLACE, by="李娜", outcome="actionable")
    assert done.title == "已处理完毕 — 203 房 2 床"
    assert text("zh-CN", "outcome.actionable") in done.body
    worse = update_message(fall, PLACE, title="Fall reported by device", severity="critical")
    assert worse.title == "【危急】情况加重 — 203 房 2 床"


# -- the SMS form ---------------------------------------------------------------------------------


@pytest.mark.parametrize("to", [ZH, ZH_FULL, Audience("en"), EN_FULL], ids=str)
@pytest.mark.parametrize("link", [None, "https://cw.cn/a/Ab3", LINK], ids=["none", "short", "long"])
def test_the_short_form_is_one_sms_segment(to: Audience, link: str | None) -> None:
    long_title = "Fall reported by device " * 5
    for c in (
        candidate(),
        candidate("news2", severity="critical", title="NEWS2 8: high", values=NEWS2_VALUES),
        candidate("custom.rule", title=long_title),
    ):
        incident = incident_of(c)
        messages = [
            page_message(incident, PLACE, step=3, renotify=True, link=link, to=to),
            acknowledged_message(incident, PLACE, by="李娜", to=to),
            resolved_message(incident, PLACE, by="李娜", outcome="false_alarm", to=to),
            update_message(incident, PLACE, title=c.title, severity="critical", to=to),
        ]
        for m in messages:
            assert 0 < len(m.short) <= SHORT_MAX, m.short
            if not to.full_details:
                assert "张伟" not in m.short
    page = page_message(incident_of(candidate()), PLACE, step=1, renotify=False, link=link, to=ZH)
    assert page.short.startswith("【高】设备报告跌倒 203 房 2 床")
    if link is not None:
        assert (link in page.short) == (len(link) < 40)  # the link only when it fits


# -- the care team's settings ---------------------------------------------------------------------


def document(**extra: Any) -> dict[str, Any]:
    return {
        "staff": [
            {"id": "cg1", "name": "Li Na", "role": "caregiver", "channels": ["json://h/cg1"]},
            {
                "id": "dr1",
                "name": "Dr Zhao",
                "role": "physician",
                "channels": ["mailto://u:p@smtp.example.org?to=a@example.org"],
                "language": "en",
            },
        ],
        "shifts": [
            {"staff": "cg1", "site": "s1", "start": "00:00", "end": "00:00"},
            {"staff": "dr1", "site": "s2", "start": "00:00", "end": "00:00"},
        ],
        **extra,
    }


def test_language_comes_from_the_person_then_the_site_then_zh_cn() -> None:
    team = load_care_team(document(sites={"s2": {"language": "en"}, "s3": {"language": "en"}}))
    assert team.language_of("dr1", "s1") == "en"  # their own
    assert team.language_of("cg1", "s1") == "zh-CN"  # the product default
    assert team.language_of("cg1", "s3") == "en"  # the site's
    defaults = load_care_team(document(site_defaults={"language": "en", "details": "full"}))
    assert defaults.language_of("cg1", "s1") == "en" and defaults.policy("s1").full_details
    assert not load_care_team(document()).policy("s1").full_details  # private by default


@pytest.mark.parametrize("bad", ["fr", "zh", "EN", ""])
def test_an_unknown_language_is_refused(bad: str) -> None:
    doc = document()
    doc["staff"][0]["language"] = bad
    with pytest.raises(AlertConfigError, match=r"staff\.0\.language"):
        load_care_team(doc)
    with pytest.raises(AlertConfigError, match=r"sites\.s1\.language"):
        load_care_team(document(sites={"s1": {"language": bad}}))


def test_a_channel_the_site_does_not_allow_is_refused_by_name() -> None:
    with pytest.raises(AlertConfigError) as caught:
        load_care_team(document(sites={"s2": {"channels": ["json", "wecombot"]}}))
    message = str(caught.value)
    assert "staff.1.channels.0: mailto:// is not allowed at site s2" in message
    assert "u:p" not in message and "smtp.example.org" not in message  # never the URL
    load_care_team(document(sites={"s2": {"channels": ["mailto"]}}))  # allowed: fine
    tgram = document()
    tgram["staff"][0]["channels"] = ["tgram://123456789:abcdefg_hijklmnop/12315544/"]
    with pytest.raises(AlertConfigError, match=r"tgram:// is not allowed at site s1"):
        load_care_team(tgram)  # consumer chat is not on the default list


def test_sms_gateways_are_known_to_apprise() -> None:
    import apprise

    known = {
        str(s)
        for p in apprise.Apprise().details()["schemas"]
        for s in (*(p["protocols"] or ()), *(p["secure_protocols"] or ()))
    }
    assert known >= SMS_SCHEMES, sorted(SMS_SCHEMES - known)


# -- referral messages ----------------------------------------------------------------------------


def test_referral_messages_in_both_languages() -> None:
    from services.referrals import effects
    from services.referrals.model import STATES, Notify

    notify = Notify(
        "7",
        ("hospital",),
        "referral.escalate.no_answer",
        True,
        (("resident", "王秀英"), ("hospital", "县人民医院"), ("state", "requested")),
    )
    title, body = effects.message(7, notify, "zh-CN")
    assert title == "【紧急】转诊 #7，医院尚未答复：王秀英 → 县人民医院"
    assert body.splitlines() == ["长者：王秀英", "医院：县人民医院", "状态：已申请"]
    title, body = effects.message(7, notify, "en")
    assert title == "URGENT Referral #7, no answer from the hospital: 王秀英 → 县人民医院"
    assert body.splitlines()[-1] == "state: requested"
    timers = re.findall(
        r'template = "(referral\.[a-z_.]+)"', (ROOT / "services/referrals/workflow.py").read_text()
    )
    assert len(timers) == 3
    for language in LANGUAGES:
        for template in (*timers, *(f"referral.{state}" for state in STATES)):
            assert f"pages.{template}" in catalogue(language), (language, template)
