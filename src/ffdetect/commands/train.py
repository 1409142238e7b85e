"""``ffdetect train``: fine-tune a detector on a prepared directory; exports RUN_DIR/model."""

from __future__ import annotations

import contextlib
from pathlib import Path

import typer

from ffdetect.commands.failures import as_user_errors
from ffdetect.config import job_overrides, load_config
from ffdetect.train.batches import planned_steps
from ffdetect.train.config import TrainConfig, recipe_warnings
from ffdetect.train.data import prepared_datasets
from ffdetect.train.distributed import launched_as_main, launched_world_size
from ffdetect.train.progress import StepProgress
from ffdetect.train.run import train


def run(
    config: Path,
    data: Path,
    out: Path,
    init: str | None,
    resume: bool,
    max_steps: int | None,
    task: str | None,
    overrides: list[str] | None,
) -> None:
    """Train as ``config`` (with ``key=value`` ``overrides``) says on ``data`` into ``out``.

    Under torchrun only rank 0 prints (the summary, the progress bar, warnings, "exported").
    """
    extra = [f"task={task}"] if task is not None else []
    with as_user_errors(FileNotFoundError, ValueError):
        cfg = load_config(
            TrainConfig, config, job_overrides([*(overrides or []), *extra], init, max_steps)
        )
        train_set, val_set = prepared_datasets(cfg, data)
    steps = planned_steps(
        len(train_set),
        cfg.data.batch_size,
        "training faces",
        cfg.schedule.epochs,
        cfg.run.max_steps,
        launched_world_size(),
    )
    is_main = launched_as_main()
    if is_main:
        for warning in recipe_warnings(cfg):
            typer.secho(f"warning: {warning}", err=True, fg=typer.colors.YELLOW)
        typer.echo(
            f"{cfg.method} {cfg.model.size}: {len(train_set)} training faces, "
            f"{len(val_set) if val_set else 0} validation faces, {steps} steps"
        )
    bar = StepProgress(steps) if is_main else contextlib.nullcontext()
    with as_user_errors(FileExistsError), bar as progress:
        result = train(cfg, train_set, val_set, out, resume=resume, progress=progress)
    best = (
        ""
        if result.best_epoch is None
        else f" (best epoch {result.best_epoch}: {result.best_value:.4f})"
    )
    if is_main:
        typer.echo(f"exported {result.model_dir}{best}")
