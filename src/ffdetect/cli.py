"""The ``ffdetect`` command line: one verb per stage of the workflow."""

from __future__ import annotations

from pathlib import Path

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


def fail(message: str, code: int = 2) -> typer.Exit:
    """Print a one-line error on stderr and return the exit to raise."""
    typer.secho(f"error: {message}", err=True, fg=typer.colors.RED)
    return typer.Exit(code)


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
    from ffdetect.checkpoint.convert import convert_checkpoint
    from ffdetect.checkpoint.model_format import save_model

    result = convert_checkpoint(src, size=size, main_only=main_only, shared_rel_pos=shared_rel_pos)
    save_model(result.model, result.meta, out)
    arch = result.meta.architecture
    typer.echo(f"read {src} ({result.layout})")
    for note in result.notes:
        typer.echo(f"  - {note}")
    typer.echo(f"wrote {result.meta.kind} model ({arch.size}, {arch.img_size}px) to {out}")


@app.command()
def info(model: Path = typer.Argument(..., help="An ffdetect model directory.")) -> None:
    """Print a model's architecture, parameter count, calibration and provenance."""
    from rich.console import Console
    from rich.table import Table

    from ffdetect.checkpoint.model_format import ModelFormatError, describe_model

    try:
        facts = describe_model(model)
    except (ModelFormatError, ValueError, FileNotFoundError) as exc:
        raise fail(str(exc)) from None
    table = Table(title=str(model), show_header=False)
    for section, values in facts.items():
        table.add_row(f"[bold]{section}[/bold]", "")
        for key, value in values.items():
            table.add_row(f"  {key}", str(value))
    Console().print(table)


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
    from ffdetect.evaluation.metrics import (
        ResultFormatError,
        evaluate_results,
        frame_results_path,
        is_frame_results_path,
        read_results,
    )
    from ffdetect.evaluation.report import print_table, write_report

    # A frame-level file is read with its video-level file when both are given (a glob).
    siblings = {frame_results_path(p).resolve() for p in results}
    videos = [p for p in results if not (is_frame_results_path(p) and p.resolve() in siblings)]
    if task not in ("deepfake", "pad"):
        raise fail(f"--task is deepfake or pad, got {task!r}")
    if task == "pad":
        _pad_metrics(videos, threshold, dev, data, out, c_min, folds)
        return
    if dev or data is not None or folds:
        raise fail("--dev, --data and --folds go with --task pad")
    rows = []
    for path in videos:
        try:
            result = read_results(path)
        except ResultFormatError as exc:
            raise fail(str(exc)) from None
        if c_min is not None and result.confidences is None:
            typer.echo(f"note: {path} has no confidence column; --c-min does not apply", err=True)
        rows += evaluate_results(result, threshold=threshold, c_min=c_min)
    print_table(rows)
    if out is not None:
        for written in write_report(rows, out, threshold, c_min):
            typer.echo(f"wrote {written}")


