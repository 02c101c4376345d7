"""The care team document: staff with their apprise channels, shifts, residents' linked
contacts, partner hospitals and the alert policy. One YAML/JSON document, validated as a whole
with every problem named by its dotted path, then stored in `care_team` (versioned).

Pure: parsing and conversion to the core's Roster; the database reads and writes are in
`services/careteam/store.py`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import time, timedelta
from typing import Any, Final, Literal, Self

import apprise
from pydantic import Field, ValidationError, field_validator, model_validator

from services.careteam.errors import AlertConfigError
from services.careteam.policy import AlertsConfig, PolicyModel
from services.careteam.roster import ResidentContacts, Role, Roster, Shift, Staff
from services.catalogue import DEFAULT_LANGUAGE, Language

__all__ = [
    "DEFAULT_SCHEMES",
    "SMS_SCHEMES",
    "CareTeam",
    "ContactsEntry",
    "HospitalEntry",
    "PartnerKind",
    "Placement",
    "ReferralTimes",
    "ShiftEntry",
    "SitePolicy",
    "SiteSettings",
    "StaffEntry",
    "load_care_team",
    "roster_of",
    "scheme",
]

ID = r"^[A-Za-z0-9_.@-]{1,64}$"
SCHEME = r"^[a-z][a-z0-9+.-]{0,31}$"

# Apprise schemes of SMS gateways: they get the short form (one segment, 70 characters).
SMS_SCHEMES: Final = frozenset(
    {
        "sns", "twilio", "vonage", "nexmo", "plivo", "sinch", "clicksend", "d7sms", "msg91",
        "bulksms", "bulkvs", "seven", "smseagle", "smseagles", "httpsms", "kavenegar", "smsmgr",
        "smsmanager", "serwersms", "smsc", "smstunnel",
    }
)  # fmt: skip
# Where a page may go when the site names no allow-list of its own: the work messengers used
# in Chinese care homes (WeCom, DingTalk, Feishu/Lark), e-mail, in-house webhooks and push
# (json/form, ntfy) and SMS gateways. Consumer chat (Telegram, Discord, ...) only by choice.
DEFAULT_SCHEMES: Final = (
    "wecombot", "wechat", "dingtalk", "feishu", "lark", "mailto", "mailtos", "json", "jsons",
    "form", "forms", "ntfy", "ntfys", *sorted(SMS_SCHEMES),
)  # fmt: skip


def scheme(url: str) -> str:
    return url.partition("://")[0].lower() if "://" in url else "?"


def _check_channels(channels: tuple[str, ...]) -> tuple[str, ...]:
    for i, url in enumerate(channels):
        # Apprise knows every scheme it supports; an unknown or malformed URL fails here, at
        # load, not at 3 a.m. when the page is due. The URL itself is never echoed: it may hold
        # a password or token.
        if not apprise.Apprise().add(url):
            raise ValueError(
                f"channel {i} ({scheme(url)}://…) is not an apprise URL apprise accepts"
            )
    return channels


class StaffEntry(PolicyModel):
    id: str = Field(pattern=ID)
    name: str = Field(min_length=1, max_length=200)
    role: Role
    channels: tuple[str, ...] = Field(min_length=1)  # primary first, then fallbacks
    language: Language | None = None  # None: the site's

    _channels = field_validator("channels")(_check_channels)


class ShiftEntry(PolicyModel):
    staff: str
    site: str
    start: time
    end: time
    units: tuple[str, ...] = ()
    weekdays: tuple[int, ...] | None = None  # 0 = Monday; None: every day


class ContactsEntry(PolicyModel):
    resident: int = Field(gt=0)
    family: tuple[str, ...] = ()
    family_doctors: tuple[str, ...] = ()


# A partner's kind (services/referrals/routing.py routes referral types to kinds).
PartnerKind = Literal["general_hospital", "rehabilitation_hospital", "nursing_home", "hospice"]


class HospitalEntry(PolicyModel):
    """A partner institution for referrals, with its own apprise contact. Documents from
    before partner kinds name general hospitals: the default."""

    id: str = Field(pattern=ID)
    name: str = Field(min_length=1, max_length=200)
    kind: PartnerKind = "general_hospital"
    sites: tuple[str, ...] = Field(min_length=1)
    channels: tuple[str, ...] = Field(min_length=1)

    _channels = field_validator("channels")(_check_channels)


class ReferralTimes(PolicyModel):
    """A deployment's own referral times (services/referrals/model.py ReferralConfig has the
    product's defaults): how long a partner has to answer a planned referral (appointment,
    rehabilitation, hospice), and how many days a return's post-discharge watch lasts."""

    planned_answer_s: float | None = Field(default=None, gt=0)
    watch_days: int | None = Field(default=None, ge=1, le=30)


