"""Falls on real recordings: leave-one-subject-out evaluation, and scoring of any data set.

`python -m bench.falls` evaluates the production fall detector over ../shared/data/sisfall
(one young subject, waist) and ../shared/data/falls-dev (80 subjects, wrist and waist), per
placement and age group, and writes bench/results/falls.json. Every setting the detector may
choose from data (bench/fall_candidates.py) is chosen inside the folds: for each
subject, from the other subjects' recordings only, then applied to that subject's. The
figures are those held-out results; none is tuned and tested on the same person.

`python -m bench.falls score DIR --out FILE` runs the detector as deployed for each
recording's placement over every CSV named in DIR/labels.csv (`file`, `placement`) and writes
one JSON entry per file: `file`, `detections`, `first_s` (seconds from the start to the first
detection's impact, or null). Independent data sets are scored this way: keep it stable.

Recordings are streamed through `rules.fall_detector.detect_step` in 2 s windows, as a device sends
them (bench/sisfall.py's path). Without the data this says so and exits 1: never a figure.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray
from rich.progress import track

from bench.sisfall import stream_timed
from rules.fall_config import FallConfig, detector_config
from rules.fall_placement import Placement, parse_placement

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
RESULT = Path(__file__).resolve().parent / "results" / "falls.json"
COLUMNS = ("t_ms", "ax_g", "ay_g", "az_g")
WINDOW_S = 2.0

Label = Literal["fall", "adl"]
ConfigFor = Callable[[Placement], FallConfig | None]


class DataError(ValueError):
    """A data directory, labels file or recording that cannot be read as documented."""


@dataclass(frozen=True, slots=True)
class Recording:
    """One row of labels.csv (only `file` and `placement` are required)."""

    file: str
    placement: Placement
    subject: str = ""  # dataset-qualified, e.g. "FallAllD/S01"
    age_group: str = ""
    label: Label | None = None
    dataset: str = ""


@dataclass(frozen=True, slots=True)
class Outcome:
    """What the detector did on one recording."""

    detections: int
    first_s: float | None  # impact of the first detection, from the start of the recording
    latency_s: float | None  # first detection: from its impact to the window that reported it
    duration_s: float


def read_labels(directory: Path) -> list[Recording]:
    """DIR/labels.csv as recordings; a missing column, unknown placement or label, or a file
    named twice or not present is a DataError naming the line."""
    path = directory / "labels.csv"
    if not path.is_file():
        raise DataError(f"{path}: no labels.csv")
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        missing = {"file", "placement"} - set(reader.fieldnames or ())
        if missing:
            raise DataError(f"{path}: missing column(s) {', '.join(sorted(missing))}")
        out: list[Recording] = []
        seen: set[str] = set()
        for row in reader:
            line = reader.line_num
            name = (row.get("file") or "").strip()
            if not name or Path(name).name != name or not name.endswith(".csv"):
                raise DataError(f"{path}:{line}: file must be a CSV name in {directory}")
            if name in seen:
                raise DataError(f"{path}:{line}: {name} is listed twice")
            if not (directory / name).is_file():
                raise DataError(f"{path}:{line}: {name} does not exist")
            seen.add(name)
            try:
                placement = parse_placement((row.get("placement") or "").strip())
            except ValueError as e:
                raise DataError(f"{path}:{line}: {e}") from None
            out.append(
                Recording(
                    file=name,
                    placement=placement,
                    subject=_subject(row),
                    age_group=(row.get("age_group") or "").strip(),
                    label=_label(row, path, line),
                    dataset=(row.get("dataset") or "").strip(),
                )
            )
    return out


def _subject(row: Mapping[str, str | None]) -> str:
    subject = (row.get("subject") or "").strip()
    dataset = (row.get("dataset") or "").strip()
    return f"{dataset}/{subject}" if subject and dataset else subject


def _label(row: Mapping[str, str | None], path: Path, line: int) -> Label | None:
    value = (row.get("is_fall") or "").strip()
    if value == "":
        return None
    if value not in ("0", "1"):
        raise DataError(f"{path}:{line}: is_fall must be 0 or 1, not {value!r}")
    return "fall" if value == "1" else "adl"


def read_recording(path: Path) -> tuple[NDArray[np.float64], float]:
    """(samples (n, 3) in g, rate in Hz) from a `t_ms,ax_g,ay_g,az_g` CSV."""
    with path.open(encoding="utf-8") as handle:
        header = tuple(h.strip() for h in handle.readline().split(","))
        if header != COLUMNS:
            raise DataError(f"{path}: header must be {','.join(COLUMNS)}")
        try:
            table = np.loadtxt(handle, delimiter=",", ndmin=2, dtype=np.float64)
        except ValueError as e:
            raise DataError(f"{path}: {e}") from None
    if table.shape[0] < 2 or table.shape[1] != 4 or not np.isfinite(table).all():
        raise DataError(f"{path}: needs at least two rows of four finite numbers")
    step = float(np.median(np.diff(table[:, 0])))
    if step <= 0:
        raise DataError(f"{path}: t_ms must increase")
    return table[:, 1:4], 1000.0 / step


def run(
    samples: NDArray[np.float64],
    hz: float,
    config: FallConfig | None,
    *,
    window_s: float = WINDOW_S,
) -> Outcome:
    """The detector over one recording (no config: the placement has no motion detector)."""
    duration = len(samples) / hz
    if config is None:
        return Outcome(0, None, None, duration)
    found = stream_timed(samples, hz, config=config, window_s=window_s)
    if not found:
        return Outcome(0, None, None, duration)
    _, impact_s, decided_s = found[0]
    return Outcome(len(found), round(impact_s, 3), round(decided_s - impact_s, 3), duration)


def deployed(config: FallConfig | None = None) -> ConfigFor:
    """The production detector's settings per placement (rules.fall_config.detector_config)."""
    base = config or FallConfig()
    return lambda placement: detector_config(base, placement)


