"""A referral's snapshot as stored (JSON columns of `referrals`) and back: the vitals, NEWS2
and the open alerts the hospital saw, and the partner hospital as the workflow names it."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any, cast

from rules.news2 import Gap, News2Result, SubScore
from rules.types import Severity, Source, Vital
from services.referrals.model import ActiveAlert, Hospital
from services.referrals.routing import PartnerKind


def hospital(hospital_id: str, name: str, kind: PartnerKind = "general_hospital") -> Hospital:
    # The contact is resolved through the care team document when a message is queued.
    return Hospital(hospital_id, name, f"care-team:hospitals/{hospital_id}", kind)


def alert_json(
    alert_id: int | None,
    rule_id: str,
    severity: str,
    title: str,
    ts: datetime,
    values: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    # `values`: the rule's measurements (peak_g, value, limit, ...), so a page can say them
    # in words; snapshots stored before they were kept have none.
    return {
        "alert_id": alert_id,
        "rule_id": rule_id,
        "severity": severity,
        "title": title,
        "ts": ts.isoformat(),
        "values": dict(values or {}),
    }


def active_alert(data: Mapping[str, Any]) -> ActiveAlert:
    return ActiveAlert(
        data["rule_id"],
        cast(Severity, data["severity"]),
        data["title"],
        datetime.fromisoformat(data["ts"]),
    )


def vital_json(v: Vital) -> dict[str, Any]:
    return {
        "ts": v.ts.isoformat(),
        "metric": v.metric,
        "value": v.value,
        "source": v.source,
        "device_id": v.device_id,
    }


def vital_from(data: Mapping[str, Any]) -> Vital:
    return Vital(
        datetime.fromisoformat(data["ts"]),
        data["metric"],
        float(data["value"]),
        cast(Source, data["source"]),
        data.get("device_id"),
    )


def news2_json(result: News2Result) -> dict[str, Any]:
    return {
        "at": result.at.isoformat(),
        "scale": result.scale,
        "complete": result.complete,
        "total": result.total,
        "band": result.band,
        "partial_total": result.partial_total,
        "sub_scores": [
            {
                "parameter": s.parameter,
                "score": s.score,
                "charted": str(s.charted),
                "reading": None if s.reading is None else vital_json(s.reading),
            }
            for s in result.sub_scores
        ],
        "missing": list(result.missing),
        "gaps": [
            {
                "parameter": g.parameter,
                "reason": g.reason,
                "reading": None if g.reading is None else vital_json(g.reading),
                "age_s": g.age_s,
            }
            for g in result.gaps
        ],
        "assumptions": list(result.assumptions),
    }


def news2_from(data: Mapping[str, Any]) -> News2Result:
    return News2Result(
        at=datetime.fromisoformat(data["at"]),
        scale=2 if data["scale"] == 2 else 1,
        complete=bool(data["complete"]),
        total=data["total"],
        band=data["band"],
        partial_total=int(data["partial_total"]),
        sub_scores=tuple(
            SubScore(
                s["parameter"],
                int(s["score"]),
                Decimal(s["charted"]),
                None if s["reading"] is None else vital_from(s["reading"]),
            )
            for s in data["sub_scores"]
        ),
        missing=tuple(data["missing"]),
        gaps=tuple(
            Gap(
                g["parameter"],
                g["reason"],
                None if g["reading"] is None else vital_from(g["reading"]),
                g["age_s"],
            )
            for g in data["gaps"]
        ),
        assumptions=tuple(data["assumptions"]),
    )
