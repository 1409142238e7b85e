"""The confidence-based decision, measured: accuracy, selection, calibration, with intervals.

    python benchmarks/decision.py --label NAME --val VAL_frames.csv --test TEST_frames.csv
                                  [--label NAME2 --val ... --test ...]
                                  --out results/X.md --plots DIR [--draws 1000] [--seed 0]

Each ``--label/--val/--test`` triple is one model: its validation and test frame results
(``<dataset>_frames.csv`` as ``ffdetect evaluate`` or training writes them). For each model and
each level (videos scored with gamma 0 and with gamma 1, and single frames) the rule is fixed on
validation and measured on test by :func:`ffdetect.evaluation.decision.analyse`: ACC at 0.5, at
``t*`` and at the oracle threshold, AUC, risk-coverage curves and AURC of several selection
scores, errors at 80%/90% coverage, the validation-chosen abstention, ECE and Brier of the
confidence and of ``p_fake`` (raw and temperature-scaled), all with bootstrap 95% intervals over
test videos. Writes the markdown file and two PNGs per model and level.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import os
import platform
import re
import shlex
import sys
import time
from pathlib import Path

from ffdetect.evaluation.decision import (
    COVERAGES,
    DEFAULT_BINS,
    DEFAULT_C_MIN_QUANTILE,
    DEFAULT_DRAWS,
    DEFAULT_SEED,
    SELECTIONS,
    Analysis,
    analyse_frames,
    plot_reliability,
    plot_risk_coverage,
)
from ffdetect.evaluation.metrics import read_frame_results

SELECTION_NAMES = {
    "confidence": "evidential confidence 1-u",
    "max_prob": "max(p, 1-p)",
    "temperature": "max(q, 1-q), q temperature-scaled",
    "margin": "distance to t*, abs(p - t*)",
}


def versions() -> str:
    """Versions of the libraries the figures depend on."""
    out = [f"Python {platform.python_version()}"]
    for name in ("numpy", "scipy", "sklearn", "matplotlib", "torch", "ffdetect"):
        try:
            out.append(f"{name} {getattr(importlib.import_module(name), '__version__', '?')}")
        except ImportError:
            out.append(f"{name} not installed")
    return ", ".join(out)


def fmt(analysis: Analysis, key: str) -> str:
    """``point [lo, hi]`` with 3 decimals (``n/a`` for nan)."""
    value = analysis.point[key]
    if value != value:
        return "n/a"
    lo, hi = analysis.intervals.get(key, (float("nan"), float("nan")))
    if lo != lo:
        return f"{value:.3f}"
    return f"{value:.3f} [{lo:.3f}, {hi:.3f}]"


def slug(text: str) -> str:
    """File-name-safe form of a label."""
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")


def summary_table(models: dict[str, dict[str, Analysis]]) -> list[str]:
    """One row per model and level: the headline figures."""
    head = [
        "model",
        "level",
        "AUC",
        "ACC@0.5",
        "ACC@t*",
        "ACC@oracle",
        "error (t*, all kept)",
        "AURC conf",
        "AURC max-prob",
        "AURC optimal",
        "error@0.8 conf",
        "ECE conf",
        "ECE p_fake",
        "ECE p_fake (T)",
    ]
    keys = [
        "auc",
        "acc_05",
        "acc_t",
        "acc_oracle",
        "error",
        "aurc_confidence",
        "aurc_max_prob",
        "aurc_optimal",
        "error_confidence@0.8",
        "ece_conf",
        "ece_p",
        "ece_temp",
    ]
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    for label, analyses in models.items():
        for level, a in analyses.items():
            cells = " | ".join(fmt(a, k) for k in keys)
            lines.append(f"| {label} | {level} | {cells} |")
    return lines


def _link(path: Path, md_dir: Path) -> str:
    return Path(os.path.relpath(path.resolve(), md_dir.resolve())).as_posix()


def analysis_section(label: str, level: str, a: Analysis, plots: Path, md_dir: Path) -> list[str]:
    """Markdown of one model at one level; its two plots go to ``plots``, linked from ``md_dir``."""
    name = f"{slug(label)}_{slug(level)}"
    title = f"{label}, {level} (test, n = {a.n_items})"
    rc = plot_risk_coverage(
        a.curves, plots / f"decision_{name}_risk_coverage.png", title, a.point["error"]
    )
    rel = plot_reliability(a.reliability, plots / f"decision_{name}_reliability.png", title)
    rule = a.rule
    unit = "videos" if a.level == "video" else f"frames of {a.n_videos} videos"
    lines = [
        f"### {label}: {level}",
        "",
        f"Test: {a.n_items} {unit}. Chosen on validation: t* = {rule.threshold:.4f} "
        f"(balanced accuracy over the {1 - rule.c_min_quantile:.0%} most confident), "
        f"temperature T = {rule.temperature:.3f}; oracle threshold on test "
        f"{a.oracle_threshold:.4f}. Test confidence 1-u: mean {fmt(a, 'conf_mean')}, "
        f"standard deviation {fmt(a, 'conf_sd')}.",
        "",
        "| AUC | ACC@0.5 | ACC@t* | ACC@oracle |",
        "| --- | --- | --- | --- |",
        f"| {fmt(a, 'auc')} | {fmt(a, 'acc_05')} | {fmt(a, 'acc_t')} | {fmt(a, 'acc_oracle')} |",
        "",
        "Selective prediction at t* (risk = error rate of the kept items; random selection's "
        f"expected AURC = error with all kept = {fmt(a, 'error')}; optimal AURC "
        f"{fmt(a, 'aurc_optimal')}). Abstention: the cut that abstains on "
        f"{rule.c_min_quantile:.0%} of validation items, applied to test. Deltas are paired "
        "(same resamples); a delta whose interval lies below 0 is a real improvement.",
        "",
        "| selection score | AURC | AURC - random | "
        + " | ".join(f"error@{c:g} | delta@{c:g}" for c in COVERAGES)
        + " | abstain: cut | coverage | error of kept | delta |",
        "|" + " --- |" * (7 + 2 * len(COVERAGES)),
    ]
    for sel in SELECTIONS:
        cov = " | ".join(
            f"{fmt(a, f'error_{sel}@{c:g}')} | {fmt(a, f'delta_error_{sel}@{c:g}')}"
            for c in COVERAGES
        )
        lines.append(
            f"| {SELECTION_NAMES[sel]} | {fmt(a, f'aurc_{sel}')} | "
            f"{fmt(a, f'delta_aurc_{sel}_vs_random')} | {cov} | {rule.cuts[sel]:.4f} | "
            f"{fmt(a, f'abstain_coverage_{sel}')} | {fmt(a, f'abstain_error_{sel}')} | "
            f"{fmt(a, f'delta_abstain_error_{sel}')} |"
        )
    lines += [
        "",
        f"AURC(confidence) - AURC(max-prob): {fmt(a, 'delta_aurc_confidence_vs_max_prob')}.",
        "",
        f"Calibration ({a.bins} equal-width bins):",
        "",
        "| predictor | of | ECE | Brier | Brier of the best constant |",
        "| --- | --- | --- | --- | --- |",
        f"| confidence 1-u | decision at t* correct | {fmt(a, 'ece_conf')} | "
        f"{fmt(a, 'brier_conf')} | {fmt(a, 'brier_conf_constant')} |",
        f"| p_fake | label | {fmt(a, 'ece_p')} | {fmt(a, 'brier_p')} | "
        f"{fmt(a, 'brier_p_constant')} |",
        f"| p_fake, temperature-scaled (T = {rule.temperature:.3f}) | label | "
        f"{fmt(a, 'ece_temp')} | {fmt(a, 'brier_temp')} | {fmt(a, 'brier_p_constant')} |",
        "",
        f"![risk-coverage]({_link(rc, md_dir)}) ![reliability]({_link(rel, md_dir)})",
        "",
    ]
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--label", action="append", required=True, help="model name (repeat)")
    parser.add_argument("--val", action="append", type=Path, required=True, help="val frames")
    parser.add_argument("--test", action="append", type=Path, required=True, help="test frames")
    parser.add_argument("--out", type=Path, required=True, help="markdown results file")
    parser.add_argument("--plots", type=Path, required=True, help="folder for the PNGs")
    parser.add_argument("--draws", type=int, default=DEFAULT_DRAWS)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--bins", type=int, default=DEFAULT_BINS)
    parser.add_argument("--c-min-quantile", type=float, default=DEFAULT_C_MIN_QUANTILE)
    parser.add_argument("--title", default="The confidence-based decision, measured")
    parser.add_argument("--about", default="", help="a sentence on where the results come from")
    args = parser.parse_args()
    if not len(args.label) == len(args.val) == len(args.test):
        parser.error("give one --val and one --test per --label")
    started = time.perf_counter()
    models: dict[str, dict[str, Analysis]] = {}
    sections: list[str] = []
    inputs: list[str] = []
    for label, val_path, test_path in zip(args.label, args.val, args.test, strict=True):
        analyses = analyse_frames(
            read_frame_results(val_path),
            read_frame_results(test_path),
            c_min_quantile=args.c_min_quantile,
            bins=args.bins,
            draws=args.draws,
            seed=args.seed,
        )
        models[label] = analyses
        inputs.append(f"- {label}: validation `{val_path}`, test `{test_path}`")
        for level, analysis in analyses.items():
            sections += analysis_section(label, level, analysis, args.plots, args.out.parent)
        print(f"{label}: done ({time.perf_counter() - started:.0f} s)", flush=True)
    lines = [
        f"# {args.title}",
        "",
        f"- date: {dt.datetime.now().astimezone().isoformat(timespec='seconds')}",
        "- command: `python benchmarks/decision.py " + shlex.join(sys.argv[1:]) + "`",
        f"- versions: {versions()}",
        f"- wall time: {time.perf_counter() - started:.0f} s",
        "",
        *([args.about, ""] if args.about else []),
        "Inputs (per-frame results):",
        "",
        *inputs,
        "",
        "Definitions (`ffdetect.evaluation.decision`): the rule is fixed on validation and "
        "measured on test. t* = `calibrate` (balanced accuracy, over the validation items "
        f"with confidence >= c_min, c_min abstaining on {args.c_min_quantile:.0%} of them). "
        "Video score and confidence: frame means weighted by conf ** gamma; frame level: each "
        "face on its own. Risk = error rate at t* of the kept items, kept in falling order of "
        "the selection score (ties spread evenly); AURC = mean risk over k = 1..n. The "
        "temperature-scaled probability orders items exactly as max(p, 1-p) does (T > 0), so "
        f"its AURC is the same by construction. ECE: {args.bins} equal-width bins. "
        f"Intervals: bootstrap percentile 95%, {args.draws} resamples of test videos (a "
        f"video brings all its frames), seed {args.seed}, rule held fixed. ECE and the "
        "oracle accuracy are biased upward on resamples (repeated items leave fewer distinct "
        "ones per bin; the oracle threshold is re-chosen on each), so their intervals sit "
        "above the point estimate: read them as spread. Brier of the best constant: the "
        "observed rate r gives r(1 - r), what a predictor without information reaches.",
        "",
        "## Summary",
        "",
        *summary_table(models),
        "",
        "## Details",
        "",
        *sections,
    ]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
