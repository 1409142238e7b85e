"""``ffdetect metrics``: video-level metrics of result files (deepfake, or PAD per attack type)."""

from __future__ import annotations

from pathlib import Path

import typer

from ffdetect.commands.failures import CommandError, as_user_errors
from ffdetect.evaluation.metrics import (
    evaluate_results,
    frame_results_path,
    is_frame_results_path,
    read_results,
)
from ffdetect.evaluation.pad_metrics import THRESHOLD_DEV_EER, dev_threshold, pad_report
from ffdetect.evaluation.report import print_table, write_report


def run(
    results: list[Path],
    out: Path | None,
    threshold: float | None,
    c_min: float | None,
    task: str,
    dev: list[Path],
    data: Path | None,
    folds: bool,
) -> None:
    """Print (and with ``out`` write) the metrics of the result files ``results``.

    A frame-level file is read with its video-level file when both are given (a glob).
    """
    siblings = {frame_results_path(p).resolve() for p in results}
    videos = [p for p in results if not (is_frame_results_path(p) and p.resolve() in siblings)]
    if task not in ("deepfake", "pad"):
        raise CommandError(f"--task is deepfake or pad, got {task!r}")
    if task == "pad":
        _pad_metrics(videos, threshold, dev, data, out, c_min, folds)
        return
    if dev or data is not None or folds:
        raise CommandError("--dev, --data and --folds go with --task pad")
    rows = []
    for path in videos:
        result = read_results(path)
        if c_min is not None and result.confidences is None:
            typer.echo(f"note: {path} has no confidence column; --c-min does not apply", err=True)
        rows += evaluate_results(result, threshold=threshold, c_min=c_min)
    print_table(rows)
    if out is not None:
        for written in write_report(rows, out, threshold, c_min):
            typer.echo(f"wrote {written}")


def _pad_metrics(
    paths: list[Path],
    threshold: float | None,
    dev: list[Path],
    data: Path | None,
    out: Path | None,
    c_min: float | None,
    folds: bool,
) -> None:
    """The PAD report of ``ffdetect metrics --task pad``."""
    if threshold is not None and dev:
        raise CommandError("give --threshold or --dev, not both")
    wanted = len(paths) if folds else 1
    if dev and len(dev) != wanted:
        raise CommandError(
            f"give {wanted} --dev file(s) (one per fold with --folds), got {len(dev)}"
        )
    if folds and len(paths) < 2:
        raise CommandError("--folds needs the result files of at least two folds")
    with as_user_errors(FileNotFoundError, ValueError):
        source = "given"
        thresholds = None
        if dev:
            source = THRESHOLD_DEV_EER
            thresholds = [dev_threshold(d) for d in dev]
            if not folds:
                threshold, thresholds = thresholds[0], None
        results = [read_results(p) for p in paths]
        pad_report(
            results,
            threshold=threshold,
            threshold_source=source,
            prepared=data,
            out=out,
            c_min=c_min,
            thresholds=thresholds,
            folds=folds,
        )
