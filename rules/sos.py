"""The SOS button: a resident asked for help. Pages at once; only staff end it."""

from __future__ import annotations

from rules.types import AlertCandidate, DeviceEvent, ResidentProfile

RULE_ID = "sos"


def sos_step(event: DeviceEvent, *, profile: ResidentProfile) -> list[AlertCandidate]:
    """Every press raises (the alert service folds repeats into the open alert)."""
    if event.type != "sos":
        return []
    return [
        AlertCandidate(
            rule_id=RULE_ID,
            action="raise",
            subject=profile.subject,
            dedupe_key=f"{RULE_ID}:{profile.subject}",
            severity="critical",
            ts=event.ts,
            title="SOS button pressed",
            values={"device_id": event.device_id},
        )
    ]
