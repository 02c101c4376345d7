"""What a notification says: what, where (unit / room / bed), who, the key values, when (the
site's local time) and the link to acknowledge, in the recipient's language from the shared
catalogue (services/catalogue.py). Pure text from the incident and what the I/O layer looked up
about the place.

Each message comes in two forms: the full one (title + body) for WeCom, DingTalk, Feishu, e-mail
and webhooks, and `short` for SMS gateways (one segment: at most 70 characters, the link only
when it fits). By default a page is private: every apprise channel is a third party, so it
names the bed, severity and rule and carries the link, not the resident's name or values; a
site that wants them turns `details: full` on (the Audience says which)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final
from zoneinfo import ZoneInfo

from rules.news2 import PARAMETERS
from services.alerts.model import Alert, Incident, Outcome
from services.catalogue import DEFAULT_LANGUAGE, Language, has, text

__all__ = [
    "SHORT_MAX",
    "Audience",
    "Fever",
    "Message",
    "Place",
    "acknowledged_message",
    "device_name",
    "local_time",
    "page_message",
    "resolved_message",
    "update_message",
]

SHORT_MAX: Final = 70  # one SMS segment of Chinese (UCS-2) text

# Values worth a caregiver's glance, in this order (`pages.value.*`); the rest stay on the board.
KEY_VALUES: Final = (
    "value",
    "worst",
    "spo2",
    "hr",
    "rr",
    "temp",
    "sbp",
    "battery",
    "impact_g",
    "peak_g",  # a fall's impact, as the fall rules name it
    "still_s",
    "away_min",
)
# NEWS2's parameters in chart order (rules/news2.py PARAMETERS); the candidate carries each
# one's sub-score under its name and the reading it scored under `value_<name>`.
NEWS2_PARAMETERS: Final = PARAMETERS
ACVPU: Final = "ACVPU"  # the chart's code order, as the resident page shows it

# English pages keep the device names caregivers already know from them.
DEVICE_KINDS_EN: Final[Mapping[str, str]] = {
    "wearable": "wristband",
    "bed_sensor": "bed sensor",
    "gateway": "gateway",
}


@dataclass(frozen=True, slots=True)
class Audience:
    """Who reads it: their language, and whether the site lets names and values out."""

    language: Language = DEFAULT_LANGUAGE
    full_details: bool = False


# A family-bed resident lives at home: their room is stored as "home", said as 居家 / "at home".
HOME_ROOM = "home"


def room_text(language: Language, room: str) -> str:
    """ "203 房", or "居家" for a resident at home."""
    if room == HOME_ROOM:
        return text(language, "pages.home")
    return text(language, "pages.room", room=room)


@dataclass(frozen=True, slots=True)
class Place:
    """Where the incident is, as people say it. `resident` is None for unit-level incidents."""

    site: str
    unit: str | None
    resident: str | None = None
    room: str | None = None
    bed: str | None = None
    # The resident's consent to third-party messaging channels (every apprise channel is
    # one): without it their name and values stay out of pages whatever the site allows.
    messaging_consent: bool = False
    # A family bed (the resident at home): the page says where the home is and what the
    # emergency plan says (with the consent above), and gives the 120 guidance.
    family_bed: bool = False
    home_address: str | None = None
    emergency_plan: str | None = None

    def home_lines(self, language: Language) -> list[str]:
        if not self.family_bed or self.resident is None:
            return []
        lines = []
        if self.messaging_consent and self.home_address:
            lines.append(text(language, "pages.home_address", address=self.home_address))
        if self.messaging_consent and self.emergency_plan:
            lines.append(text(language, "pages.emergency_plan", plan=self.emergency_plan))
        return [*lines, text(language, "pages.call_120")]

    def where(self, language: Language = "en") -> str:
        parts = [self.site]
        if self.unit:
            parts.append(text(language, "pages.unit", unit=self.unit))
        if self.room:
            parts.append(room_text(language, self.room))
        if self.bed:
            parts.append(text(language, "pages.bed", bed=self.bed))
        return text(language, "pages.place_sep").join(parts)

    def spot(self, language: Language) -> str:
        """The bed (or room, or unit): where to go, without saying who lies there."""
        if self.room == HOME_ROOM and self.bed:
            bed = text(language, "pages.bed", bed=self.bed)
            return text(language, "pages.place_sep").join((room_text(language, self.room), bed))
        if self.room and self.bed:
            return text(language, "pages.bed_only", room=self.room, bed=self.bed)
        if self.room:
            return room_text(language, self.room)
        if self.bed:
            return text(language, "pages.bed", bed=self.bed)
        return text(language, "pages.unit", unit=self.unit) if self.unit else self.site

    def who(self, to: Audience = Audience("en", True)) -> str:
        if self.resident and to.full_details:
            return self.resident
        if self.resident:
            return self.spot(to.language)
        return text(to.language, "pages.unit", unit=self.unit) if self.unit else self.site


@dataclass(frozen=True, slots=True)
class Fever:
    """One resident of an outbreak cluster: name, highest temperature in the window, when."""

    resident: str
    temp_c: float
    at: datetime
    # Consent to third-party messaging: without it the resident is counted, never named.
    messaging_consent: bool = True


@dataclass(frozen=True, slots=True)
class Message:
    title: str
    body: str
    short: str = ""  # for SMS gateways; "" = title and body


def _number(value: float | str) -> str:
    return f"{value:g}" if isinstance(value, float | int) else str(value)


def local_time(language: Language, ts: datetime, tz: str) -> str:
    """ "12月7日 03:15" in the site's time zone (never UTC unless the site is there)."""
    local = ts.astimezone(ZoneInfo(tz))
    return text(language, "pages.datetime", month=local.month, day=local.day, time=f"{local:%H:%M}")