def score(
    directory: Path, config_for: ConfigFor | None = None
) -> tuple[list[dict[str, Any]], list[str]]:
    """One entry per labelled file, in labels.csv order (the stable `score` output), and the
    problems: recordings that cannot be read, CSVs without a labels row. A problem with one
    file loses none of the others."""
    config_for = config_for or deployed()
    out, problems = [], []
    recordings = read_labels(directory)
    for rec in track(recordings, description="scoring", transient=True):
        try:
            samples, hz = read_recording(directory / rec.file)
        except DataError as e:
            problems.append(str(e))
            continue
        o = run(samples, hz, config_for(rec.placement))
        out.append({"file": rec.file, "detections": o.detections, "first_s": o.first_s})
    labelled = {rec.file for rec in recordings}
    for path in sorted(directory.glob("*.csv")):
        if path.name != "labels.csv" and path.name not in labelled:
            problems.append(f"{path}: no row in labels.csv (no placement): not scored")
    return out, problems


# --- evaluation ---------------------------------------------------------------------------------


def sisfall_recordings(directory: Path) -> list[Recording]:
    """The SisFall subset has no labels.csv: codes F.. are falls, D.. ADLs; worn at the waist."""
    out = []
    for path in sorted(directory.glob("*.csv")):
        code, subject, _ = path.stem.split("_", 2)
        out.append(
            Recording(
                file=path.name,
                placement="waist",
                subject=f"SisFall/{subject}",
                age_group="young",
                label="fall" if code.startswith("F") else "adl",
                dataset="SisFall",
            )
        )
    return out


@dataclass(frozen=True, slots=True)
class Loaded:
    recording: Recording
    samples: NDArray[np.float32]
    hz: float


def load(sources: Iterable[tuple[Path, list[Recording]]]) -> list[Loaded]:
    jobs = [(directory, rec) for directory, recs in sources for rec in recs]
    out = []
    for directory, rec in track(jobs, description="reading", transient=True):
        if rec.label is None or not rec.subject:
            raise DataError(f"{rec.file}: evaluation needs subject and is_fall")
        samples, hz = read_recording(directory / rec.file)
        out.append(Loaded(rec, samples.astype(np.float32), hz))
    return out


def rates(pairs: Iterable[tuple[Recording, Outcome]]) -> dict[str, Any]:
    """Sensitivity (falls with a detection), specificity (ADLs without), false detections per
    hour of ADL recording, and the 95th percentile of detection latency on falls."""
    falls = adls = tp = tn = false = 0
    adl_s = 0.0
    latencies: list[float] = []
    for rec, o in pairs:
        if rec.label == "fall":
            falls += 1
            if o.detections:
                tp += 1
                if o.latency_s is not None:
                    latencies.append(o.latency_s)
        elif rec.label == "adl":
            adls += 1
            tn += o.detections == 0
            false += o.detections
            adl_s += o.duration_s
    return {
        "falls": falls,
        "adls": adls,
        "true_positives": tp,
        "true_negatives": tn,
        "sensitivity": _ratio(tp, falls),
        "specificity": _ratio(tn, adls),
        "false_detections": false,
        "adl_hours": round(adl_s / 3600, 3),
        "false_per_hour": round(false / (adl_s / 3600), 3) if adl_s else None,
        "latency_p95_s": round(float(np.percentile(latencies, 95)), 2) if latencies else None,
    }


