"""A rule's referral reason is a code and parameters, put in words in the reader's language from
the catalogue (services/referrals/reasons.py); a nurse's words and rows from before the codes
show their stored text. The referral message puts it in its recipient's language."""

from __future__ import annotations

from services.referrals.effects import message
from services.referrals.model import Notify, ReasonCode
from services.referrals.reasons import from_alert, params_of, render

NEWS2: dict[str, float | str] = {
    "total": 8,
    "band": "high",
    "rr": 3,
    "value_rr": 26,
    "spo2": 3,
    "value_spo2": 91,
}
OLD_TEXT = "NEWS2 8: high clinical risk (total 8, band high, rr 3)"


def test_a_news2_reason_in_chinese_and_english() -> None:
    code = from_alert("news2", {**NEWS2, "assumptions": "on_o2 absent", "device_id": "w-1"})
    assert code.code == "alert"
    assert dict(code.params)["rule"] == "news2"
    assert "assumptions" not in dict(code.params) and "device_id" not in dict(code.params)
    assert render("zh-CN", code, OLD_TEXT) == (
        "NEWS2 评分升高，NEWS2 8（高风险）：呼吸频率 26 次/分（3），血氧饱和度 91 %（3）"
    )
    english = render("en", code, OLD_TEXT)
    assert english.startswith("NEWS2 raised — NEWS2 8 (High risk)"), english
    assert "26" in english and "91" in english


def test_a_fall_reason_names_the_rule_and_its_figures() -> None:
    code = from_alert("fall.long_lie", {"still_s": 600})
    assert render("zh-CN", code, "Long lie") == "跌倒后长时间未起身，静止 600 秒"
    assert render("zh-CN", from_alert("fall.device", {}), "Fall") == "设备报告跌倒"
    # The fall rules' impact (peak_g) is a figure the pages name too.
    fall = from_alert("fall.device", {"peak_g": 3.1})
    assert render("zh-CN", fall, "Fall") == "设备报告跌倒，冲击 3.1 g"
    assert render("en", fall, "Fall") == "Fall reported by device — impact 3.1 g"


def test_the_stored_text_where_there_is_no_code_or_rule_name() -> None:
    assert render("zh-CN", None, OLD_TEXT) == OLD_TEXT  # a row from before the codes
    assert render("zh-CN", ReasonCode("unknown_code"), "kept") == "kept"
    assert render("zh-CN", from_alert("fall.new_kind", {}), "New kind of fall") == (
        "New kind of fall"
    )


def test_parameters_survive_the_database() -> None:
    code = from_alert("news2", NEWS2)
    assert params_of(dict(code.params)) == code.params
    assert params_of({"rule": "news2", "x": True, "y": None, "total": 8}) == (
        ("rule", "news2"),
        ("total", 8.0),
    )


def test_the_referral_message_puts_the_reason_in_its_recipients_language() -> None:
    code = from_alert("news2", NEWS2)
    notify = Notify(
        "7",
        ("unit",),
        "referral.suggested",
        True,
        (("resident", "王秀英"), ("reason", render("en", code, OLD_TEXT))),
        reason_code=code,
    )
    _, body = message(7, notify, "zh-CN")
    assert "原因：NEWS2 评分升高，NEWS2 8（高风险）" in body, body
    _, body = message(7, notify, "en")
    assert "NEWS2 raised — NEWS2 8 (High risk)" in body, body
    # An old referral's notice (no code) keeps its text.
    _, body = message(
        7, Notify("7", ("unit",), "referral.accepted", False, (("reason", OLD_TEXT),)), "zh-CN"
    )
    assert f"原因：{OLD_TEXT}" in body


def test_who_acted_is_named_with_the_role_in_the_recipients_language() -> None:
    notify = Notify(
        "7",
        ("hospital",),
        "referral.requested",
        False,
        (("resident", "王秀英"), ("by", "ref-nurse"), ("by_role", "nurse")),
    )
    _, body = message(7, notify, "zh-CN")
    assert "操作人：ref-nurse（护士）" in body and "nurse" not in body.replace("ref-nurse", ""), (
        body
    )
    _, body = message(7, notify, "en")
    assert "ref-nurse (Nurse)" in body, body


def test_a_timer_says_how_long_in_minutes() -> None:
    notify = Notify(
        "7", ("charge_nurse",), "referral.escalate.no_answer", True, (("overdue_s", "905"),)
    )
    _, body = message(7, notify, "zh-CN")
    assert body == "已等待：15 分钟", body
    assert message(7, notify, "en")[1] == "waiting: 15 min"
