"""The ``ffdetect`` command line: one verb per stage of the workflow."""

from __future__ import annotations

from pathlib import Path

import typer

app = typer.Typer(
    name="ffdetect",
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
) -> None:
    """Import a BEiT v2 pre-training checkpoint or the authors' fine-tuned detector, strictly."""
    from ffdetect.checkpoint.convert import ConversionError, convert_checkpoint
    from ffdetect.checkpoint.model_format import ModelFormatError, save_model
    from ffdetect.checkpoint.safe_load import UnsafeCheckpointError

    try:
        result = convert_checkpoint(src, size=size, main_only=main_only)
    except (ConversionError, ModelFormatError, UnsafeCheckpointError, FileNotFoundError) as exc:
        raise fail(str(exc)) from None
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
        None, "--threshold", help="Calibrated threshold: also report ACC at it."
    ),
    c_min: float | None = typer.Option(
        None, "--c-min", help="Confidence floor: report coverage and confident-subset ACC."
    ),
) -> None:
    """Video-level AUC, AP, EER, ACC, ... of result files (FF++ per manipulation too)."""
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
    rows = []
    for path in results:
        if is_frame_results_path(path) and path.resolve() in siblings:
            continue
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


@app.command()
def demo(seed: int = typer.Option(0, help="Seed of the random (untrained) weights.")) -> None:
    """Run the pipeline end to end on package-shipped face photos (untrained tiny model)."""
    from ffdetect.demo import run_untrained_demo

    run_untrained_demo(seed=seed)


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":
    main()