def _ratio(num: int, den: int) -> float | None:
    return round(num / den, 4) if den else None


def youden(pairs: Sequence[tuple[Recording, Outcome]]) -> float:
    """The selection objective inside a fold: sensitivity + specificity (missing parts 0)."""
    r = rates(pairs)
    return (r["sensitivity"] or 0.0) + (r["specificity"] or 0.0)


Objective = Callable[[Sequence[tuple[Recording, Outcome]]], float]


def best(
    recordings: Sequence[Recording],
    candidates: Mapping[str, Sequence[Outcome]],
    among: Sequence[int],
    objective: Objective = youden,
) -> str:
    """The candidate scoring best on recordings[among] among those with no lower specificity
    there than the first (the reference: today's general settings), so that no choice buys
    sensitivity with more false alarms; ties go to the one listed first."""
    names = list(candidates)

    def specificity(name: str) -> float:
        return rates((recordings[i], candidates[name][i]) for i in among)["specificity"] or 0.0

    floor = specificity(names[0])
    names = [n for n in names if n == names[0] or specificity(n) >= floor]
    return max(
        names,
        key=lambda n: (
            objective([(recordings[i], candidates[n][i]) for i in among]),
            -names.index(n),
        ),
    )


def leave_one_subject_out(
    recordings: Sequence[Recording],
    candidates: Mapping[str, Sequence[Outcome]],
    *,
    objective: Objective = youden,
) -> tuple[list[Outcome], dict[str, int]]:
    """For each subject, the candidate that scores best on every *other* subject's
    recordings, applied to this subject's. Returns the held-out outcomes (in the order of
    `recordings`) and how often each candidate was chosen.

    `candidates[name][i]` is candidate `name`'s outcome on recordings[i] (one placement); the
    first is the reference (see `best`)."""
    held_out: list[Outcome | None] = [None] * len(recordings)
    chosen: dict[str, int] = {}
    subjects: dict[str, list[int]] = {}
    for i, rec in enumerate(recordings):
        subjects.setdefault(rec.subject, []).append(i)
    for subject, mine in subjects.items():
        others = [i for s, idx in subjects.items() if s != subject for i in idx]
        name = best(recordings, candidates, others, objective)
        chosen[name] = chosen.get(name, 0) + 1
        for i in mine:
            held_out[i] = candidates[name][i]
    return [o for o in held_out if o is not None], chosen


def summary(corpus: Sequence[Loaded], results: Sequence[Outcome]) -> dict[str, Any]:
    """The figures: overall, per placement, per age group, per data set."""
    pairs = [(item.recording, o) for item, o in zip(corpus, results, strict=True)]

    def where(
        placement: str | None = None, age: str | None = None, dataset: str | None = None
    ) -> dict[str, Any]:
        """The rates of the recordings matching each given attribute (None: any)."""
        return rates(
            (r, o)
            for r, o in pairs
            if placement in (None, r.placement)
            and age in (None, r.age_group)
            and dataset in (None, r.dataset)
        )

    total = rates(pairs)
    slices: dict[str, Any] = {}
    for placement in sorted({r.placement for r, _ in pairs}):
        slices[placement] = where(placement=placement)
    for age in sorted({r.age_group for r, _ in pairs if r.age_group}):
        slices[age] = where(age=age)
        for placement in sorted({r.placement for r, _ in pairs}):
            slices[f"{age}.{placement}"] = where(placement=placement, age=age)
    for dataset in sorted({r.dataset for r, _ in pairs}):
        slices[f"dataset.{dataset}"] = where(dataset=dataset)
    out: dict[str, Any] = {
        "sensitivity": total["sensitivity"],
        "specificity": total["specificity"],
    }
    for placement in ("wrist", "waist"):
        for key in ("sensitivity", "specificity", "false_per_hour"):
            out[f"{placement}.{key}"] = slices.get(placement, {}).get(key)
    out["older_adl_specificity"] = slices.get("older", {}).get("specificity")
    out["false_per_hour"] = total["false_per_hour"]
    out["latency_p95_s"] = total["latency_p95_s"]
    out["all"] = total
    out["slices"] = slices
    return out


def by_activity(corpus: Sequence[Loaded], results: Sequence[Outcome]) -> list[dict[str, Any]]:
    """Errors per activity code (the part of the file name before the trial), worst first."""
    table: dict[tuple[str, str, str], list[int]] = {}
    for item, o in zip(corpus, results, strict=True):
        rec = item.recording
        parts = rec.file.rsplit("_", 1)[0].split("_")
        code = f"{rec.dataset}-{parts[-1] if rec.dataset != 'SisFall' else parts[0]}"
        key = (rec.placement, code, rec.label or "")
        row = table.setdefault(key, [0, 0])
        row[0] += 1
        row[1] += bool(o.detections) != (rec.label == "fall")
    rows = [
        {"placement": p, "activity": c, "label": lab, "recordings": n, "wrong": w}
        for (p, c, lab), (n, w) in table.items()
    ]
    return sorted(rows, key=lambda r: (-r["wrong"] / r["recordings"], r["activity"]))


