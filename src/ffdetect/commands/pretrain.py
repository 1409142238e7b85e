"""``ffdetect pretrain``: masked image modelling on real faces; exports the backbone."""

from __future__ import annotations

import contextlib
from pathlib import Path

import typer

from ffdetect.commands.failures import as_user_errors
from ffdetect.config import job_overrides, load_config
from ffdetect.pretrain.config import PretrainConfig
from ffdetect.pretrain.data import real_face_paths
from ffdetect.pretrain.run import pretrain
from ffdetect.train.batches import planned_steps
from ffdetect.train.distributed import launched_as_main, launched_world_size
from ffdetect.train.progress import StepProgress


def run(
    config: Path,
    data: Path,
    out: Path,
    init: str | None,
    resume: bool,
    max_steps: int | None,
    overrides: list[str] | None,
) -> None:
    """Pre-train as ``config`` (with ``key=value`` ``overrides``) says on the faces of ``data``."""
    with as_user_errors(FileNotFoundError, ValueError):
        cfg = load_config(PretrainConfig, config, job_overrides(overrides or [], init, max_steps))
        faces = real_face_paths(data, cfg.data.splits, cfg.data.frames_per_video)
    steps = planned_steps(
        len(faces),
        cfg.data.batch_size,
        "real faces",
        cfg.schedule.epochs,
        cfg.run.max_steps,
        launched_world_size(),
    )
    is_main = launched_as_main()
    if is_main:
        typer.echo(
            f"pre-training {cfg.model.size} ({cfg.target.kind} target, "
            f"{cfg.mask.ratio:.0%} masked) on {len(faces)} real faces: {steps} steps"
        )
    bar = StepProgress(steps, "pretrain") if is_main else contextlib.nullcontext()
    with as_user_errors(FileExistsError, ValueError), bar as progress:
        result = pretrain(cfg, faces, out, resume=resume, progress=progress)
    if is_main:
        loss = "" if result.last_loss is None else f", last epoch loss {result.last_loss:.4f}"
        typer.echo(f"exported {result.model_dir} after {result.steps} steps{loss}")
