"""Carrying out the workflow's effects: its audit rows (`referral_transitions`) and its
messages, queued in the `notifications` outbox (kind 'referral') for whoever stands for each
party at that moment, in their own language."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from psycopg import AsyncConnection
from psycopg.rows import TupleRow

from services.alerts.messages import SHORT_MAX
from services.careteam.roster import Role as StaffRole
from services.careteam.roster import Roster, Staff, on_duty, resident_contacts
from services.careteam.store import current_team, placements
from services.careteam.team import CareTeam, Placement, roster_of
from services.catalogue import Language, has, text
from services.notifications.outbox import enqueue
from services.referrals import reasons
from services.referrals.model import Audit, Effect, Notify, Party, Referral

log = logging.getLogger("carewatch.referrals")

Conn = AsyncConnection[TupleRow]

# Which roster roles stand behind a workflow party (the hospital and the requester are looked
# up by id instead).
_PARTY_ROLES: Final[Mapping[Party, tuple[StaffRole, ...]]] = {
    "unit": ("caregiver", "nurse"),
    "charge_nurse": ("charge_nurse",),
    "physician": ("physician",),
}
# The messages' words are in the shared catalogue (`pages.referral.*`, services/catalogue.py).


@dataclass(frozen=True, slots=True)
class Directory:
    """Who can be reached: the care team document, its roster, and where residents live."""

    team: CareTeam
    roster: Roster
    places: Mapping[int, Placement]


async def directory_of(conn: Conn, team: CareTeam | None = None) -> Directory:
    if team is None:
        _, team = await current_team(conn)
    places = await placements(conn)
    return Directory(team, roster_of(team, places), places)


async def perform(
    conn: Conn,
    referral_id: int,
    referral: Referral,
    effects: Iterable[Effect],
    directory: Directory,
    now: datetime,
) -> None:
    """Write the audit rows and queue the messages; SlaFired is recorded by the caller."""
    for effect in effects:
        if isinstance(effect, Audit):
            await conn.execute(
                "INSERT INTO referral_transitions (referral_id, at, action, from_state, to_state,"
                " staff_id, role, side, note) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
                [
                    referral_id,
                    effect.at,
                    effect.action,
                    effect.from_state,
                    effect.to_state,
                    effect.staff_id,
                    effect.role,
                    effect.side,
                    effect.note,
                ],
            )
        elif isinstance(effect, Notify):
            site = referral.resident.site_id
            sent: set[str] = set()
            for party in effect.parties:
                recipients = _recipients(party, referral, directory, now)
                if not recipients:
                    # Nobody on shift in that role (or the hospital left the care team
                    # document): the rest still hear; an operator must see the gap.
                    log.warning(
                        "referral %s: nobody to tell as %r for %s",
                        referral_id,
                        party,
                        effect.template,
                    )
                for recipient, channels in recipients:
                    if recipient in sent:
                        continue  # one message per person, whichever parties they stand for
                    sent.add(recipient)
                    language = directory.team.language_of(recipient, site)
                    title, body = message(referral_id, effect, language)
                    await enqueue(
                        conn,
                        kind="referral",
                        referral_id=referral_id,
                        recipient=recipient,
                        channels=channels,
                        title=title,
                        body=body,
                        short=title[:SHORT_MAX],  # SMS: one segment
                    )


def _recipients(
    party: Party, referral: Referral, directory: Directory, now: datetime
) -> list[tuple[str, tuple[str, ...]]]:
    """(id, apprise channels) of whoever stands for `party` at `now`."""
    team = directory.team
    if party == "hospital":
        hospital_id = referral.hospital.hospital_id
        return [(h.id, h.channels) for h in team.hospitals if h.id == hospital_id]
    if party == "requester":
        requester = referral.requester
        person = None if requester is None else team.staff_by_id().get(requester.staff_id)
        return [] if person is None else [(person.id, person.channels)]
    r = referral.resident
    # Where the resident lives now (they may have moved since the referral was opened).
    site, unit, tz = directory.places.get(r.resident_id, (r.site_id, r.unit_id, "Asia/Shanghai"))
    people: list[Staff] = [
        person
        for role in _PARTY_ROLES[party]
        for person in on_duty(directory.roster, site, unit, role, now, tz)
    ]
    if party == "physician" and not people:
        # A family bed has no physician on shift: its contracted family doctor stands in.
        people = resident_contacts(directory.roster, r.resident_id, "family_doctor")
    return [(p.id, p.channels) for p in people]


def message(referral_id: int, effect: Notify, language: Language) -> tuple[str, str]:
    """The referral message in the recipient's language (its facts as given)."""
    context = dict(effect.context)
    key = f"pages.{effect.template}"
    what = text(language, key) if has(language, key) else effect.template
    title = text(
        language,
        "pages.referral.title",
        urgent=text(language, "pages.referral.urgent") if effect.urgent else "",
        id=referral_id,
        what=what,
        resident=context.get("resident", "?"),
        hospital=context.get("hospital", "?"),
    )
    lines = []
    for name, value in effect.context:
        label_key = f"pages.referral.field.{name}"
        label = text(language, label_key) if has(language, label_key) else name
        if name == "state" and has(language, f"state.{value}") and language != "en":
            value = text(language, f"state.{value}")
        elif name == "reason":
            value = reasons.render(language, effect.reason_code, value)
        elif name == "overdue_s":
            # Seconds are the timer's; a nurse reads minutes.
            minutes = max(1, round(float(value) / 60))
            value = text(language, "pages.referral.minutes", n=minutes)
        elif name == "by_role":
            continue  # said with "by"
        elif name == "by" and "by_role" in context:
            role = context["by_role"]
            role_key = f"role.{role}"
            named = text(language, role_key) if has(language, role_key) else role
            value = text(language, "pages.referral.by", who=value, role=named)
        lines.append(text(language, "pages.referral.line", label=label, value=value))
    return title, "\n".join(lines)
