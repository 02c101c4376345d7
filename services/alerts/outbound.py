"""Pages and notices out: the core's Page, SendAcknowledged, SendUpdate and SendResolved
effects become outbox messages (services/notifications/outbox.py), one per recipient, in that
person's language and with the site's privacy choice; a page carries its signed one-time link.
Runs inside the decision step's transaction."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from functools import partial

from psycopg import AsyncConnection
from psycopg.rows import TupleRow

from services.alerts.effects import Page, SendAcknowledged, SendResolved, SendUpdate
from services.alerts.links import LinkSigner
from services.alerts.messages import (
    Audience,
    Message,
    Place,
    acknowledged_message,
    page_message,
    resolved_message,
    update_message,
)
from services.alerts.metrics import AlertMetrics
from services.alerts.model import Incident
from services.alerts.places import PlaceBook
from services.careteam.roster import Roster, Staff
from services.careteam.team import CareTeam
from services.notifications.outbox import Kind, cancel_pages, enqueue

__all__ = ["Outbound"]

log = logging.getLogger("carewatch.alerts")

Conn = AsyncConnection[TupleRow]


class Outbound:
    """Queues what the effects ask to send. `team` and `roster` are read at each call: the
    service swaps them when a new care team version is stored."""

    def __init__(
        self,
        *,
        signer: LinkSigner,
        base_url: str,
        metrics: AlertMetrics,
        team: Callable[[], CareTeam],
        roster: Callable[[], Roster],
    ) -> None:
        self.signer = signer
        self.base_url = base_url
        self.metrics = metrics
        self.team = team
        self.roster = roster

    async def page(
        self, conn: Conn, places: PlaceBook, incident: Incident, page: Page, now: datetime
    ) -> None:
        if not page.recipients:
            self.metrics.unstaffed.inc()
            log.warning(
                "incident %d step %d: nobody on duty for %s",
                incident.id,
                page.step,
                ", ".join(page.missing or page.targets),
            )
            return
        place = await places.of(incident)
        fevers = await places.fevers(incident)
        open_alerts = [a for a in incident.alerts if a.resolution is None] or list(incident.alerts)
        target_alert = open_alerts[0].id
        for person in page.recipients:
            link = self.signer.issue(target_alert, person.id, now=now)
            await conn.execute(
                "INSERT INTO ack_links (nonce, alert_id, staff_id, expires_at)"
                " VALUES (%s, %s, %s, %s)",
                [link.nonce, link.alert_id, link.staff_id, link.expires_at],
            )
            message = page_message(
                incident,
                place,
                step=page.step,
                renotify=page.renotify,
                link=f"{self.base_url}/a/{link.token}",
                fevers=fevers,
                to=self._audience(person.id, incident.site_id, place),
            )
            await enqueue(
                conn,
                kind="page",
                recipient=person.id,
                channels=person.channels,
                title=message.title,
                body=message.body,
                short=message.short,
                incident_id=incident.id,
            )
            self.metrics.pages.inc()

    async def acknowledged(
        self, conn: Conn, places: PlaceBook, incident: Incident, effect: SendAcknowledged
    ) -> None:
        await cancel_pages(conn, incident.id)
        place = await places.of(incident)
        render = partial(acknowledged_message, incident, place, by=self._name(effect.by))
        await self._send(conn, "acknowledged", effect.to, render, incident, place, effect.by)

    async def update(
        self, conn: Conn, places: PlaceBook, incident: Incident, effect: SendUpdate
    ) -> None:
        place = await places.of(incident)
        render = partial(
            update_message, incident, place, title=effect.title, severity=effect.severity
        )
        await self._send(conn, "update", effect.to, render, incident, place, None)

    async def resolved(
        self, conn: Conn, places: PlaceBook, incident: Incident, effect: SendResolved
    ) -> None:
        await cancel_pages(conn, incident.id)
        place = await places.of(incident)
        render = partial(
            resolved_message, incident, place, by=self._name(effect.by), outcome=effect.outcome
        )
        await self._send(conn, "resolved", effect.to, render, incident, place, effect.by)

    async def _send(
        self,
        conn: Conn,
        kind: Kind,
        to: tuple[Staff, ...],
        render: Callable[..., Message],  # called with to=Audience
        incident: Incident,
        place: Place,
        skip: str | None,
    ) -> None:
        for person in to:
            if person.id == skip:
                continue  # they know: they did it
            message = render(to=self._audience(person.id, incident.site_id, place))
            await enqueue(
                conn,
                kind=kind,
                recipient=person.id,
                channels=person.channels,
                title=message.title,
                body=message.body,
                short=message.short,
                incident_id=incident.id,
            )

    def _audience(self, staff_id: str, site: str, place: Place) -> Audience:
        """The person's language (theirs, the site's, zh-CN) and the site's privacy choice,
        which a resident's refused (or never given) consent to third-party messaging overrides;
        disease control, outside the institution, gets counts and the link, never names."""
        team = self.team()
        person = self.roster().staff.get(staff_id)
        outside = person is not None and person.role == "disease_control"
        full = (
            team.policy(site).full_details
            and not outside
            and (place.resident is None or place.messaging_consent)
        )
        return Audience(team.language_of(staff_id, site), full)

    def _name(self, staff_id: str) -> str:
        person = self.roster().staff.get(staff_id)
        return person.name if person else staff_id