def _pad_metrics(
    paths: list[Path],
    threshold: float | None,
    dev: list[Path],
    data: Path | None,
    out: Path | None,
    c_min: float | None,
    folds: bool,
) -> None:
    """The PAD report of ``ffdetect metrics --task pad``."""
    from ffdetect.evaluation.metrics import ResultFormatError, read_results
    from ffdetect.evaluation.pad_metrics import THRESHOLD_DEV_EER, dev_threshold, pad_report

    if threshold is not None and dev:
        raise fail("give --threshold or --dev, not both")
    wanted = len(paths) if folds else 1
    if dev and len(dev) != wanted:
        raise fail(f"give {wanted} --dev file(s) (one per fold with --folds), got {len(dev)}")
    if folds and len(paths) < 2:
        raise fail("--folds needs the result files of at least two folds")
    try:
        source = "given"
        thresholds = None
        if dev:
            source = THRESHOLD_DEV_EER
            thresholds = [dev_threshold(d) for d in dev]
            if not folds:
                threshold, thresholds = thresholds[0], None
        results = [read_results(p) for p in paths]
        pad_report(
            results,
            threshold=threshold,
            threshold_source=source,
            prepared=data,
            out=out,
            c_min=c_min,
            thresholds=thresholds,
            folds=folds,
        )
    except (ResultFormatError, FileNotFoundError, ValueError) as exc:
        raise fail(str(exc)) from None


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
    args = dict(locals())
    from ffdetect.data.cli_prepare import run_prepare_command

    code = run_prepare_command(**args)
    if code:
        raise typer.Exit(code)


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
    if untrained:
        from ffdetect.demo import run_untrained_demo

        run_untrained_demo()
        return
    from ffdetect.demo import DemoError, run_demo

    try:
        run_demo(out, model)
    except DemoError as exc:
        raise fail(str(exc)) from None


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
    import contextlib

    from ffdetect.config import ConfigError, job_overrides, load_config
    from ffdetect.train.config import TrainConfig, recipe_warnings
    from ffdetect.train.data import prepared_datasets
    from ffdetect.train.distributed import launched_as_main
    from ffdetect.train.progress import StepProgress
    from ffdetect.train.run import train as run_training

    extra = [f"task={task}"] if task is not None else []
    try:
        cfg = load_config(
            TrainConfig, config, job_overrides([*(overrides or []), *extra], init, max_steps)
        )
        train_set, val_set = prepared_datasets(cfg, data)
    except (ConfigError, FileNotFoundError, ValueError) as exc:
        raise fail(str(exc)) from None
    steps = cfg.schedule.epochs * (len(train_set) // cfg.data.batch_size)
    if cfg.run.max_steps is not None:
        steps = min(steps, cfg.run.max_steps)
    is_main = launched_as_main()
    if is_main:
        for warning in recipe_warnings(cfg):
            typer.secho(f"warning: {warning}", err=True, fg=typer.colors.YELLOW)
        typer.echo(
            f"{cfg.method} {cfg.model.size}: {len(train_set)} training faces, "
            f"{len(val_set) if val_set else 0} validation faces, {steps} steps"
        )
    bar = StepProgress(steps) if is_main else contextlib.nullcontext()
    try:
        with bar as progress:
            result = run_training(cfg, train_set, val_set, out, resume=resume, progress=progress)
    except FileExistsError as exc:
        raise fail(str(exc)) from None
    best = (
        ""
        if result.best_epoch is None
        else f" (best epoch {result.best_epoch}: {result.best_value:.4f})"
    )
    if is_main:
        typer.echo(f"exported {result.model_dir}{best}")


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
    from ffdetect.checkpoint.model_format import ModelFormatError, read_meta
    from ffdetect.evaluation.evaluate import confidence_weighted, evaluate_model, evaluation_rows
    from ffdetect.evaluation.metrics import read_results
    from ffdetect.evaluation.report import print_table, write_report

    if task not in (None, "deepfake", "pad"):
        raise fail(f"--task is deepfake or pad, got {task!r}")
    try:
        meta = read_meta(model)
        calibration = meta.calibration
        done = evaluate_model(model, data, split, out, frames, batch_size, workers)
    except (ModelFormatError, FileNotFoundError, ValueError) as exc:
        raise fail(str(exc)) from None
    for item in done:
        typer.echo(f"{item.name}: {item.videos} videos, {item.frames} faces -> {item.results}")
    if (task or meta.task) == "pad":
        from ffdetect.evaluation.pad_metrics import pad_report, threshold_source_of

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
) -> None:
    """Choose threshold, abstention level and gamma on validation videos; store in the model."""
    from ffdetect.checkpoint.model_format import ModelFormatError, read_meta, write_meta
    from ffdetect.evaluation.calibration import calibrate_from_results
    from ffdetect.evaluation.evaluate import evaluate_model

    if (results is None) == (data is None):
        raise fail("give exactly one of --results or --data")
    try:
        meta = read_meta(model)
        if data is not None:
            scored = evaluate_model(model, data, split, Path(model) / "calibration")
            if len(scored) != 1:
                raise ValueError(f"calibrate on one dataset at a time; {split} holds {len(scored)}")
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
        )
    except (ModelFormatError, FileNotFoundError, ValueError) as exc:
        raise fail(str(exc)) from None
    meta.calibration = calibration
    write_meta(model, meta)
    stats = calibration.stats
    typer.echo(
        f"threshold {calibration.threshold:.4f}, c_min {calibration.c_min:.4f}, gamma {gamma} "
        f"({calibration.method} on {stats.get('n_videos')} videos, coverage "
        f"{stats.get('coverage', float('nan')):.3f}); written to {model}"
    )


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
    from ffdetect.pretrain.cli import run_pretrain_command

    error = run_pretrain_command(config, data, out, init, resume, max_steps, list(overrides or []))
    if error:
        raise fail(error)


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
    from ffdetect.checkpoint.model_format import ModelFormatError
    from ffdetect.inference.cli_detect import DetectRequest, run_detect

    request = DetectRequest(
        inputs, model, frames, aligned, json_out, csv_out, explain, backend, onnx, batch_size,
        face_detector, progress, detect_every, pipelined,
    )  # fmt: skip
    try:
        results = run_detect(request)
    except (ModelFormatError, FileNotFoundError, ValueError, RuntimeError) as exc:
        raise fail(str(exc)) from None
    if any(r.error for r in results):
        raise typer.Exit(1)


