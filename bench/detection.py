"""Detection quality and cost: the held-out scenario set (including a 30-resident normal
week) through the rule engine, engine throughput, per-resident state size, and the fall
detector on the SisFall subset. Writes bench/results/detection.json.

Run: `.venv/bin/python -m bench.detection [--skip-week]` (about 5-10 minutes on one core).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from dataclasses import replace
from datetime import timedelta
from typing import Any

from rich.console import Console
from rich.table import Table

from bench.common import machine, write_results
from bench.sisfall import DEFAULT_DATA_DIR, evaluate_sisfall
from device_sim.evaluation.metrics import OVERALL, Report, percentile
from device_sim.evaluation.report import print_report
from device_sim.evaluation.run import ScenarioRun, run_all, score
from device_sim.scenarios import generate, load_library, spec_from_dict
from rules.engine import Engine
from rules.fall import FallRuleState
from rules.fall_config import FallConfig
from rules.types import ResidentProfile, Vital
from services.detector.snapshots import encode_state, resident_snapshot

NORMAL_WEEK = "heldout-normal-week"


def engine_throughput(residents: int = 1000, readings: int = 1_000_000) -> dict[str, Any]:
    """Vital observations per second through Engine.observe alone (single core), built
    beforehand: every resident reports hr, spo2, rr in turn, one reading a second."""
    start = spec_from_dict(
        {"name": "x", "start": "2024-03-04T10:00:00+08:00", "duration": 1, "residents": []}
    ).start
    engine = Engine()
    for rid in range(1, residents + 1):
        engine.set_resident(ResidentProfile(rid, "site-a", f"unit-{rid % 20}"))
    metrics = (("hr", 72.0, 4.0), ("spo2", 96.0, 1.0), ("rr", 16.0, 1.5))
    feed: list[tuple[int, Vital]] = []
    for i in range(readings):
        rid = i % residents + 1
        step = i // residents
        metric, mean, spread = metrics[step % 3]
        value = round(mean + spread * (((step * 7919 + rid * 104729) % 13) - 6) / 6)
        ts = start + timedelta(seconds=step)
        feed.append((rid, Vital(ts, metric, float(value), "vitals", f"w-{rid}")))
    observe = engine.observe
    began = time.perf_counter()
    for rid, vital in feed:
        observe(rid, vital, now=vital.ts)
    seconds = time.perf_counter() - began
    return {
        "residents": residents,
        "readings": readings,
        "seconds": round(seconds, 2),
        "readings_per_s": round(readings / seconds),
    }


def state_size() -> dict[str, Any]:
    """Pickled rule state of one resident after a simulated day of everything (vitals, bed,
    rounds, status, daily activities), without the fall detector's motion buffers."""
    sc = generate(
        spec_from_dict(
            {
                "name": "state-day",
                "seed": 21,
                "start": "2024-03-04T00:00:00+08:00",
                "duration": "1d",
                "tick_s": 5,
                "residents": [{"key": "a", "fall_risk": True, "conditions": ["dementia"]}],
            }
        )
    )
    engine = Engine()
    for profile in sc.profiles:
        engine.set_resident(profile)
    next_tick = sc.start
    for rid, obs in sc.observations():
        while next_tick <= obs.ts:
            engine.tick(now=next_tick)
            next_tick += timedelta(seconds=5)
        engine.observe(rid, obs, now=obs.ts)
    rules = engine.residents[1]
    buffers = rules.fall.nbytes
    slim = replace(rules, fall=FallRuleState((), rules.fall.incident))
    return {
        # As the detector stores it: the JSON snapshot of the rule states.
        "state_bytes_per_resident": len(
            json.dumps(encode_state("resident:1", resident_snapshot(slim)))
        ),
        "fall_buffers_bytes": buffers,
    }


def _news2_figures(report: Report, runs: Sequence[ScenarioRun]) -> dict[str, Any]:
    labels = [
        lab
        for r in runs
        for lab in r.scenario.labels
        if lab.family == "news2" and lab.positive and lab.min_severity == "high"
    ]
    stats = report.families.get("news2")
    missed = {id(lab) for lab in stats.missed} if stats else set()
    detected = [lab for lab in labels if id(lab) not in missed]
    # Latencies of the >= 5 labels only (the family also holds single-3 labels).
    lat: list[float] = []
    first_touch: list[float] = []
    for r in runs:
        by_subject: dict[str, list[Any]] = {}
        for e in r.emitted:
            c = e.candidate
            if c.rule_id == "news2" and c.action in ("raise", "update"):
                by_subject.setdefault(c.subject, []).append(e)
        for lab in r.scenario.labels:
            if lab not in labels:
                continue
            hit = next(
                (
                    e
                    for e in by_subject.get(lab.subject, [])
                    if lab.onset <= e.at <= lab.window_end
                    and e.candidate.severity in ("high", "critical")
                ),
                None,
            )
            if hit is not None:
                lat.append((hit.at - lab.detectable_at).total_seconds())
                if lab.first_touch_at is not None:
                    first_touch.append((hit.at - lab.first_touch_at).total_seconds())
    return {
        "news2_ge5_events": len(labels),
        "news2_detection_rate": len(detected) / len(labels) if labels else None,
        "news2_latency_p50_s": percentile(lat, 50),
        "news2_latency_p95_s": percentile(lat, 95),
        "news2_latency_max_s": max(lat) if lat else None,
        "news2_latency_from_first_touch_p95_s": percentile(first_touch, 95),
        "news2_latency_from_first_touch_max_s": max(first_touch) if first_touch else None,
    }