BoardAlarm = Literal["continuous", "once", "off"]


class SiteSettings(PolicyModel):
    """How pages are written and where they may go, for one site (or, as `site_defaults`, for
    every site that does not say). Unset fields fall back to `site_defaults`, then the product.
    The site's time zone is `alerts.site_timezones` (or the resident's own)."""

    language: Language | None = None
    # "private": a page names bed, severity and rule and carries the link, not the resident's
    # name or values (every apprise channel is a third party); "full": name and values too.
    details: Literal["private", "full"] | None = None
    channels: tuple[str, ...] | None = None  # apprise schemes a page may go to
    # The board's sound and flashing while a high or critical alert is unacknowledged:
    # "continuous" until acknowledged (the product default), "once" per new alert, or "off".
    board_alarm: BoardAlarm | None = None
    # Daily staff health check-ins (an outbreak season's programme, docs/detection.md): remind
    # each member of staff with a shift today who has not checked in, this many minutes before
    # it begins. Unset: no reminders.
    checkin_reminder_min: int | None = Field(default=None, ge=1, le=720)

    @field_validator("channels")
    @classmethod
    def _schemes(cls, value: tuple[str, ...] | None) -> tuple[str, ...] | None:
        for item in value or ():
            if not re.match(SCHEME, item):
                raise ValueError(f"{item!r} is not an apprise scheme (e.g. wecombot, mailto)")
        return value


@dataclass(frozen=True, slots=True)
class SitePolicy:
    language: Language
    full_details: bool
    channels: frozenset[str]
    board_alarm: BoardAlarm = "continuous"
    checkin_reminder: timedelta | None = None  # before a shift; None: no reminders

    def allows(self, url: str) -> bool:
        return scheme(url) in self.channels


