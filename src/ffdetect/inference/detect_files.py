"""The work behind ``ffdetect detect``: inputs in, table / JSON / CSV / explanations out."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from ffdetect.inference.explain import write_bytes
from ffdetect.inference.inputs import expand_inputs
from ffdetect.inference.pipeline import DetectionPipeline, DetectOptions
from ffdetect.inference.results import (
    DetectionResult,
    print_results,
    results_csv,
    results_json,
    write_text,
)


@dataclass
class DetectRequest:
    """The command line of ``detect``."""

    inputs: list[str]
    model: Path
    frames: int = 32
    aligned: bool = False
    json_path: Path | None = None
    csv_path: Path | None = None
    explain_dir: Path | None = None
    backend: str = "torch"
    onnx_file: Path | None = None
    batch_size: int = 32
    face_detector: str = "mtcnn"
    progress: bool = True
    detect_every: int = 4
    pipelined: bool = True


def _explain_folder(root: Path, path: str, used: set[str]) -> Path:
    stem = re.sub(r"[^A-Za-z0-9._-]", "_", Path(path).name) or "input"
    name, n = stem, 1
    while name in used:
        n += 1
        name = f"{stem}-{n}"
    used.add(name)
    return root / name


def run_detect(request: DetectRequest, console: Console | None = None) -> list[DetectionResult]:
    """Detect every input; prints the table and writes the requested files.

    Raises ``FileNotFoundError`` / ``ModelFormatError`` / ``ValueError`` when the model cannot be
    loaded or no input was given; an unreadable input is reported in its result instead.
    """
    console = console or Console()
    options = DetectOptions(
        frames=request.frames,
        aligned=request.aligned,
        batch_size=request.batch_size,
        detect_every=request.detect_every,
        pipelined=request.pipelined,
    )
    pipeline = DetectionPipeline.from_model(
        request.model, options, request.backend, request.onnx_file, request.face_detector
    )
    paths = expand_inputs(request.inputs)
    if not paths:
        raise ValueError(f"no image or video found in {' '.join(request.inputs)}")
    results: list[DetectionResult] = []
    used: set[str] = set()
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        disable=not request.progress,
    ) as bar:
        for path in paths:
            task = bar.add_task(f"{path.name}", total=None)

            def update(done: int, total: int, task: int = task) -> None:
                bar.update(task, completed=done, total=total)

            result = pipeline.run(path, progress=update)
            bar.remove_task(task)
            results.append(result)
            if request.explain_dir is not None and result.faces:
                folder = _explain_folder(request.explain_dir, str(path), used)
                for name, png in pipeline.explain(result).items():
                    write_bytes(folder / name, png)
                result.explanations = {"folder": str(folder)}
    print_results(results, console)
    if request.json_path is not None:
        write_text(request.json_path, results_json(results, pipeline.model_info()))
        console.print(f"wrote {request.json_path}")
    if request.csv_path is not None:
        write_text(request.csv_path, results_csv(results))
        console.print(f"wrote {request.csv_path}")
    if request.explain_dir is not None:
        console.print(f"explanations (heat maps, score plots) in {request.explain_dir}/")
    return results
