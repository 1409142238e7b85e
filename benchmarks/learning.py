"""Prove it learns: tiny models on the offline self-blended task, with and without calibration.

    python benchmarks/learning.py [--seeds 0 1] [--epochs 10] [--jobs 2] [--out FILE.md]
                                  [--keep DIR]

Builds the task of :mod:`ffdetect.synthesis.lfw_task` (scikit-image's 100 LFW faces at their
native scale, 32 px; 4 real and 4 self-blended "videos" per identity; identities split 60/20/20),
fine-tunes the tiny competitive and the tiny baseline configs with the same budget and seeds
(``TASK_OVERRIDES``: 32 px input, no augmentation), and scores the held-out test identities:

* calibration off: plain mean of frame p_fake (gamma 0), threshold 0.5, no abstention;
* calibration on: ``ffdetect calibrate`` on the validation videos (balanced-accuracy threshold,
  confidence weights gamma 1, abstention on at most 10% of validation videos).
"""

from __future__ import annotations

import argparse
import datetime as dt
import multiprocessing
import platform
import shutil
import statistics
import sys
import tempfile
import textwrap
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import torch

from ffdetect.config import load_config
from ffdetect.evaluation.calibration import aggregate_frames, calibrate_from_results, decide
from ffdetect.evaluation.evaluate import evaluate_model
from ffdetect.evaluation.metrics import (
    accuracy_at,
    compute_metrics,
    frame_results_path,
    read_frame_results,
)
from ffdetect.synthesis.lfw_task import (
    BENCHMARK_TASK,
    BENCHMARK_TRAIN_OVERRIDES,
    build_self_blended_task,
)
from ffdetect.train.config import TrainConfig
from ffdetect.train.data import prepared_datasets
from ffdetect.train.run import train

ROOT = Path(__file__).resolve().parents[1]
TASK = BENCHMARK_TASK
TASK_OVERRIDES = list(BENCHMARK_TRAIN_OVERRIDES)


