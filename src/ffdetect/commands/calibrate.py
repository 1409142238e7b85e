"""``ffdetect calibrate``: threshold, abstention level and gamma chosen on validation videos."""

from __future__ import annotations

from pathlib import Path

import typer

from ffdetect.checkpoint.model_format import read_meta, write_meta
from ffdetect.commands.failures import CommandError, as_user_errors
from ffdetect.evaluation.calibration import calibrate_from_results
from ffdetect.evaluation.evaluate import evaluate_model


def run(
    model: Path,
    results: Path | None,
    data: Path | None,
    split: str,
    target_fpr: float | None,
    c_min: float | None,
    abstain: float,
    gamma: float,
    rule: str | None,
    faces_per_image: int,
) -> None:
    """Calibrate ``model`` on a validation result file, or on ``split`` of ``data`` scored first,
    and store the calibration in the model's metadata."""
    if (results is None) == (data is None):
        raise CommandError("give exactly one of --results or --data")
    with as_user_errors(FileNotFoundError, ValueError):
        meta = read_meta(model)
        if data is not None:
            scored = evaluate_model(model, data, split, Path(model) / "calibration")
            if len(scored) != 1:
                raise CommandError(
                    f"calibrate on one dataset at a time; {split} holds {len(scored)}"
                )
            results = scored[0].results
        if rule is None:
            rule = "eer" if meta.task == "pad" and target_fpr is None else "balanced_accuracy"
        calibration = calibrate_from_results(
            results,
            c_min=c_min,
            target_fpr=target_fpr,
            gamma=gamma,
            c_min_quantile=abstain,
            rule=rule,
            faces_per_image=faces_per_image,
        )
    meta.calibration = calibration
    write_meta(model, meta)
    stats = calibration.stats
    if faces_per_image > 1:
        typer.echo(
            f"target FPR {target_fpr:g} per image of {faces_per_image} real faces: "
            f"{stats['per_face_target_fpr']:.4f} per face"
        )
    typer.echo(
        f"threshold {calibration.threshold:.4f}, c_min {calibration.c_min:.4f}, gamma {gamma} "
        f"({calibration.method} on {stats.get('n_videos')} videos, coverage "
        f"{stats.get('coverage', float('nan')):.3f}); written to {model}"
    )