def _families(report: Report) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for family, s in report.families.items():
        out[family] = {
            "positives": s.positives,
            "detected": s.detected,
            "sensitivity": s.sensitivity,
            "raises": s.raises,
            "precision": s.precision,
            "false_per_resident_day": report.false_per_resident_day(family),
            "negatives": s.negatives,
            "negatives_alerted": s.negatives_alerted,
            "latency_p50_s": s.latency(50),
            "latency_p95_s": s.latency(95),
        }
    return out


def _problems(report: Report) -> list[dict[str, str]]:
    overall = report.families[OVERALL]
    out = [
        {
            "what": "missed",
            "scenario": lab.scenario,
            "subject": lab.subject,
            "family": lab.family,
            "at": lab.onset.isoformat(),
            "detail": f"{lab.kind} {lab.note}".strip(),
        }
        for lab in overall.missed
    ]
    out += [
        {
            "what": "false_alert",
            "scenario": e.scenario,
            "subject": e.candidate.subject,
            "family": e.candidate.rule_id,
            "at": e.at.isoformat(),
            "detail": e.candidate.title,
        }
        for e in overall.false_alerts
    ]
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-week", action="store_true", help="leave out the normal week")
    args = parser.parse_args(argv)
    console = Console()
    began = time.perf_counter()

    specs = load_library(split="heldout")
    if args.skip_week:
        specs = [s for s in specs if s.name != NORMAL_WEEK]
    runs = run_all(specs)
    report = score(runs)
    print_report(runs, report, "held-out set", console, details=True)
    week = [r for r in runs if r.scenario.name == NORMAL_WEEK]
    week_report = score(week) if week else None

    throughput = engine_throughput()
    size = state_size()
    if DEFAULT_DATA_DIR.is_dir() and any(DEFAULT_DATA_DIR.glob("*.csv")):
        sis = evaluate_sisfall(DEFAULT_DATA_DIR, FallConfig())
        sisfall: dict[str, Any] | None = {
            "sensitivity": sis["sensitivity"],
            "specificity": sis["specificity"],
            "falls": sis["falls"],
            "adls": sis["adls"],
        }
    else:
        sisfall = None
        console.print(f"SisFall data not found at {DEFAULT_DATA_DIR}: recorded as null")

    overall = report.families[OVERALL]
    fall = report.families.get("fall")
    results: dict[str, Any] = {
        "fall_sensitivity": fall.sensitivity if fall else None,
        "precision": overall.precision,
        "sensitivity": overall.sensitivity,
        "nonactionable_per_resident_day": (
            week_report.false_per_resident_day() if week_report else None
        ),
        "normal_week_alerts": (
            {
                rule: sum(
                    1
                    for e in week_report.families[OVERALL].false_alerts
                    if e.candidate.rule_id == rule
                )
                for rule in sorted(
                    {e.candidate.rule_id for e in week_report.families[OVERALL].false_alerts}
                )
            }
            if week_report
            else None
        ),
        **_news2_figures(report, runs),
        "engine_readings_per_s": throughput["readings_per_s"],
        "engine_throughput": throughput,
        **size,
        "sisfall": sisfall,
        "families": _families(report),
        "problems": _problems(report),
        "scenarios": [
            {
                "name": r.scenario.name,
                "resident_days": round(r.scenario.resident_days, 2),
                "replay_s": round(r.seconds, 1),
            }
            for r in runs
        ],
        "resident_days": report.resident_days,
        "elapsed_s": round(time.perf_counter() - began, 1),
        "machine": machine(),
    }
    path = write_results("detection", results)

    table = Table(title="bench/detection", title_justify="left")
    table.add_column("figure")
    table.add_column("value", justify="right")
    table.add_column("target", justify="right")
    targets = {
        "fall_sensitivity": ">= 0.95",
        "precision": ">= 0.90",
        "nonactionable_per_resident_day": "<= 0.2",
        "news2_detection_rate": "1.0",
        "news2_latency_p95_s": "<= 60",
        "news2_latency_from_first_touch_p95_s": "",
        "engine_readings_per_s": ">= 100000",
        "state_bytes_per_resident": "<= 20480",
    }
    for key, target in targets.items():
        value = results.get(key)
        table.add_row(key, "—" if value is None else f"{value:.3f}".rstrip("0").rstrip("."), target)
    sis_text = (
        "absent"
        if sisfall is None
        else f"{sisfall['sensitivity']:.3f} / {sisfall['specificity']:.3f}"
    )
    table.add_row("sisfall sensitivity / specificity", sis_text, "")
    console.print(table)
    console.print(f"wrote {path} in {results['elapsed_s']:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