def video_level(frames_csv: Path, gamma: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Video labels, scores and confidences from a frame-level result file."""
    frames = read_frame_results(frames_csv)
    names, scores, confs = aggregate_frames(frames.videos, frames.scores, frames.confidences, gamma)
    label_of = dict(zip(frames.videos, frames.labels.tolist(), strict=True))
    return np.array([label_of[n] for n in names]), scores, confs


def keep_results(run_dir: Path, keep: Path) -> Path:
    """Copy a run's validation and test result files to ``keep/<run name>/``; returns it."""
    target = keep / run_dir.name
    target.mkdir(parents=True, exist_ok=True)
    sources = {
        "val": run_dir / "val_results.csv",
        "test": run_dir / "test" / "selfblend-lfw.csv",
    }
    for name, source in sources.items():
        shutil.copyfile(source, target / f"{name}.csv")
        shutil.copyfile(frame_results_path(source), target / f"{name}_frames.csv")
    return target


def run_one(
    method: str, seed: int, epochs: int, task: Path, work: Path, keep: Path | None = None
) -> dict:
    """Train one model, calibrate it on val, score test; returns the row of the results table.

    With ``keep``, the run's validation and test result files are copied there
    (:func:`keep_results`).
    """
    torch.set_num_threads(1)  # jobs run side by side, one core each
    overrides = [*TASK_OVERRIDES, f"run.seed={seed}", f"schedule.epochs={epochs}"]
    cfg = load_config(TrainConfig, ROOT / "configs" / f"tiny-{method}.yaml", overrides)
    run_dir = work / f"{method}-seed{seed}"
    started = time.perf_counter()
    train_set, val_set = prepared_datasets(cfg, task)
    train(cfg, train_set, val_set, run_dir)
    train_s = time.perf_counter() - started
    calibration = calibrate_from_results(run_dir / "val_results.csv", gamma=1.0, c_min_quantile=0.1)
    evaluate_model(run_dir / "model", task, "test", run_dir / "test", num_workers=0)
    frames_csv = run_dir / "test" / "selfblend-lfw_frames.csv"
    if keep is not None:
        keep_results(run_dir, keep)

    labels, plain, _ = video_level(frames_csv, gamma=0.0)
    off = compute_metrics(labels, plain)
    labels, weighted, confs = video_level(frames_csv, gamma=calibration.gamma)
    on = compute_metrics(
        labels, weighted, confs, threshold=calibration.threshold, c_min=calibration.c_min
    )
    verdicts = [decide(s, c, calibration) for s, c in zip(weighted, confs, strict=True)]
    return {
        "method": method,
        "seed": seed,
        "auc": off.auc,
        "auc_weighted": on.auc,
        "acc_05": off.acc_05,
        "acc_t": accuracy_at(labels, weighted, calibration.threshold),
        "threshold": calibration.threshold,
        "c_min": calibration.c_min,
        "coverage": on.coverage,
        "confident_acc": on.confident_acc,
        "uncertain": verdicts.count("uncertain"),
        "train_s": train_s,
    }


def mean_sd(values: list[float]) -> str:
    if len(values) == 1:
        return f"{values[0]:.3f}"
    return f"{statistics.mean(values):.3f} ± {statistics.stdev(values):.3f}"


def report(rows: list[dict], args: argparse.Namespace, elapsed: float, n_test: int) -> str:
    cols = [
        ("auc", "test video AUC"),
        ("acc_05", "ACC@0.5 (calib. off)"),
        ("auc_weighted", "AUC, conf-weighted"),
        ("acc_t", "ACC@t* (calib. on)"),
        ("coverage", "coverage"),
        ("confident_acc", "ACC of confident"),
    ]
    task = (
        "Task: scikit-image's 100 grey 25 px LFW faces at 32 px; each identity has 4 real and 4 "
        "self-blended fake 'videos' of 4 jittered views each (blend inside a soft ellipse with "
        "brightness/contrast, scale/shift and blur/sharpen jitter at strength "
        f"{TASK['strength']}, i.e. brightness x(1 +- 0.3), offset +-36, scale 1 +- 0.15, shift "
        "+-6%, identical in all channels, so no colour cue). Identities split 60/20/20; the test "
        f"split has {n_test} videos of unseen identities. Models: configs/tiny-competitive.yaml "
        f"and configs/tiny-baseline.yaml with {' '.join(TASK_OVERRIDES)}, {args.epochs} epochs "
        "of 60 steps of 32 faces, same seeds. Calibration: threshold maximising balanced "
        "accuracy on validation videos, gamma 1, abstention on at most 10% of validation videos."
    )
    lines = [
        "# Learning benchmark: tiny models on the self-blended LFW task",
        "",
        f"Date {dt.date.today()}, {platform.machine()}, {args.jobs} runs side by side (1 thread "
        "each), "
        f"Python {platform.python_version()}, torch {torch.__version__}; "
        f"wall time {elapsed / 60:.1f} min.",
        "",
        "Command:",
        "",
        "```",
        "python benchmarks/learning.py " + " ".join(sys.argv[1:]),
        "```",
        "",
        *textwrap.wrap(task, 98),
        "",
        "| method | seed | " + " | ".join(c[1] for c in cols) + " | t* | c_min | train s |",
        "| --- | --- | " + " | ".join("---" for _ in cols) + " | --- | --- | --- |",
    ]
    for r in rows:
        cells = " | ".join(f"{r[k]:.3f}" if r[k] is not None else "n/a" for k, _ in cols)
        extra = f"{r['threshold']:.3f} | {r['c_min']:.3f} | {r['train_s']:.0f}"
        lines.append(f"| {r['method']} | {r['seed']} | {cells} | {extra} |")
    lines += ["", "Mean ± standard deviation over seeds:", ""]
    lines.append("| method | " + " | ".join(c[1] for c in cols) + " |")
    lines.append("| --- | " + " | ".join("---" for _ in cols) + " |")
    for method in dict.fromkeys(r["method"] for r in rows):
        sub = [r for r in rows if r["method"] == method]
        lines.append(
            f"| {method} | " + " | ".join(mean_sd([r[k] for r in sub]) for k, _ in cols) + " |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--methods", nargs="+", default=["competitive", "baseline"])
    parser.add_argument("--jobs", type=int, default=2, help="runs side by side (1 core each)")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "learning.md")
    parser.add_argument(
        "--keep", type=Path, default=None, help="keep each run's val/test result files here"
    )
    args = parser.parse_args()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="ffdetect-learning-") as tmp:
        work = Path(tmp)
        build_self_blended_task(work / "task", seed=0, **TASK)
        keep = None if args.keep is None else args.keep.resolve()
        jobs = [
            (m, seed, args.epochs, work / "task", work, keep)
            for m in args.methods
            for seed in args.seeds
        ]
        ctx = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=args.jobs, mp_context=ctx) as pool:
            rows = list(pool.map(run_one, *zip(*jobs, strict=True)))
        for row in rows:
            print({k: round(v, 4) if isinstance(v, float) else v for k, v in row.items()})
        videos = (work / "task" / "videos.csv").read_text().splitlines()
        n_test = sum(1 for line in videos if ",test," in line)
    text = report(rows, args, time.perf_counter() - started, n_test)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
