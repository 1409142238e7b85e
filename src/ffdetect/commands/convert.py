"""``ffdetect convert``: a foreign checkpoint (BEiT v2, the authors' detector) -> ffdetect model."""

from __future__ import annotations

from pathlib import Path

import typer

from ffdetect.checkpoint.convert import convert_checkpoint
from ffdetect.checkpoint.model_format import save_model


def run(src: Path, out: Path, size: str | None, main_only: bool, shared_rel_pos: str) -> None:
    """Convert ``src`` strictly and save the model in ``out``; prints what was read and written.

    Every refused or unreadable file is a :class:`~ffdetect.errors.UserError` naming ``src``.
    """
    result = convert_checkpoint(src, size=size, main_only=main_only, shared_rel_pos=shared_rel_pos)
    save_model(result.model, result.meta, out)
    arch = result.meta.architecture
    typer.echo(f"read {src} ({result.layout})")
    for note in result.notes:
        typer.echo(f"  - {note}")
    typer.echo(f"wrote {result.meta.kind} model ({arch.size}, {arch.img_size}px) to {out}")