@app.command()
def serve(
    model: Path = typer.Option(..., "--model", help="ffdetect model directory."),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to bind."),
    port: int = typer.Option(8000, "--port", help="Port to listen on."),
    max_upload_mb: float = typer.Option(50.0, "--max-upload-mb", help="Largest upload."),
    max_seconds: float = typer.Option(120.0, "--max-seconds", help="Longest video."),
    max_queue: int = typer.Option(4, "--max-queue", min=1, help="Requests queued before 503."),
    frames: int = typer.Option(32, "--frames", min=1, help="Frames sampled per video."),
    backend: str = typer.Option("torch", "--backend", help="torch or onnx (MODEL/model.onnx)."),
    body_timeout: float = typer.Option(
        30.0, "--body-timeout", min=0.1, help="Seconds to receive a request body (then 408)."
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
    from ffdetect.checkpoint.model_format import ModelFormatError
    from ffdetect.serve.app import serve as run_server
    from ffdetect.serve.limits import ServeLimits

    limits = ServeLimits(
        max_upload_mb=max_upload_mb, max_video_seconds=max_seconds, max_queue=max_queue,
        frames=frames, body_timeout=body_timeout,
    )  # fmt: skip
    try:
        run_server(model, host, port, limits, backend, allowed_host or None, token)
    except (ModelFormatError, FileNotFoundError, ValueError) as exc:
        raise fail(str(exc)) from None


@app.command()
def export(
    model: Path = typer.Option(..., "--model", help="ffdetect model directory."),
    onnx: Path = typer.Option(..., "--onnx", help="ONNX file to write."),
    exporter: str = typer.Option("auto", "--exporter", help="auto, dynamo or legacy."),
) -> None:
    """Export the deployed detector to ONNX (dynamic batch), checked against PyTorch."""
    from ffdetect.checkpoint.model_format import ModelFormatError, load_detector
    from ffdetect.inference.onnx_backend import OnnxExportError, export_onnx

    try:
        detector, meta = load_detector(model)
        path, used, diff = export_onnx(detector, meta, onnx, exporter)
    except (ModelFormatError, FileNotFoundError, OnnxExportError, KeyError) as exc:
        raise fail(str(exc)) from None
    typer.echo(f"wrote {path} ({used} exporter; max |p_fake difference| to PyTorch {diff:.1e})")


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":
    main()
