"""`carewatch eval`: replay the labelled scenario library and print detection quality per
rule family (sensitivity, precision, false alerts per resident-day, latency p50/p95)."""

from __future__ import annotations

import os
from collections.abc import Sequence

from rich.console import Console
from rich.table import Table

from device_sim.evaluation.metrics import OVERALL, Report
from device_sim.evaluation.run import ScenarioRun, evaluate_library
from device_sim.scenarios import Split

# Columns for a table written to a pipe or file: more than the widest table needs (a table
# takes only the width its cells need).
PIPED_WIDTH = 400


def _pct(x: float | None) -> str:
    return "—" if x is None else f"{100 * x:.1f}%"


def _num(x: float | None, fmt: str = "{:.0f}") -> str:
    return "—" if x is None else fmt.format(x)


def family_table(report: Report, title: str) -> Table:
    table = Table(title=title, title_justify="left")
    for name in ("family", "positives", "detected", "sensitivity", "raises", "precision"):
        table.add_column(name, justify="left" if name == "family" else "right")
    for name in ("false/res-day", "negatives alerted", "latency p50 s", "latency p95 s"):
        table.add_column(name, justify="right")
    for family, s in report.families.items():
        false_rate = report.false_per_resident_day(family)
        table.add_row(
            f"[bold]{family}[/bold]" if family == OVERALL else family,
            str(s.positives),
            str(s.detected),
            _pct(s.sensitivity),
            str(s.raises),
            _pct(s.precision),
            _num(false_rate, "{:.3f}"),
            f"{s.negatives_alerted}/{s.negatives}",
            _num(s.latency(50)),
            _num(s.latency(95)),
            end_section=family == OVERALL,
        )
    return table


def problems_table(report: Report, limit: int = 30) -> Table | None:
    """Missed positives and false alerts, so a number can be traced to a scenario."""
    overall = report.families[OVERALL]
    if not overall.missed and not overall.false_alerts:
        return None
    table = Table(title="Misses and false alerts", title_justify="left")
    for name in ("what", "scenario", "subject", "family / rule", "at", "detail"):
        table.add_column(name)
    for lab in overall.missed[:limit]:
        table.add_row(
            "missed",
            lab.scenario,
            lab.subject,
            lab.family,
            lab.onset.isoformat(timespec="seconds"),
            f"{lab.kind} {lab.note}".strip(),
        )
    for e in overall.false_alerts[:limit]:
        c = e.candidate
        table.add_row(
            "false alert",
            e.scenario,
            c.subject,
            c.rule_id,
            e.at.isoformat(timespec="seconds"),
            c.title,
        )
    hidden = max(0, len(overall.missed) - limit) + max(0, len(overall.false_alerts) - limit)
    if hidden:
        table.caption = f"{hidden} more not shown"
    return table


def print_report(
    runs: Sequence[ScenarioRun], report: Report, title: str, console: Console, *, details: bool
) -> None:
    seconds = sum(r.seconds for r in runs)
    names = ", ".join(r.scenario.name for r in runs)
    console.print(
        f"[bold]{title}[/bold]: {len(runs)} scenario(s), {report.resident_days:.1f} "
        f"resident-days, replayed in {seconds:.1f} s ({names})"
    )
    console.print(family_table(report, title))
    if details:
        problems = problems_table(report)
        if problems is not None:
            console.print(problems)


def report_console() -> Console:
    """The terminal's width on a terminal; piped or redirected (no terminal, so rich would
    assume 80 columns and cut every cell), wide enough for the tables, unless COLUMNS says."""
    console = Console()
    if console.is_terminal or os.environ.get("COLUMNS"):
        return console
    return Console(width=PIPED_WIDTH)


def eval_command(
    split: str | None = None,
    scenarios: Sequence[str] = (),
    details: bool = True,
    console: Console | None = None,
) -> dict[str, Report]:
    """Replay the library (both splits, or one; or the named scenarios) through the rule
    engine and print a table per split. Returns the reports by split."""
    console = console or report_console()
    splits: list[Split] = ["tune", "heldout"] if split is None else [split]  # type: ignore[list-item]
    out: dict[str, Report] = {}
    for s in splits:
        runs, report = evaluate_library(s, names=scenarios)
        if not runs:
            continue
        print_report(runs, report, f"split: {s}", console, details=details)
        out[s] = report
    if not out:
        console.print("no scenarios matched")
    return out