def evaluate(
    corpus: Sequence[Loaded], candidates: Callable[[Placement], Mapping[str, FallConfig | None]]
) -> dict[str, Any]:
    """Per placement: every candidate setting over its recordings, the held-out (LOSO)
    outcomes, the candidate the full data would choose, and the shipped default's figures."""
    held_out: list[Outcome | None] = [None] * len(corpus)
    shipped: list[Outcome | None] = [None] * len(corpus)
    tuning: dict[str, Any] = {}
    for placement in sorted({item.recording.placement for item in corpus}):
        idx = [i for i, item in enumerate(corpus) if item.recording.placement == placement]
        mine = [corpus[i] for i in idx]
        recs = [item.recording for item in mine]
        configs = candidates(placement)
        runs = {
            name: [
                run(item.samples.astype(np.float64), item.hz, config)
                for item in track(mine, description=f"{placement} {name}", transient=True)
            ]
            for name, config in configs.items()
        }
        outs, chosen = leave_one_subject_out(recs, runs)
        default = "shipped"
        for j, i in enumerate(idx):
            held_out[i] = outs[j]
            shipped[i] = runs[default][j]
        tuning[placement] = {
            "candidates": {name: _describe(c) for name, c in configs.items()},
            "default": default,
            "chosen_in_folds": chosen,
            "chosen_on_all": best(recs, runs, range(len(recs))),
            "per_candidate": {
                name: {
                    k: v
                    for k, v in rates(zip(recs, o, strict=True)).items()
                    if k in ("sensitivity", "specificity", "false_per_hour")
                }
                for name, o in runs.items()
            },
        }
    results = [o for o in held_out if o is not None]
    report = summary(corpus, results)
    report["method"] = (
        "leave-one-subject-out: per placement, of the candidate settings whose specificity "
        "on the other subjects is at least the general settings' there, the one with the "
        "best sensitivity + specificity on them, applied to the held-out subject"
    )
    report["tuning"] = tuning
    report["shipped_default_figures"] = {
        k: v
        for k, v in summary(corpus, [o for o in shipped if o is not None]).items()
        if k not in ("slices", "all")
    }
    report["errors_by_activity"] = [r for r in by_activity(corpus, results) if r["wrong"]]
    return report


def _describe(config: FallConfig | None) -> dict[str, Any] | None:
    if config is None:
        return None
    base = FallConfig()
    return {k: v for k, v in config.model_dump().items() if v != getattr(base, k)}


def _clean(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command")
    scoring = sub.add_parser("score", help="score every CSV of a labelled directory")
    scoring.add_argument("directory", type=Path)
    scoring.add_argument("--out", type=Path, required=True)
    parser.add_argument("--data", type=Path, default=DATA, help="holds sisfall/ and falls-dev/")
    parser.add_argument("--out", type=Path, default=RESULT)
    args = parser.parse_args(argv)
    try:
        if args.command == "score":
            entries, problems = score(args.directory)
            args.out.write_text(json.dumps(entries, indent=1) + "\n")
            print(f"{len(entries)} recordings scored -> {args.out}")
            for problem in problems:
                print(f"error: {problem}", file=sys.stderr)
            return 1 if problems else 0
        return _evaluate(args.data, args.out)
    except DataError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1


def _evaluate(data: Path, out: Path) -> int:
    sisfall, falls_dev = data / "sisfall", data / "falls-dev"
    missing = [str(d) for d in (sisfall, falls_dev) if not d.is_dir()]
    if missing:
        print(f"data not found: {', '.join(missing)}; no figures written", file=sys.stderr)
        return 1
    from bench.fall_candidates import candidates

    corpus = load([(sisfall, sisfall_recordings(sisfall)), (falls_dev, read_labels(falls_dev))])
    report = evaluate(corpus, candidates)
    report["data"] = {"sisfall": len(sisfall_recordings(sisfall)), "falls_dev": len(corpus)}
    report["data"]["falls_dev"] -= report["data"]["sisfall"]
    report["window_s"] = WINDOW_S
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=1, default=_clean) + "\n")
    for key, value in report.items():
        if not isinstance(value, dict | list | str):
            print(f"{key:<24}{value}")
    print(f"-> {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
