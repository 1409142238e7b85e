"""RUN_DIR/curves.png: the training curve of a run, redrawn from its CSV logs every epoch."""

from __future__ import annotations

import csv
import math
from pathlib import Path

from ffdetect.checkpoint.model_format import atomic_write

#: log.csv columns that are not drawn with the loss terms (``lr`` has its own panel).
NOT_LOSS_TERMS = frozenset({"epoch", "step", "lr", "images_per_s", "grad_norm"})


def read_series(path: Path, x: str) -> dict[str, list[tuple[float, float]]]:
    """Every other column of the CSV ``path``, in file order, as ``(x, value)`` points (empty,
    non-numeric and non-finite cells skipped); nothing when the file is missing."""
    if not path.is_file():
        return {}
    with path.open(newline="") as fh:
        reader = csv.DictReader(fh)
        columns = [c for c in reader.fieldnames or [] if c != x]
        series: dict[str, list[tuple[float, float]]] = {c: [] for c in columns}
        for row in reader:
            try:
                at = float(row[x])
            except (TypeError, ValueError):
                continue
            for column in columns:
                try:
                    value = float(row[column])
                except (TypeError, ValueError):
                    continue
                if math.isfinite(value):
                    series[column].append((at, value))
    return series


def write_curves(run_dir: Path) -> Path:
    """Draw the loss terms and the lr per step (``log.csv``) and the validation metrics per
    epoch (``epochs.csv``) of ``run_dir`` into ``run_dir/curves.png``, written atomically."""
    from matplotlib.figure import Figure  # no pyplot: no global backend state, Agg for PNG

    steps = read_series(run_dir / "log.csv", "step")
    epochs = read_series(run_dir / "epochs.csv", "epoch")
    panels = [
        (
            "loss terms per step",
            "step",
            steps,
            [c for c in steps if c not in NOT_LOSS_TERMS],
        ),
        ("learning rate", "step", steps, ["lr"] if "lr" in steps else []),
        ("per epoch", "epoch", epochs, [c for c in epochs if c != "step"]),
    ]
    fig = Figure(figsize=(7, 9), dpi=100)
    for ax, (title, xlabel, series, columns) in zip(fig.subplots(3, 1), panels, strict=True):
        for column in columns:
            if series[column]:
                xs, ys = zip(*series[column], strict=True)
                ax.plot(xs, ys, marker="o" if xlabel == "epoch" else None, label=column)
        ax.set(title=title, xlabel=xlabel)
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize="small", ncol=2)
    fig.tight_layout()
    path = run_dir / "curves.png"
    atomic_write(path, lambda tmp: fig.savefig(tmp, format="png"))
    return path
