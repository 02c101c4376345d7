"""A family-bed resident's pages (issue 17): the home address and the emergency plan (only
with the consent to third-party messaging, like the name) and the 120 guidance always; an
institution's pages carry none of it. Pure."""

from __future__ import annotations

from dataclasses import replace

from services.alerts.messages import HOME_ROOM, Audience, Place, page_message
from tests.services.alerts.test_messages_language import candidate, incident_of

HOME = Place(
    "示范家庭病床",
    None,
    "马林",
    HOME_ROOM,
    messaging_consent=True,
    family_bed=True,
    home_address="幸福路 12 号 3 单元 501",
    emergency_plan="先拨 120，再叫邻居王阿姨（钥匙在她家）",
)


ZH = Audience("zh-CN")


def body(place: Place, to: Audience = ZH) -> list[str]:
    page = page_message(incident_of(candidate()), place, step=1, renotify=False, link=None, to=to)
    return page.body.splitlines()


def test_a_family_bed_page_says_where_the_home_is_what_the_plan_is_and_to_call_120() -> None:
    lines = body(HOME)
    assert "家庭住址：幸福路 12 号 3 单元 501" in lines
    assert "应急预案：先拨 120，再叫邻居王阿姨（钥匙在她家）" in lines
    assert "居家老人：如有生命危险请立即拨打 120，并按应急预案处置。" in lines
    english = body(HOME, Audience("en"))
    assert "Home address: 幸福路 12 号 3 单元 501" in english
    assert any(line.startswith("At home: if life is in danger, call 120") for line in english)


def test_without_consent_the_address_and_plan_stay_out_but_the_120_guidance_stays() -> None:
    lines = body(replace(HOME, messaging_consent=False))
    assert not any("幸福路" in line or "王阿姨" in line for line in lines)
    assert "居家老人：如有生命危险请立即拨打 120，并按应急预案处置。" in lines


def test_an_institutions_page_has_no_home_lines() -> None:
    ward = Place("阳光护理院", "A 区", "张伟", "203", "2", messaging_consent=True)
    lines = "\n".join(body(ward))
    assert "120" not in lines and "家庭住址" not in lines