def _news2(language: Language, values: Mapping[str, float | str]) -> str | None:
    """ "NEWS2 8（高风险）：呼吸频率 26 次/分（3），…": the readings with their sub-scores."""
    if "total" not in values or "band" not in values:
        return None
    head = text(
        language,
        "pages.news2",
        total=_number(values["total"]),
        band=text(language, f"band.{values['band']}"),
    )
    parts = []
    for p in NEWS2_PARAMETERS:
        score = values.get(p)
        if not isinstance(score, int | float) or (p == "on_o2" and not score):
            continue  # not scored, or on room air (the usual case, not worth a phone's line)
        param = text(language, f"param.{p}")
        reading = values.get(f"value_{p}")
        if not isinstance(reading, int | float):
            parts.append(text(language, "pages.news2_score", param=param, score=_number(score)))
        elif p == "acvpu":
            code = ACVPU[int(reading)] if 0 <= int(reading) < len(ACVPU) else _number(reading)
            parts.append(text(language, "pages.news2_acvpu", param=param, value=code, score=score))
        elif p == "on_o2":
            on = text(language, "news2.on_o2_yes")
            parts.append(text(language, "pages.news2_o2", param=param, value=on, score=score))
        else:
            unit = text(language, f"unit.{p}")
            parts.append(
                text(
                    language,
                    "pages.news2_part",
                    param=param,
                    value=_number(reading),
                    unit=unit,
                    score=_number(score),
                )
            )
    if not parts:
        return head
    return (
        head
        + ("：" if language == "zh-CN" else ": ")
        + text(language, "pages.list_sep").join(parts)
    )


def _value_key(key: str, rule_id: str) -> str:
    # A vital sign's worst reading is its lowest for a `….low` rule, its highest for `….high`.
    if key == "worst" and rule_id.endswith((".low", ".high")):
        return f"pages.value.worst_{rule_id.rpartition('.')[2]}"
    return f"pages.value.{key}"


def figures(language: Language, values: Mapping[str, float | str], rule_id: str) -> str:
    """An alert's figures in words as a page shows them ("NEWS2 8（高风险）：…", "冲击 3.1 g");
    also what a rule's referral reason says (services/referrals/reasons.py)."""
    return _values(language, values, rule_id)


def _values(language: Language, values: Mapping[str, float | str], rule_id: str) -> str:
    news2 = _news2(language, values)
    if news2 is not None:
        return news2
    shown = [
        text(language, _value_key(key, rule_id), value=_number(values[key]))
        for key in KEY_VALUES
        if key in values
    ]
    return text(language, "pages.list_sep").join(shown)


def device_name(values: Mapping[str, float | str], language: Language = "en") -> str | None:
    """ "wristband w-17" for an alert about a device (its kind looked up on intake)."""
    device_id = values.get("device_id")
    if device_id is None:
        return None
    kind = str(values.get("device_kind", ""))
    if language == "en":
        return f"{DEVICE_KINDS_EN.get(kind, 'device')} {device_id}"
    key = f"device_kind.{kind}" if has(language, f"device_kind.{kind}") else "device_kind.unknown"
    return f"{text(language, key)} {device_id}"


def _rule(language: Language, alert: Alert) -> str:
    """The rule's name: English pages keep the rule's own title (it can be more specific);
    others take the catalogue's name of the rule, or the title if the catalogue has none."""
    key = f"rule.{alert.rule_id}"
    if language == "en" or not has(language, key):
        return alert.title
    return text(language, key)


def _named(language: Language, alert: Alert) -> str:
    device = device_name(alert.values, language)
    what = _rule(language, alert)
    return text(language, "pages.device", what=what, device=device) if device else what


def _what(language: Language, alerts: Sequence[Alert]) -> str:
    return " + ".join(dict.fromkeys(_named(language, a) for a in alerts))


def _severity(language: Language, severity: str) -> str:
    return text(language, f"severity.{severity}") if language != "en" else severity.upper()


