"""``ffdetect evaluate``: score a prepared split, write result CSVs per dataset, then metrics."""

from __future__ import annotations

from pathlib import Path

import typer

from ffdetect.checkpoint.model_format import read_meta
from ffdetect.commands.failures import CommandError, as_user_errors
from ffdetect.evaluation.evaluate import confidence_weighted, evaluate_model, evaluation_rows
from ffdetect.evaluation.metrics import read_results
from ffdetect.evaluation.pad_metrics import pad_report, threshold_source_of
from ffdetect.evaluation.report import print_table, write_report


def run(
    model: Path,
    data: Path,
    out: Path,
    split: str,
    frames: int | None,
    batch_size: int,
    workers: int,
    task: str | None,
) -> None:
    """Score ``split`` of ``data`` with ``model`` into ``out``; print and write the metrics of
    ``task`` (default: the model's)."""
    if task not in (None, "deepfake", "pad"):
        raise CommandError(f"--task is deepfake or pad, got {task!r}")
    with as_user_errors(FileNotFoundError, ValueError):
        meta = read_meta(model)
        calibration = meta.calibration
        done = evaluate_model(model, data, split, out, frames, batch_size, workers)
    for item in done:
        typer.echo(f"{item.name}: {item.videos} videos, {item.frames} faces -> {item.results}")
    if (task or meta.task) == "pad":
        calibrated = calibration.method != "default"
        pad_report(
            [confidence_weighted(read_results(item.results), calibration.gamma) for item in done],
            threshold=calibration.threshold if calibrated else None,
            threshold_source=threshold_source_of(calibration.method),
            prepared=data,
            out=out,
            c_min=calibration.c_min,
        )
        return
    rows = evaluation_rows([item.results for item in done], calibration)
    print_table(rows)
    write_report(rows, out, calibration.threshold, calibration.c_min, gamma=calibration.gamma)
