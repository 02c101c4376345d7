"""The alert service process: alert candidates and staff commands in, incidents, pages and the
outbox out, around the pure core in services/alerts/lifecycle.py.

One step, in one transaction: take pending candidates and commands, let time pass (escalation),
write the timeline, the incident and alert rows and the messages the effects ask for, and save
the book. If the process dies mid-step nothing of the step is visible; after a restart the book
is where the last commit left it, so escalation continues from there and no page is queued
twice. Delivery runs beside it (services/notifications/delivery.py) on its own connection.

The service is the only writer of alert state: the API and the one-time links queue commands
(`alert_commands`) and wait for the answer in the same row.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

import psycopg
from psycopg import AsyncConnection
from psycopg.rows import TupleRow

from rules.types import AlertCandidate
from services.alerts import outbreak_deadlines
from services.alerts.checkin_reminders import remind_to_check_in
from services.alerts.effects import Effect, Page, Record, SendAcknowledged, SendResolved, SendUpdate
from services.alerts.errors import (
    IllegalTransition,
    ResolutionError,
    UnknownAlert,
    UnknownSubject,
)
from services.alerts.lifecycle import acknowledge, apply_candidate, forget, resolve, tick
from services.alerts.links import LinkSigner
from services.alerts.metrics import AlertMetrics
from services.alerts.model import AlertBook, CreatedEvent, Incident, UpdatedEvent
from services.alerts.outbound import Outbound
from services.alerts.places import PlaceBook
from services.alerts.referral_port import ReferralPort
from services.alerts.store import (
    Command,
    device_kinds,
    finish_command,
    load_book,
    mark_consumed,
    pending_candidates,
    pending_commands,
    record_attendance,
    save_book,
    try_become_active,
    write_event,
    write_incident,
)
from services.careteam.errors import AlertConfigError
from services.careteam.roster import Roster
from services.careteam.store import current_team, placements
from services.careteam.team import CareTeam, roster_of
from services.db.locks import lock_events
from services.notifications.delivery import Delivery, Sender, apprise_send
from services.notifications.retry import RetryPolicy
from services.visits.reminders import remind_overdue

__all__ = ["AlertService", "AlertServiceConfig"]

# While the database is away a new session is tried this often (doubling up to the cap): short,
# since a page waits for the first that succeeds.
RETRY_FIRST_S = 0.2
RETRY_MAX_S = 1.0

log = logging.getLogger("carewatch.alerts")

Conn = AsyncConnection[TupleRow]


@dataclass(frozen=True, slots=True)
class AlertServiceConfig:
    base_url: str = "http://127.0.0.1:8000"
    batch: int = 500
    tick_s: float = 1.0  # escalation granularity
    gauges_every_s: float = 5.0
    referral_sla_every_s: float = 5.0
    visit_reminders_every_s: float = 60.0
    standby_poll_s: float = 1.0  # how often a standby checks whether the active one is gone
    retry: RetryPolicy = field(default_factory=RetryPolicy)


async def _wait(event: asyncio.Event, timeout: float) -> None:
    """Until `event` is set or `timeout` seconds pass, whichever is first."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(event.wait(), timeout=timeout)


async def _with_device_kinds(
    conn: Conn, candidates: list[tuple[int, AlertCandidate]]
) -> list[tuple[int, AlertCandidate]]:
    """Name the device a candidate is about by its kind too (the rules know only its id)."""
    ids = [str(c.values["device_id"]) for _, c in candidates if "device_id" in c.values]
    if not ids:
        return candidates
    kinds = await device_kinds(conn, ids)
    out = []
    for cid, c in candidates:
        kind = kinds.get(str(c.values.get("device_id")))
        if kind is not None and "device_kind" not in c.values:
            c = replace(c, values={**c.values, "device_kind": kind})
        out.append((cid, c))
    return out


