"""The ``ffdetect`` command line: one verb per stage of the workflow."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import click
import typer
from typer.core import TyperGroup

from ffdetect.errors import USER_ERROR_EXIT, UserError


class _Verbs(TyperGroup):
    """The verbs' group: a :class:`~ffdetect.errors.UserError` raised by any verb is printed as one
    line on stderr with exit status 2, never a traceback."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except UserError as exc:
            typer.secho(f"error: {exc}", err=True, fg=typer.colors.RED)
            raise typer.Exit(USER_ERROR_EXIT) from None  # typer's Exit: it vendors click


app = typer.Typer(
    name="ffdetect",
    cls=_Verbs,
    help="Face forgery detection: prepare data, pre-train, train, calibrate, evaluate, detect.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
)


def _run(verb: str, options: dict[str, Any]) -> None:
    """Call ``ffdetect.commands.<verb>.run(**options)`` (imported only now, so that ``--help``
    stays fast) and exit with the status it returns, if any."""
    code = importlib.import_module(f"ffdetect.commands.{verb}").run(**options)
    if code:
        raise typer.Exit(code)


@app.command()
def convert(
    src: Path = typer.Argument(..., help="Foreign checkpoint: BEiT v2 or the authors' detector."),
    out: Path = typer.Option(..., "--out", help="Directory to write the ffdetect model into."),
    size: str | None = typer.Option(None, help="Expected size (tiny/small/base); checked only."),
    main_only: bool = typer.Option(False, help="Two-branch file: keep only the main branch."),
    shared_rel_pos: str = typer.Option(
        "copy",
        "--shared-rel-pos",
        help="A shared relative position table: copy into every block (default), or zero "
        "(the authors' strict=False load, which left every block's table at zero).",
    ),
) -> None:
    """Import a BEiT v2 pre-training checkpoint or the authors' fine-tuned detector, strictly.

    Files in torch's zip and legacy formats load without running code from them; OmegaConf and
    argparse configs inside become inert placeholders. A refused or unreadable file is one
    error line (exit status 2).
    """
    _run("convert", locals())


@app.command()
def info(model: Path = typer.Argument(..., help="An ffdetect model directory.")) -> None:
    """Print a model's architecture, parameter count, calibration and provenance."""
    _run("info", locals())


@app.command()
def metrics(
    results: list[Path] = typer.Argument(
        ..., help="Result CSVs `video,label,predict[,confidence]` (one per dataset)."
    ),
    out: Path | None = typer.Option(
        None, "--out", help="Directory for metrics.md, metrics.json and roc.png."
    ),
    threshold: float | None = typer.Option(
        None,
        "--threshold",
        help="Calibrated threshold: also report ACC at it (--task pad: APCER, BPCER, ACER, "
        "HTER at it).",
    ),
    c_min: float | None = typer.Option(
        None,
        "--c-min",
        help="Confidence floor: report coverage and confident-subset ACC (PAD: figures).",
    ),
    task: str = typer.Option(
        "deepfake", "--task", help="deepfake, or pad: APCER/BPCER/ACER/HTER per attack type."
    ),
    dev: list[Path] = typer.Option(
        [],
        "--dev",
        help="PAD: development results; the threshold is their EER threshold (with --folds: "
        "one --dev per fold, in order).",
    ),
    data: Path | None = typer.Option(
        None, "--data", help="PAD: prepared directory whose videos.csv gives attack types."
    ),
    folds: bool = typer.Option(
        False, "--folds", help="PAD: the result files are folds of one protocol: mean +- std."
    ),
) -> None:
    """Video-level AUC, AP, EER, ACC, ... of result files (FF++ per manipulation too).

    With --task pad: APCER, BPCER, ACER, HTER at the development threshold (--dev or
    --threshold; else the test EER threshold, as the report says), EER and AUC, per attack type;
    with --folds (OULU-NPU protocols 3 and 4) also their mean +- std over the folds.
    """
    _run("metrics", locals())


