"""The body of ``ffdetect pretrain`` (the verb in :mod:`ffdetect.cli` only parses options)."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import typer

from ffdetect.checkpoint.model_format import ModelFormatError
from ffdetect.checkpoint.safe_load import UnsafeCheckpointError
from ffdetect.config import ConfigError, job_overrides, load_config
from ffdetect.pretrain.config import PretrainConfig
from ffdetect.pretrain.data import real_face_paths
from ffdetect.pretrain.run import pretrain
from ffdetect.train.progress import StepProgress


def run_pretrain_command(
    config: Path,
    data: Path,
    out: Path,
    init: str | None,
    resume: bool,
    max_steps: int | None,
    overrides: list[str],
) -> str | None:
    """Run the pre-training job; returns an error message for the user, or None on success."""
    try:
        cfg = load_config(PretrainConfig, config, job_overrides(overrides, init, max_steps))
        faces = real_face_paths(data, cfg.data.splits, cfg.data.frames_per_video)
    except (ConfigError, FileNotFoundError, ValueError) as exc:
        return str(exc)
    steps = cfg.schedule.epochs * (len(faces) // cfg.data.batch_size)
    if cfg.run.max_steps is not None:
        steps = min(steps, cfg.run.max_steps)
    is_main = int(os.environ.get("RANK", "0")) == 0
    if is_main:
        typer.echo(
            f"pre-training {cfg.model.size} ({cfg.target.kind} target, "
            f"{cfg.mask.ratio:.0%} masked) on {len(faces)} real faces: {steps} steps"
        )
    bar = StepProgress(steps, "pretrain") if is_main else contextlib.nullcontext()
    try:
        with bar as progress:
            result = pretrain(cfg, faces, out, resume=resume, progress=progress)
    except (FileExistsError, ModelFormatError, UnsafeCheckpointError, ValueError) as exc:
        return str(exc)
    if is_main:
        loss = "" if result.last_loss is None else f", last epoch loss {result.last_loss:.4f}"
        typer.echo(f"exported {result.model_dir} after {result.steps} steps{loss}")
    return None