class CareTeam(PolicyModel):
    staff: tuple[StaffEntry, ...] = ()
    shifts: tuple[ShiftEntry, ...] = ()
    contacts: tuple[ContactsEntry, ...] = ()
    hospitals: tuple[HospitalEntry, ...] = ()
    referrals: ReferralTimes = ReferralTimes()
    alerts: AlertsConfig = AlertsConfig()
    site_defaults: SiteSettings = SiteSettings()
    sites: dict[str, SiteSettings] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _references(self) -> Self:
        problems: list[str] = []
        ids = [s.id for s in self.staff]
        if len(set(ids)) != len(ids):
            problems.append("staff: an id appears twice")
        known = set(ids)
        for i, shift in enumerate(self.shifts):
            if shift.staff not in known:
                problems.append(f"shifts.{i}.staff: unknown staff {shift.staff!r}")
            if shift.weekdays is not None and not set(shift.weekdays) <= set(range(7)):
                problems.append(f"shifts.{i}.weekdays: 0 (Monday) .. 6 (Sunday)")
        hospital_ids = [h.id for h in self.hospitals]
        if len(set(hospital_ids)) != len(hospital_ids):
            problems.append("hospitals: an id appears twice")
        problems += self._disallowed_channels()
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def _disallowed_channels(self) -> list[str]:
        """Every channel a site's allow-list refuses, named by path and scheme (never the URL:
        it may hold a token). Staff are checked at the sites of their shifts (no shift: the
        defaults), hospitals at theirs; delivery checks again, at the incident's site."""
        problems = []
        worked: dict[str, set[str | None]] = {}
        for shift in self.shifts:
            worked.setdefault(shift.staff, set()).add(shift.site)
        owners = [
            (f"staff.{i}", s.channels, worked.get(s.id, {None})) for i, s in enumerate(self.staff)
        ]
        owners += [
            (f"hospitals.{i}", h.channels, set(h.sites)) for i, h in enumerate(self.hospitals)
        ]
        for path, channels, sites in owners:
            for j, url in enumerate(channels):
                for site in sorted(sites, key=str):
                    if not self.policy(site).allows(url):
                        where = f"site {site}" if site else "site_defaults"
                        problems.append(
                            f"{path}.channels.{j}: {scheme(url)}:// is not allowed at {where}"
                            " (add it to the site's `channels` allow-list)"
                        )
        return problems

    def policy(self, site: str | None) -> SitePolicy:
        """The site's settings with the defaults filled in."""
        own = self.sites.get(site, SiteSettings()) if site is not None else SiteSettings()
        base = self.site_defaults
        channels = own.channels if own.channels is not None else base.channels
        minutes = own.checkin_reminder_min or base.checkin_reminder_min
        return SitePolicy(
            language=own.language or base.language or DEFAULT_LANGUAGE,
            full_details=(own.details or base.details) == "full",
            channels=frozenset(channels if channels is not None else DEFAULT_SCHEMES),
            board_alarm=own.board_alarm or base.board_alarm or "continuous",
            checkin_reminder=None if minutes is None else timedelta(minutes=minutes),
        )

    def language_of(self, staff_id: str, site: str | None) -> Language:
        """A person's own language, else their site's, else the product's (zh-CN)."""
        person = next((s for s in self.staff if s.id == staff_id), None)
        if person is not None and person.language is not None:
            return person.language
        return self.policy(site).language

    def staff_by_id(self) -> dict[str, Staff]:
        return {s.id: Staff(s.id, s.name, s.role, s.channels) for s in self.staff}

    def hospitals_for(self, site: str) -> list[HospitalEntry]:
        return [h for h in self.hospitals if site in h.sites]


def load_care_team(data: Mapping[str, Any]) -> CareTeam:
    """Validate a care team document; AlertConfigError names every problem by dotted path."""
    try:
        return CareTeam.model_validate(data)
    except ValidationError as exc:
        raise AlertConfigError(
            [
                (
                    ".".join(str(p) for p in err["loc"]) or "<care team>",
                    err["msg"].removeprefix("Value error, "),
                )
                for err in exc.errors()
            ]
        ) from exc


# Where a resident lives, from the residents table: site, unit, time zone.
Placement = tuple[str, str, str]


def roster_of(team: CareTeam, residents: Mapping[int, Placement]) -> Roster:
    """The core's roster: the team's staff and shifts, and every known resident placed, with
    the contacts the document links to them. Contacts naming an unknown resident are an error."""
    linked = {c.resident: c for c in team.contacts}
    unknown = sorted(set(linked) - set(residents))
    if unknown:
        raise AlertConfigError([("contacts", f"unknown residents {unknown}")])
    contacts = []
    for rid, (site, unit, tz) in residents.items():
        entry = linked.get(rid)
        contacts.append(
            ResidentContacts(
                rid,
                site,
                unit,
                tz,
                family=entry.family if entry else (),
                family_doctors=entry.family_doctors if entry else (),
            )
        )
    shifts = [
        Shift(
            s.staff,
            s.site,
            s.start,
            s.end,
            units=frozenset(s.units),
            weekdays=frozenset(s.weekdays) if s.weekdays is not None else None,
        )
        for s in team.shifts
    ]
    return Roster.of(team.staff_by_id().values(), shifts, contacts)