@app.command()
def prepare(
    root: Path | None = typer.Argument(None, help="Dataset root (not needed with --merge)."),
    dataset: str = typer.Option(
        "folder",
        "--dataset",
        help="ffpp, celebdf, dfdc, dfdcp, ffiw, folder (real/ + fake/); PAD: oulu, casia, "
        "replay, msu, folder --task pad (real/ + attack/).",
    ),
    out: Path = typer.Option(..., "--out", help="Output folder: faces/, manifest.csv, videos.csv."),
    frames: int = typer.Option(8, "--frames", min=1, help="Faces per video (evenly sampled)."),
    size: int = typer.Option(224, "--size", min=16, help="Crop size in pixels."),
    scale: float = typer.Option(1.3, "--scale", min=0.5, help="Margin: crop = scale x face box."),
    align: str = typer.Option(
        "similarity", "--align", help="similarity (5-point template) or box (upright box crop)."
    ),
    detector: str = typer.Option("mtcnn", "--detector", help="mtcnn, yuface or retinaface."),
    detector_model: Path | None = typer.Option(
        None, "--detector-model", help="Local ONNX file for --detector retinaface."
    ),
    min_score: float = typer.Option(0.95, "--min-score", help="Minimum detection score."),
    workers: int = typer.Option(1, "--workers", min=1, help="Parallel worker processes."),
    shard: str | None = typer.Option(
        None, "--shard", help="i/N (0-based) or 'auto' (SLURM array): this machine's share."
    ),
    compression: str = typer.Option("c23", "--compression", help="FF++ compression folder."),
    methods: str = typer.Option(
        "Deepfakes,Face2Face,FaceSwap,NeuralTextures", "--methods", help="FF++ manipulations."
    ),
    splits: Path | None = typer.Option(
        None, "--splits", help="FF++ split lists folder (train/val/test.json)."
    ),
    merge: bool = typer.Option(False, "--merge", help="Join shard manifests into OUT and stop."),
    merge_from: list[Path] = typer.Option(
        [],
        "--from",
        help="With --merge: other machines' output folders to join too. With --protocol: the "
        "prepared directories the protocol view is made of.",
    ),
    task: str | None = typer.Option(
        None, "--task", help="deepfake or pad; default: the dataset's (folder: deepfake)."
    ),
    protocol: str | None = typer.Option(
        None,
        "--protocol",
        help="PAD protocol: OULU-NPU 1-4 (with --dataset oulu), or cross-domain OCI-M, OMI-C, "
        "OCM-I, ICM-O (a view of the four prepared datasets given with --from).",
    ),
    fold: int | None = typer.Option(
        None, "--fold", help="OULU-NPU protocols 3 and 4: the fold (1-6, the left-out phone)."
    ),
    split_rule: str | None = typer.Option(
        None,
        "--split-rule",
        help="Cross-domain --protocol: field (default; sources' train+test train, the target's "
        "train+test test, as in most papers) or strict (train / test splits only).",
    ),
    verify: str = typer.Option("hash", "--verify", help="Resume check of crops: hash or size."),
    retry_failed: bool = typer.Option(False, "--retry-failed", help="Redo failed videos."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Progress bar."),
) -> None:
    """Videos -> aligned face crops (PNG) + manifest.csv + videos.csv; resumable and shardable."""
    _run("prepare", locals())


@app.command()
def demo(
    out: Path = typer.Option(Path("demo_output"), "--out", help="Folder for videos and results."),
    model: Path | None = typer.Option(
        None, "--model", help="Model to use (default: the shipped demo_model/, built if missing)."
    ),
    untrained: bool = typer.Option(
        False, "--untrained", help="Only show the plumbing with random weights (no model)."
    ),
) -> None:
    """The whole method on an embedded demo model: sample videos, detect, explain."""
    _run("demo", locals())


@app.command()
def train(
    config: Path = typer.Option(..., "--config", help="Training config YAML (see configs/)."),
    data: Path = typer.Option(..., "--data", help="Prepared directory (ffdetect prepare output)."),
    out: Path = typer.Option(..., "--out", help="Run directory."),
    init: str | None = typer.Option(None, "--init", help="Backbone checkpoint to start from."),
    resume: bool = typer.Option(False, "--resume", help="Continue the run in --out."),
    max_steps: int | None = typer.Option(None, "--max-steps", help="Stop after N updates."),
    task: str | None = typer.Option(
        None, "--task", help="deepfake or pad (stored in the model; default: the config's)."
    ),
    overrides: list[str] | None = typer.Argument(None, help="key=value config overrides."),
) -> None:
    """Fine-tune a detector (competitive two-branch or baseline); exports RUN_DIR/model.

    Under torchrun only rank 0 prints (the summary, the progress bar, warnings, "exported").
    """
    _run("train", locals())


@app.command()
def evaluate(
    model: Path = typer.Option(..., "--model", help="ffdetect model directory."),
    data: Path = typer.Option(..., "--data", help="Prepared directory (ffdetect prepare output)."),
    out: Path = typer.Option(..., "--out", help="Results directory."),
    split: str = typer.Option("test", "--split", help="Split to score."),
    frames: int | None = typer.Option(None, "--frames", help="Faces per video (default: all)."),
    batch_size: int = typer.Option(64, "--batch-size", min=1),
    workers: int = typer.Option(2, "--workers", min=0),
    task: str | None = typer.Option(
        None, "--task", help="deepfake or pad metrics (default: the model's task)."
    ),
) -> None:
    """Score a prepared split: result CSVs per dataset, then metrics.

    AUC, AP and EER come first for the plain mean of frame p_fake (comparable with papers),
    then for the confidence-weighted score, with the calibrated threshold and abstention.
    """
    _run("evaluate", locals())


@app.command()
def calibrate(
    model: Path = typer.Option(..., "--model", help="ffdetect model directory to calibrate."),
    results: Path | None = typer.Option(
        None, "--results", help="Validation result CSV (e.g. RUN_DIR/val_results.csv)."
    ),
    data: Path | None = typer.Option(None, "--data", help="Or: prepared dir to score first."),
    split: str = typer.Option("val", "--split", help="Split scored with --data."),
    target_fpr: float | None = typer.Option(
        None, "--target-fpr", help="Pick the threshold keeping FPR on real videos <= this."
    ),
    c_min: float | None = typer.Option(None, "--c-min", help="Fixed abstention level."),
    abstain: float = typer.Option(
        0.0, "--abstain", min=0.0, max=1.0, help="Or: abstain on at most this fraction."
    ),
    gamma: float = typer.Option(1.0, "--gamma", min=0.0, help="Confidence weight exponent."),
    rule: str | None = typer.Option(
        None,
        "--rule",
        help="Threshold rule: balanced_accuracy or eer (the development EER threshold). "
        "Default: eer for PAD models, balanced_accuracy otherwise (--target-fpr: its own).",
    ),
    faces_per_image: int = typer.Option(
        1,
        "--faces-per-image",
        min=1,
        help="With --target-fpr: hold the target for an image of N real faces (its verdict is "
        "its highest face), i.e. 1-(1-target)^(1/N) per face.",
    ),
) -> None:
    """Choose threshold, abstention level and gamma on validation videos; store in the model."""
    _run("calibrate", locals())


@app.command()
def pretrain(
    config: Path = typer.Option(..., "--config", help="Config YAML (see configs/pretrain/)."),
    data: Path = typer.Option(
        ..., "--data", help="Real faces: a prepared directory or a folder of PNG/JPEG images."
    ),
    out: Path = typer.Option(..., "--out", help="Run directory."),
    init: str | None = typer.Option(None, "--init", help="Backbone checkpoint to continue from."),
    resume: bool = typer.Option(False, "--resume", help="Continue the run in --out."),
    max_steps: int | None = typer.Option(None, "--max-steps", help="Stop after N updates."),
    overrides: list[str] | None = typer.Argument(None, help="key=value config overrides."),
) -> None:
    """Masked image modelling on real faces; exports the backbone to RUN_DIR/model."""
    _run("pretrain", locals())


@app.command()
def detect(
    inputs: list[str] = typer.Argument(..., help="Images, videos, folders (recursive) or globs."),
    model: Path = typer.Option(..., "--model", help="ffdetect model directory."),
    frames: int = typer.Option(32, "--frames", min=1, help="Frames sampled per video."),
    aligned: bool = typer.Option(False, "--aligned", help="Images are face crops: no detection."),
    json_out: Path | None = typer.Option(None, "--json", help="Write the results as JSON."),
    csv_out: Path | None = typer.Option(None, "--csv", help="Write one CSV row per face."),
    explain: Path | None = typer.Option(
        None, "--explain", help="Folder for heat maps per face and per-frame score plots."
    ),
    backend: str = typer.Option(
        "torch", "--backend", help="torch, onnx (see `export`) or int8 (quantized, CPU)."
    ),
    onnx: Path | None = typer.Option(None, "--onnx", help="ONNX file (default MODEL/model.onnx)."),
    batch_size: int = typer.Option(32, "--batch-size", min=1, help="Faces per model call."),
    face_detector: str = typer.Option("mtcnn", "--detector", help="Face detector: mtcnn, ..."),
    detect_every: int = typer.Option(
        1,
        "--detect-every",
        min=1,
        help="Full face detection every N sampled frames, following faces in between (faster; "
        "misses a face that enters between two full detections). Default 1: every frame.",
    ),
    pipelined: bool = typer.Option(
        True, "--pipelined/--sequential", help="Decode and detect while the model scores."
    ),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Progress bar."),
) -> None:
    """Real, fake or uncertain for each image or video, with scores per face."""
    _run("detect", locals())


@app.command()
def serve(
    model: Path = typer.Option(..., "--model", help="ffdetect model directory."),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to bind."),
    port: int = typer.Option(8000, "--port", help="Port to listen on."),
    max_upload_mb: float = typer.Option(50.0, "--max-upload-mb", help="Largest upload."),
    max_seconds: float = typer.Option(120.0, "--max-seconds", help="Longest video."),
    max_queue: int = typer.Option(4, "--max-queue", min=1, help="Requests queued before 503."),
    frames: int = typer.Option(32, "--frames", min=1, help="Frames sampled per video."),
    backend: str = typer.Option(
        "torch", "--backend", help="torch, int8 (quantized CPU copy) or onnx (MODEL/model.onnx)."
    ),
    body_timeout: float = typer.Option(
        30.0, "--body-timeout", min=0.1, help="Seconds to receive a request body (then 408)."
    ),
    header_timeout: float = typer.Option(
        10.0,
        "--header-timeout",
        min=0.1,
        help="Seconds to receive a request's headers (then 408 and the connection is closed).",
    ),
    max_per_client: int = typer.Option(
        8,
        "--max-per-client",
        min=1,
        help="Open connections per client address (more: 503); raise it behind a reverse proxy.",
    ),
    allowed_host: list[str] = typer.Option(
        [],
        "--allowed-host",
        help="Host header names accepted (default: localhost names and the bound address; "
        "* for any). Repeatable.",
    ),
    token: str | None = typer.Option(
        None,
        "--token",
        envvar="FFDETECT_TOKEN",
        show_envvar=True,
        help="Bearer token required on /v1/ requests; needed for a non-loopback --host.",
    ),
) -> None:
    """Web page and REST API (POST /v1/detect) for detection (FastAPI + uvicorn)."""
    _run("serve", locals())


@app.command()
def export(
    model: Path = typer.Option(..., "--model", help="ffdetect model directory."),
    onnx: Path = typer.Option(..., "--onnx", help="ONNX file to write."),
    exporter: str = typer.Option("auto", "--exporter", help="auto, dynamo or legacy."),
) -> None:
    """Export the deployed detector to ONNX (dynamic batch), checked against PyTorch."""
    _run("export", locals())


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":
    main()
