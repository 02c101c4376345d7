"""Fall detector on the SisFall subset (held out: never used to choose thresholds).

Streams each recording through `rules.fall_detector.detect_step` in fixed windows, as the detector
would see it live, and reports sensitivity, specificity and a line per file. The data live
outside the repository (../shared/data/sisfall); without them this prints so and exits 0.
`--synthetic N` also prints the design set: N recordings of each synthetic kind.

Run: `.venv/bin/python -m bench.sisfall [--data-dir DIR] [--window-s S] [--synthetic N]`.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from device_sim.motion import ADL_KINDS, FALL_KINDS, PLACEMENTS, generate
from rules.fall_config import FallConfig
from rules.fall_detector import FallDetection, FallDetectorState, detect_step
from rules.types import Motion

DEFAULT_DATA_DIR = Path(__file__).resolve().parents[2] / "shared" / "data" / "sisfall"
_START = datetime(2017, 1, 1, tzinfo=UTC)  # any fixed origin: only differences matter


def stream(
    samples: NDArray[np.float64],
    hz: float,
    *,
    config: FallConfig,
    window_s: float = 2.0,
    device_id: str = "bench",
) -> list[FallDetection]:
    """All detections from one recording fed as consecutive `window_s` windows."""
    return [
        d
        for d, _, _ in stream_timed(
            samples, hz, config=config, window_s=window_s, device_id=device_id
        )
    ]


def stream_timed(
    samples: NDArray[np.float64],
    hz: float,
    *,
    config: FallConfig,
    window_s: float = 2.0,
    device_id: str = "bench",
) -> list[tuple[FallDetection, float, float]]:
    """Each detection with its impact and the end of the window that reported it, in seconds
    from the start of the recording (their difference is the detector's latency)."""
    state = FallDetectorState()
    found: list[tuple[FallDetection, float, float]] = []
    step = max(1, round(window_s * hz))
    for start in range(0, len(samples), step):
        chunk = samples[start : start + step]
        window = Motion(
            ts=_START + timedelta(seconds=start / hz),
            device_id=device_id,
            hz=hz,
            ax=tuple(chunk[:, 0].tolist()),
            ay=tuple(chunk[:, 1].tolist()),
            az=tuple(chunk[:, 2].tolist()),
        )
        state, detections = detect_step(state, window, config=config)
        end_s = (start + len(chunk)) / hz
        found += [(d, (d.ts - _START).total_seconds(), end_s) for d in detections]
    return found


def _read(path: Path) -> tuple[NDArray[np.float64], float]:
    table = np.loadtxt(path, delimiter=",", skiprows=1, ndmin=2)
    hz = 1000.0 / float(np.median(np.diff(table[:, 0])))
    return table[:, 1:4], hz


def _rates(results: Sequence[dict[str, Any]]) -> dict[str, Any]:
    falls = [r for r in results if r["label"] == "fall"]
    adls = [r for r in results if r["label"] == "adl"]
    tp = sum(r["detected"] for r in falls)
    fp = sum(r["detected"] for r in adls)
    return {
        "falls": len(falls),
        "adls": len(adls),
        "true_positives": tp,
        "false_negatives": len(falls) - tp,
        "true_negatives": len(adls) - fp,
        "false_positives": fp,
        "sensitivity": tp / len(falls) if falls else None,
        "specificity": (len(adls) - fp) / len(adls) if adls else None,
    }


def evaluate_sisfall(
    data_dir: Path, config: FallConfig, *, window_s: float = 2.0
) -> dict[str, Any]:
    """Sensitivity (falls detected), specificity (ADLs without any detection), per file."""
    results: list[dict[str, Any]] = []
    for path in sorted(data_dir.glob("*.csv")):
        code = path.name.split("_", 1)[0]
        samples, hz = _read(path)
        found = stream(samples, hz, config=config, window_s=window_s)
        first = found[0] if found else None
        results.append(
            {
                "file": path.name,
                "code": code,
                "label": "fall" if code.startswith("F") else "adl",
                "hz": round(hz, 3),
                "peak_g": round(float(np.linalg.norm(samples, axis=1).max()), 2),
                "detected": bool(found),
                "detections": len(found),
                "at_s": round((first.ts - _START).total_seconds(), 2) if first else None,
                "impact_g": first.peak_g if first else None,
                "orientation_change_deg": first.orientation_change_deg if first else None,
                "stillness_std_g": first.stillness_std_g if first else None,
                "confidence": first.confidence if first else None,
            }
        )
    return {"window_s": window_s, **_rates(results), "files": results}


def evaluate_synthetic(
    config: FallConfig,
    *,
    seeds: Iterable[int],
    hz: float = 50.0,
    window_s: float = 2.0,
) -> dict[str, Any]:
    """The design set: each synthetic kind and placement over `seeds`. A fall counts as
    detected when a detection lies within 1.5 s of its impact."""
    seeds = list(seeds)
    results: list[dict[str, Any]] = []
    for placement in PLACEMENTS:
        for kind in (*FALL_KINDS, *ADL_KINDS):
            hits = 0
            for seed in seeds:
                rec = generate(kind, placement=placement, hz=hz, rng=np.random.default_rng(seed))
                found = stream(rec.samples, hz, config=config, window_s=window_s)
                if rec.label == "fall" and rec.event_s is not None:
                    at = [(d.ts - _START).total_seconds() for d in found]
                    hits += any(abs(t - rec.event_s) <= 1.5 for t in at)
                else:
                    hits += bool(found)
            label = "fall" if kind in FALL_KINDS else "adl"
            results.append({"placement": placement, "kind": kind, "label": label, "detected": hits})
    summary: dict[str, Any] = {"seeds": len(seeds), "hz": hz, "kinds": results}
    for placement in PLACEMENTS:
        mine = [r for r in results if r["placement"] == placement]
        falls = sum(r["detected"] for r in mine if r["label"] == "fall")
        adls = sum(r["detected"] for r in mine if r["label"] == "adl")
        summary[placement] = {
            "sensitivity": falls / (len(FALL_KINDS) * len(seeds)),
            "specificity": 1 - adls / (len(ADL_KINDS) * len(seeds)),
        }
    return summary


def _print_sisfall(report: dict[str, Any]) -> None:
    print(f"SisFall subset, {report['window_s']:g} s windows (held out)")
    print(
        f"{'file':<18}{'label':<6}{'peak g':>7}  {'fall?':<6}{'at s':>6}{'impact':>8}"
        f"{'angle':>7}{'std g':>7}{'conf':>6}"
    )
    for r in report["files"]:
        ok = r["detected"] == (r["label"] == "fall")
        mark = "yes" if r["detected"] else "no"
        row = f"{r['file']:<18}{r['label']:<6}{r['peak_g']:>7.2f}  {mark:<6}"
        if r["detected"]:
            row += (
                f"{r['at_s']:>6.2f}{r['impact_g']:>8.2f}{r['orientation_change_deg']:>7.1f}"
                f"{r['stillness_std_g']:>7.3f}{r['confidence']:>6.2f}"
            )
        print(row + ("" if ok else "   <- wrong"))
    print(
        f"sensitivity {report['true_positives']}/{report['falls']} = {report['sensitivity']:.3f}"
        f"   specificity {report['true_negatives']}/{report['adls']} = "
        f"{report['specificity']:.3f}"
    )


def _print_synthetic(report: dict[str, Any]) -> None:
    n = report["seeds"]
    print(f"\nSynthetic design set (device_sim/motion/), {n} seeds, {report['hz']:g} Hz")
    for r in report["kinds"]:
        print(f"  {r['placement']:<6}{r['kind']:<28}{r['label']:<5} detected {r['detected']}/{n}")
    for placement in PLACEMENTS:
        s = report[placement]
        print(
            f"  {placement}: sensitivity {s['sensitivity']:.3f}  specificity {s['specificity']:.3f}"
        )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR)
    parser.add_argument("--window-s", type=float, default=2.0)
    parser.add_argument("--synthetic", type=int, default=0, metavar="N")
    args = parser.parse_args(argv)
    config = FallConfig()
    if not args.data_dir.is_dir() or not any(args.data_dir.glob("*.csv")):
        print(f"SisFall data not found at {args.data_dir}: nothing to evaluate.")
    else:
        _print_sisfall(evaluate_sisfall(args.data_dir, config, window_s=args.window_s))
    if args.synthetic:
        _print_synthetic(
            evaluate_synthetic(config, seeds=range(args.synthetic), window_s=args.window_s)
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
