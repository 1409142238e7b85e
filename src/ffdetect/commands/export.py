"""``ffdetect export``: the deployed detector as ONNX, checked against PyTorch."""

from __future__ import annotations

from pathlib import Path

import typer

from ffdetect.checkpoint.model_format import load_detector
from ffdetect.commands.failures import as_user_errors
from ffdetect.inference.onnx_backend import OnnxExportError, export_onnx


def run(model: Path, onnx: Path, exporter: str) -> None:
    """Write ``model``'s detector to the ONNX file ``onnx`` with ``exporter`` (auto, dynamo or
    legacy); prints the largest difference to PyTorch."""
    with as_user_errors(FileNotFoundError, OnnxExportError, KeyError):
        detector, meta = load_detector(model)
        path, used, diff = export_onnx(detector, meta, onnx, exporter)
    typer.echo(f"wrote {path} ({used} exporter; max |p_fake difference| to PyTorch {diff:.1e})")