def _short(language: Language, template: str, link: str | None = None, **params: str) -> str:
    """One SMS segment: the `what` cut to fit, the link added only if it fits too."""
    line = text(language, template, **params)
    if len(line) > SHORT_MAX:
        cut = max(1, len(params["what"]) - (len(line) - SHORT_MAX) - 1)
        line = text(language, template, **{**params, "what": params["what"][:cut] + "…"})
    line = line[:SHORT_MAX]
    if link and len(line) + 1 + len(link) <= SHORT_MAX:
        line = f"{line} {link}"
    return line


def page_message(
    incident: Incident,
    place: Place,
    *,
    step: int,
    renotify: bool,
    link: str | None,
    fevers: Sequence[Fever] = (),
    to: Audience = Audience(),
) -> Message:
    lang = to.language
    open_alerts = [a for a in incident.alerts if a.resolution is None] or list(incident.alerts)
    what = _what(lang, open_alerts)
    severity = _severity(lang, incident.severity)
    again = text(lang, "pages.reminder") if renotify else ""
    who = place.who(to)
    title = text(lang, "pages.title", again=again, severity=severity, what=what, who=who)
    lines = [
        what,
        text(lang, "pages.who", who=who),
        text(lang, "pages.where", where=place.where(lang)),
    ]
    for alert in open_alerts:
        shown = (
            _values(lang, alert.values, alert.rule_id)
            if to.full_details
            else _news2_head(lang, alert)
        )
        if shown:
            lines.append(text(lang, "pages.values", what=_named(lang, alert), values=shown))
        if alert.rule_id.startswith("outbreak.") and "staff" in alert.values:
            # A syndromic cluster: counts only, whoever reads it (the case file says who).
            counts = {k: _number(alert.values.get(k, 0)) for k in ("count", "residents", "staff")}
            lines.append(text(lang, "pages.cases", **counts))
    if fevers:
        lines.append(text(lang, "pages.febrile", count=len(fevers)))
        if to.full_details:
            lines += [
                text(
                    lang,
                    "pages.fever",
                    who=f.resident,
                    temp=f"{f.temp_c:.1f}",
                    when=local_time(lang, f.at, incident.timezone),
                )
                for f in fevers
                if f.messaging_consent
            ]
    lines += place.home_lines(lang)
    first = min(a.first_ts for a in incident.alerts)
    lines.append(text(lang, "pages.since", when=local_time(lang, first, incident.timezone)))
    if step > 1:
        lines.append(text(lang, "pages.step", step=step))
    if link:
        lines.append(text(lang, "pages.ack", link=link))
    short_where = f"{who} {place.spot(lang)}" if to.full_details and place.resident else who
    short = _short(
        lang, "pages.short", link, severity=again + severity, what=what, where=short_where
    )
    if any(a.values.get("drill") for a in incident.alerts):
        # A drill (POST /api/v1/outbreaks/drills): no reader may take it for the real thing.
        mark = text(lang, "pages.drill")
        title, short = mark + title, (mark + short)[:SHORT_MAX]
        lines.insert(0, text(lang, "pages.drill_note"))
    return Message(title, "\n".join(lines), short)


def _news2_head(language: Language, alert: Alert) -> str | None:
    """Private pages keep the NEWS2 total and band (the rule's finding), not the readings."""
    values = alert.values
    if "total" not in values or "band" not in values:
        return None
    return text(
        language,
        "pages.news2",
        total=_number(values["total"]),
        band=text(language, f"band.{values['band']}"),
    )


def acknowledged_message(
    incident: Incident, place: Place, *, by: str, to: Audience = Audience()
) -> Message:
    lang = to.language
    what = _what(lang, incident.alerts)
    where = place.where(lang)
    return Message(
        text(lang, "pages.acknowledged.title", who=place.who(to)),
        text(lang, "pages.acknowledged.body", by=by, what=what, where=where),
        _short(lang, "pages.acknowledged.short", by=by, what=what, where=place.who(to)),
    )


def update_message(
    incident: Incident, place: Place, *, title: str, severity: str, to: Audience = Audience()
) -> Message:
    lang = to.language
    level = _severity(lang, severity)
    rising = [a for a in incident.alerts if a.title == title]
    what = _named(lang, rising[-1]) if rising else title
    return Message(
        text(lang, "pages.update.title", severity=level, who=place.who(to)),
        text(lang, "pages.update.body", what=what, where=place.where(lang), severity=level),
        _short(lang, "pages.update.short", severity=level, what=what, where=place.who(to)),
    )


def resolved_message(
    incident: Incident, place: Place, *, by: str, outcome: Outcome, to: Audience = Audience()
) -> Message:
    lang = to.language
    what = _what(lang, incident.alerts)
    done = text(lang, f"outcome.{outcome}")
    if lang == "en":
        done = done.lower()
    return Message(
        text(lang, "pages.resolved.title", who=place.who(to)),
        text(lang, "pages.resolved.body", what=what, where=place.where(lang), by=by, outcome=done),
        _short(lang, "pages.resolved.short", what=what, where=place.who(to), outcome=done),
    )
