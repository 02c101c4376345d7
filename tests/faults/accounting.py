"""What the fault suite counts and how it reads what arrived, apart from the I/O that gets it
(ward.py): the faults' windows and reports, pages as the receiver got them, the care team.

What the checks mean:

- published: messages the broker acknowledged to the device (PUBACK, QoS 1);
- stored exactly once: every vitals field of every published message is one `readings` row
  (its `(device_id, metric, ts)` counted once), nothing stored that was not published, and
  every published fall is one `device_events` row;
- a fall's alert: exactly one alert (dedupe key `fall:resident:R`) per injected fall, and
  exactly one page for it delivered to the caregiver at escalation step 1;
- sent twice: (a) a page the receiver got twice (every page carries a one-time
  acknowledgement link with a nonce of its own: the same nonce twice is the same outbox row
  sent twice), or (b) an outbox row with two successful delivery attempts, or (c) the
  receiver holding more messages than the outbox marked delivered (a delivered row sent
  again), or (d) the same person paged twice for the same alert at the same escalation step
  without a reminder policy. Pages to other people or at later steps are not repeats, nor are
  two messages alike in text from two outbox rows (two alerts about the same device). The
  care team has one step within reach (the next is an hour away) and no reminders, so each
  fall pages exactly once;
- nothing else: the calm stream sets off no rule, so a fault may open no alert but the
  falls' (a broker restart excepted: Mosquitto publishes every device's last will as it
  goes down, and the detector pages "device disconnected" for each);
- healthy: each service's own signal: the ingest worker's `carewatch_ingest_subscribed 1`
  and `carewatch_ingest_database_up 1`, the detector's `carewatch_detector_subscribed 1`
  (it exits when it loses the database), the alert service's `carewatch_alerts_ready 1`
  with no undelivered incident and an empty outbox, the API's `/readyz` 200 (database and
  broker ok).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from services.alerts.links import LinkError
from tests.faults.stream import Sent
from tests.receivers import HttpReceiver, Received

SITE = "faults"
CAREGIVER = "cg1"
LINK = re.compile(r"Acknowledge: \S+/a/(\S+)")
STEP = re.compile(r"Escalation step (\d+)")


@dataclass(frozen=True, slots=True)
class Fall:
    resident_id: int
    name: str
    sent: Sent


@dataclass(frozen=True, slots=True)
class Page:
    """A page as the receiver got it, identified by its acknowledgement link."""

    alert_id: int
    staff_id: str
    nonce: str
    step: int
    reminder: bool
    at: float


@dataclass
class Window:
    """One fault: from `begin` to `settle`."""

    label: str
    first: int  # index of the first message sent in this window
    started: float
    crashes_before: dict[str, int]
    may_exit: frozenset[str] = frozenset()  # services designed to exit (and be restarted)
    may_alert: frozenset[str] = frozenset()  # rules the fault itself may set off, beside falls
    injected: list[str] = field(default_factory=list)
    falls: list[Fall] = field(default_factory=list)
    began_at: float = field(default_factory=time.time)

    def note(self, text: str) -> None:
        line = f"[{time.monotonic() - self.started:6.1f} s] {text}"
        self.injected.append(line)
        print(f"  {self.label}: {line}", flush=True)


@dataclass
class Report:
    label: str
    injected: list[str]
    counted: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def text(self) -> str:
        lines = [f"== {self.label} ==", "injected:"]
        lines += [f"  {line}" for line in self.injected]
        lines.append("counted:")
        lines += [f"  {line}" for line in self.counted]
        lines.append("problems:" if self.problems else "problems: none")
        lines += [f"  - {line}" for line in self.problems]
        return "\n".join(lines)


def parse_pages(
    items: Sequence[Received], verify: Callable[[str], tuple[int, str, str]]
) -> list[Page]:
    """The pages among what the receiver got, each named by its acknowledgement link (alert,
    person, nonce: one per outbox row); other messages (acknowledged, resolved) carry none."""
    out = []
    for item in items:
        match = LINK.search(item.body)
        if match is None:
            continue
        try:
            alert_id, staff_id, nonce = verify(match.group(1))
        except LinkError:
            continue
        step = STEP.search(item.body)
        out.append(
            Page(
                alert_id,
                staff_id,
                nonce,
                int(step.group(1)) if step else 1,
                item.title.startswith("REMINDER"),
                item.at,
            )
        )
    return out


def care_team(receiver: HttpReceiver) -> dict[str, Any]:
    """The caregiver (step 1) and the charge nurse an hour later, on duty around the clock, one
    policy for every severity (a long lie's rise to critical pages nobody new), no reminders."""
    steps = [
        {"who": ["caregiver"], "timeout_s": 3600},
        {"who": ["charge_nurse"]},
    ]
    every = {"steps": steps}
    return {
        "staff": [
            {
                "id": CAREGIVER,
                "name": "Li Na",
                "role": "caregiver",
                "channels": [receiver.url(CAREGIVER)],
            },
            {
                "id": "cn1",
                "name": "Wang Fang",
                "role": "charge_nurse",
                "channels": [receiver.url("cn1")],
            },
        ],
        "shifts": [
            {"staff": staff, "site": SITE, "start": "00:00", "end": "00:00"}
            for staff in (CAREGIVER, "cn1")
        ],
        "site_defaults": {"language": "en", "details": "full"},  # the English full form
        "alerts": {
            "escalation": {
                "default": {"low": every, "medium": every, "high": every, "critical": every}
            }
        },
    }