class AlertService:
    def __init__(
        self,
        database_url: str,
        *,
        signer: LinkSigner,
        metrics: AlertMetrics,
        referrals: ReferralPort,
        config: AlertServiceConfig | None = None,
        send: Sender = apprise_send,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.database_url = database_url
        self.signer = signer
        self.metrics = metrics
        self.referrals = referrals
        self.config = config or AlertServiceConfig()
        self.clock = clock
        self.delivery = Delivery(
            send=send,
            retry=self.config.retry,
            on_result=metrics.delivered,
            policy=lambda site: self._team[1].policy(site),
        )
        self._stop = threading.Event()
        self._book = AlertBook()
        self._team: tuple[int, CareTeam] = (0, CareTeam())
        self._roster = Roster()
        self._gauges_at = 0.0
        self._sla_at = 0.0
        self._visits_at = 0.0
        self._ready_once = False  # a session got going since the last outage began
        self.outbound = Outbound(
            signer=signer,
            base_url=self.config.base_url,
            metrics=metrics,
            team=lambda: self._team[1],
            roster=lambda: self._roster,
        )

    def stop(self) -> None:
        self._stop.set()

    def run(self) -> None:
        asyncio.run(self.main())

    async def main(self) -> None:
        """Sessions until stopped. A session ends when the database goes away: the service
        waits it out in-process, then starts a fresh session from what was committed (the
        book is re-read; nothing uncommitted was taken as done), rather than exiting and
        waiting for the supervisor's backoff."""
        delay = RETRY_FIRST_S
        while not self._stop.is_set():
            try:
                await self._session()
            except psycopg.OperationalError as exc:
                self.metrics.ready.set(0)
                if self._ready_once:
                    delay, self._ready_once = RETRY_FIRST_S, False
                log.warning("database away (%s); trying again in %.1f s", exc, delay)
                await asyncio.to_thread(self._stop.wait, delay)
                delay = min(delay * 2, RETRY_MAX_S)
        log.info("alert service stopped")

    async def _session(self) -> None:
        url = self.database_url
        async with (
            await AsyncConnection.connect(url, autocommit=True) as listen,
            await AsyncConnection.connect(url, autocommit=True) as work,
            await AsyncConnection.connect(url, autocommit=True) as outbox,
        ):
            if not await self._become_active(listen):
                return  # stopped while standing by
            await listen.execute("LISTEN carewatch_alerts")
            await listen.execute("LISTEN carewatch_outbox")
            wake = {"carewatch_alerts": asyncio.Event(), "carewatch_outbox": asyncio.Event()}
            async with work.transaction():
                self._book = await load_book(work)
                await self._load_roster(work, force=True)
            log.info(
                "alert service started: %d active incidents restored",
                sum(1 for i in self._book.incidents.values() if i.active),
            )
            self.metrics.ready.set(1)
            self._ready_once = True
            tasks = [
                asyncio.create_task(self._listen(listen, wake)),
                asyncio.create_task(self._decide_loop(work, wake["carewatch_alerts"])),
                asyncio.create_task(self._deliver_loop(outbox, wake["carewatch_outbox"])),
            ]
            try:
                while not self._stop.is_set():
                    done = [t for t in tasks if t.done()]
                    if done:
                        # A loop died: the database went away (main() waits and starts a new
                        # session), or something else (raised: the supervisor restarts us).
                        done[0].result()
                        raise psycopg.OperationalError("a loop ended: the connection closed")
                    await asyncio.sleep(0.2)
            finally:
                for t in tasks:
                    t.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)

    async def _become_active(self, conn: Conn) -> bool:
        """Wait until no other alert service is active, then hold the lock: an active/standby
        pair takes over within `standby_poll_s` of the active one's session ending."""
        if await try_become_active(conn):
            return True
        log.warning("another alert service is active; standing by until it stops")
        while not self._stop.is_set():
            await asyncio.sleep(self.config.standby_poll_s)
            if await try_become_active(conn):
                log.info("the other alert service is gone; taking over")
                return True
        return False

    # -- loops ---------------------------------------------------------------------------------

    async def _listen(self, conn: Conn, wake: dict[str, asyncio.Event]) -> None:
        async for notify in conn.notifies():
            event = wake.get(notify.channel)
            if event is not None:
                event.set()

    async def _decide_loop(self, conn: Conn, wake: asyncio.Event) -> None:
        while not self._stop.is_set():
            wake.clear()
            more = await self.step(conn)
            if more:
                continue
            await _wait(wake, self.config.tick_s)

    async def _deliver_loop(self, conn: Conn, wake: asyncio.Event) -> None:
        while not self._stop.is_set():
            wake.clear()
            if await self.delivery.run_once(conn, self.clock()):
                continue
            due = await self.delivery.next_due_in(conn, self.clock())
            timeout = 1.0 if due is None else min(1.0, max(0.01, due))
            await _wait(wake, timeout)

    # -- one decision step -------------------------------------------------------------------

    async def step(self, conn: Conn) -> bool:
        """Candidates, commands and time, committed together. True: more candidates wait."""
        began = time.perf_counter()
        now = self.clock()
        async with conn.transaction():
            await lock_events(conn)
            await self._load_roster(conn)
            book = self._book
            effects: list[Effect] = []
            candidates = await _with_device_kinds(
                conn, await pending_candidates(conn, self.config.batch)
            )
            errors: dict[int, str] = {}
            for cid, candidate in candidates:
                try:
                    book, produced = self._apply(book, candidate, now)
                except UnknownSubject:
                    await self._load_roster(conn, force=True)  # a resident admitted just now?
                    try:
                        book, produced = self._apply(book, candidate, now)
                    except UnknownSubject as exc:
                        errors[cid] = str(exc)
                        self.metrics.unroutable.inc()
                        log.error("candidate %d dropped: %s", cid, exc)
                        continue
                effects += produced
            if candidates:
                await mark_consumed(conn, (cid for cid, _ in candidates), now, errors)
                self.metrics.candidates.inc(len(candidates))
            for command in await pending_commands(conn):
                book, produced, status, error = await self._command(conn, book, command, now)
                effects += produced
                await finish_command(conn, command.command_id, status, error, now)
                self.metrics.commands.labels(str(status)).inc()
            book, produced = await outbreak_deadlines.step(
                conn, book, now, self._team[1].alerts, self._roster
            )
            effects += produced
            book, produced = tick(book, now=now, config=self._team[1].alerts, roster=self._roster)
            effects += produced
            book = await self._carry_out(conn, book, effects, now)
            if effects:
                await save_book(conn, book, now)
        self._book = book  # only once committed
        if time.monotonic() - self._sla_at >= self.config.referral_sla_every_s:
            self._sla_at = time.monotonic()
            async with conn.transaction():
                fired = await self.referrals.tick(conn, now)
            if fired:
                log.info("%d referral SLA timers fired", fired)
        if time.monotonic() - self._visits_at >= self.config.visit_reminders_every_s:
            self._visits_at = time.monotonic()
            async with conn.transaction():
                await remind_overdue(conn, now=now, roster=self._roster, team=self._team[1])
                await remind_to_check_in(
                    conn,
                    now=now,
                    roster=self._roster,
                    team=self._team[1],
                    base_url=self.config.base_url,
                )
        if time.monotonic() - self._gauges_at >= self.config.gauges_every_s:
            await self._update_gauges(conn)
        self.metrics.step_seconds.observe(time.perf_counter() - began)
        return len(candidates) >= self.config.batch

    def _apply(
        self, book: AlertBook, candidate: AlertCandidate, now: datetime
    ) -> tuple[AlertBook, list[Effect]]:
        return apply_candidate(
            book, candidate, now=now, config=self._team[1].alerts, roster=self._roster
        )

    async def _command(
        self, conn: Conn, book: AlertBook, command: Command, now: datetime
    ) -> tuple[AlertBook, list[Effect], int, str | None]:
        try:
            if command.kind == "ack":
                book, effects = acknowledge(
                    book, command.alert_id, by=command.actor, via=command.via, now=now
                )
            else:
                book, effects = resolve(
                    book,
                    command.alert_id,
                    by=command.actor,
                    outcome=command.outcome,
                    note=command.note,
                    now=now,
                )
        except UnknownAlert:
            return book, [], *await self._settled(conn, command)
        except IllegalTransition as exc:
            return book, [], 409, str(exc)
        except ResolutionError as exc:
            return book, [], 422, str(exc)
        return book, effects, 200, None

    async def _settled(self, conn: Conn, command: Command) -> tuple[int, str]:
        """Not in the book: resolved earlier (and forgotten), or never existed."""
        cur = await conn.execute(
            "SELECT resolved_at IS NOT NULL FROM alerts WHERE alert_id = %s", [command.alert_id]
        )
        row = await cur.fetchone()
        if row is None:
            return 404, f"no alert {command.alert_id}"
        return 409, f"alert {command.alert_id} is already resolved"

    # -- effects -------------------------------------------------------------------------------

    async def _carry_out(
        self, conn: Conn, book: AlertBook, effects: list[Effect], now: datetime
    ) -> AlertBook:
        places = PlaceBook(conn)
        touched: set[int] = set()
        # Resolving straight away implies an acknowledgement: one "resolved" message, not two.
        resolving = {e.incident_id for e in effects if isinstance(e, SendResolved)}
        for effect in effects:
            incident = book.incidents[effect.incident_id]
            touched.add(incident.id)
            if isinstance(effect, Record):
                await write_event(conn, incident.id, effect.event)
                await record_attendance(conn, incident, effect.event)
                if isinstance(effect.event, CreatedEvent | UpdatedEvent):
                    await self._maybe_suggest_referral(conn, incident, effect.event, now)
            elif isinstance(effect, Page):
                await self.outbound.page(conn, places, incident, effect, now)
            elif isinstance(effect, SendAcknowledged) and incident.id not in resolving:
                await self.outbound.acknowledged(conn, places, incident, effect)
            elif isinstance(effect, SendUpdate):
                await self.outbound.update(conn, places, incident, effect)
            elif isinstance(effect, SendResolved):
                await self.outbound.resolved(conn, places, incident, effect)
        for incident_id in sorted(touched):
            await write_incident(conn, book.incidents[incident_id], now)
        for incident_id in sorted(touched):
            if book.incidents[incident_id].status == "resolved":
                book = forget(book, incident_id)
        return book

    async def _maybe_suggest_referral(
        self, conn: Conn, incident: Incident, event: CreatedEvent | UpdatedEvent, now: datetime
    ) -> None:
        alert = incident.alert(event.alert_id)
        if alert.suggestion != "referral" or incident.resident_id is None:
            return
        await self.referrals.suggest(
            conn,
            alert_id=alert.id,
            resident_id=incident.resident_id,
            rule_id=alert.rule_id,
            title=alert.title,
            values=alert.values,
            now=now,
        )

    # -- roster and gauges ---------------------------------------------------------------------

    async def _load_roster(self, conn: Conn, *, force: bool = False) -> None:
        """Reload when a new care team version was stored (or on demand: new residents)."""
        cur = await conn.execute("SELECT coalesce(max(version), 0) FROM care_team")
        row = await cur.fetchone()
        version = int(row[0]) if row else 0
        if not force and version == self._team[0]:
            return
        try:
            team = await current_team(conn)
            self._roster = roster_of(team[1], await placements(conn))
            self._team = team
        except AlertConfigError as exc:
            # The API validates before storing, so this is a resident removed since: keep
            # paging with the roster we have rather than stop paging at all.
            log.error("care team version %d not applied: %s", version, exc)
            self._team = (version, self._team[1])

    async def _update_gauges(self, conn: Conn) -> None:
        self._gauges_at = time.monotonic()
        self.metrics.active.set(sum(1 for i in self._book.incidents.values() if i.active))
        cur = await conn.execute(
            "SELECT (SELECT count(*) FROM incidents WHERE state IN ('notified', 'escalated')"
            "        AND delivered_at IS NULL),"
            " (SELECT count(*) FROM notifications WHERE status = 'pending')"
        )
        row = await cur.fetchone()
        if row is not None:
            self.metrics.undelivered.set(row[0])
            self.metrics.pending.set(row[1])
