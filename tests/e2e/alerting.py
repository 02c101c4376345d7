"""Shared pieces of the alert service tests: a clean slate, receivers, a care team document,
candidates as the detector writes them, and the service run in-process."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from prometheus_client import CollectorRegistry
from psycopg.types.json import Jsonb

from services.alerts.links import LinkSigner
from services.alerts.metrics import AlertMetrics
from services.alerts.service import AlertService, AlertServiceConfig
from services.careteam.team import load_care_team
from services.notifications.retry import RetryPolicy
from services.referrals.for_alerts import AlertReferrals
from services.settings import Settings, admin_token, database_url
from tests.receivers import HttpReceiver, SmtpReceiver
from tests.support import SITE, UNIT, Conn

ALERT_TABLES = (
    "alert_candidates, incidents, alerts, alert_events, alert_commands, notifications,"
    " delivery_attempts, ack_links, alert_service_state, care_team, staff_checkin_reminders"
)


def clean(db: Conn) -> None:
    # Event ids keep counting, as in production: an API process's feed listener started by an
    # earlier test follows them, and would wait past a restarted sequence.
    row = db.execute("SELECT coalesce(max(event_id), 0) FROM alert_events").fetchone()
    db.execute(f"TRUNCATE {ALERT_TABLES} RESTART IDENTITY CASCADE")
    if row and row[0]:
        db.execute(f"ALTER TABLE alert_events ALTER COLUMN event_id RESTART WITH {int(row[0]) + 1}")
    db.commit()


def policy(step_s: float, renotify_s: float | None = None) -> dict[str, Any]:
    """Caregiver → charge nurse after `step_s` → physician after another `step_s`, for every
    severity; outbreaks to infection and disease control."""
    steps: list[dict[str, Any]] = [
        {"who": ["caregiver"], "timeout_s": step_s},
        {"who": ["charge_nurse"], "timeout_s": step_s},
        {"who": ["physician"]},
    ]
    if renotify_s is not None:
        for step in steps:
            step["renotify_every_s"] = renotify_s
    every = {"steps": steps}
    return {
        "escalation": {
            "default": {"low": every, "medium": every, "high": every, "critical": every},
            "audiences": {
                "infection_control": {"steps": [{"who": ["infection_control", "disease_control"]}]}
            },
        }
    }


def team(
    http: HttpReceiver,
    smtp: SmtpReceiver,
    *,
    step_s: float = 60.0,
    caregiver: list[str] | None = None,
    renotify_s: float | None = None,
) -> dict[str, Any]:
    """Everyone on duty around the clock at the test ward: the caregiver and physician by
    webhook, the charge nurse and disease control by e-mail."""
    staff = [
        ("cg1", "Li Na", "caregiver", caregiver or [http.url("cg1")]),
        ("cn1", "Wang Fang", "charge_nurse", [smtp.url("cn1@example.org")]),
        ("dr1", "Dr Zhao", "physician", [http.url("dr1")]),
        ("ic1", "Chen Jie", "infection_control", [http.url("ic1")]),
        ("cdc1", "District CDC", "disease_control", [smtp.url("cdc@example.org")]),
    ]
    return {
        "staff": [{"id": i, "name": n, "role": r, "channels": c} for i, n, r, c in staff],
        "shifts": [{"staff": i, "site": SITE, "start": "00:00", "end": "00:00"} for i, *_ in staff],
        "alerts": policy(step_s, renotify_s),
        # These tests read the pages' English full form (names and values); the product
        # default (zh-CN, private) has its own tests.
        "site_defaults": {"language": "en", "details": "full"},
    }


def store(db: Conn, document: Mapping[str, Any]) -> None:
    validated = load_care_team(document).model_dump(mode="json")
    db.execute(
        "INSERT INTO care_team (document, stored_by) VALUES (%s, 'test')", [Jsonb(validated)]
    )
    db.commit()


def resident(
    db: Conn, name: str, room: str = "203", bed: str = "2", *, consent: bool = True
) -> int:
    row = db.execute(
        "INSERT INTO residents (site_id, unit_id, display_name, room, bed)"
        " VALUES (%s, %s, %s, %s, %s) RETURNING resident_id",
        [SITE, UNIT, name, room, bed],
    ).fetchone()
    assert row is not None
    if consent:
        # The team's `details: full` shows names and values only with the resident's consent.
        db.execute(
            "INSERT INTO resident_consents (resident_id, kind, granted, recorded_by)"
            " VALUES (%s, 'third_party_messaging', true, 'test')",
            [row[0]],
        )
    db.commit()
    return int(row[0])


def candidate(
    db: Conn,
    subject: str,
    *,
    rule_id: str = "fall.device",
    action: str = "raise",
    severity: str = "high",
    title: str = "Fall reported by device",
    values: Mapping[str, Any] | None = None,
    ts: datetime | None = None,
    audience: str | None = None,
    suggestion: str | None = None,
    dedupe_key: str | None = None,
) -> None:
    """An alert candidate as the detector writes it."""
    db.execute(
        "INSERT INTO alert_candidates (rule_id, action, subject, dedupe_key, severity, ts,"
        ' title, "values", suggestion, audience) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)',
        [
            rule_id,
            action,
            subject,
            dedupe_key or f"{rule_id}:{subject}",
            severity,
            ts or datetime.now(UTC),
            title,
            Jsonb(dict(values or {})),
            suggestion,
            audience,
        ],
    )
    db.commit()


class Running:
    """The alert service in a thread of the test process (its metrics readable directly)."""

    def __init__(self, settings: Settings, **config: Any) -> None:
        self.registry = CollectorRegistry()
        config.setdefault("retry", RetryPolicy(base_s=0.2, cap_s=1.0))
        config.setdefault("gauges_every_s", 0.1)
        self.service = AlertService(
            database_url(settings, "alerts"),
            signer=LinkSigner(admin_token(settings), ttl_s=settings.ack_link_ttl_s),
            metrics=AlertMetrics(self.registry),
            referrals=AlertReferrals(),
            config=AlertServiceConfig(base_url=settings.base_url, **config),
        )
        self.errors: list[BaseException] = []
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            self.service.run()
        except BaseException as exc:  # surfaced by stop()
            self.errors.append(exc)

    def metric(self, name: str) -> float:
        value = self.registry.get_sample_value(name)
        return 0.0 if value is None else value

    def stop(self) -> None:
        self.service.stop()
        self.thread.join(timeout=15)
        assert not self.thread.is_alive(), "the alert service did not stop"
        assert not self.errors, self.errors
