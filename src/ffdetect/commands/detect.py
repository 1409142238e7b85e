"""``ffdetect detect``: real, fake or uncertain for each image or video, with scores per face."""

from __future__ import annotations

from pathlib import Path

from ffdetect.commands.failures import as_user_errors
from ffdetect.inference.detect_files import DetectRequest, run_detect


def run(
    inputs: list[str],
    model: Path,
    frames: int,
    aligned: bool,
    json_out: Path | None,
    csv_out: Path | None,
    explain: Path | None,
    backend: str,
    onnx: Path | None,
    batch_size: int,
    face_detector: str,
    detect_every: int,
    pipelined: bool,
    progress: bool,
) -> int:
    """Detect every input with ``model``; print the table, write the files asked for.

    Returns 1 when some input could not be read or scored (its row says why), else 0.
    """
    request = DetectRequest(
        inputs, model, frames, aligned, json_out, csv_out, explain, backend, onnx, batch_size,
        face_detector, progress, detect_every, pipelined,
    )  # fmt: skip
    with as_user_errors(FileNotFoundError, ValueError, RuntimeError):
        results = run_detect(request)
    return 1 if any(r.error for r in results) else 0
