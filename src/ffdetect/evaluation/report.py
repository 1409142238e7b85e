"""Reports of ``ffdetect metrics``: a rich table, ``metrics.md``, ``metrics.json``, ``roc.png``.

Figures are shown in percent with two decimals, like the authors' ``scores.txt``; JSON keeps
the raw fractions (``nan``/``inf`` as ``null``).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ffdetect.evaluation.metrics import Metrics, Row


def _pct(value: float | None) -> str:
    if value is None or not math.isfinite(value):
        return "-"
    return f"{100 * value:.2f}"


def _num(value: float | None, digits: int = 4) -> str:
    if value is None or not math.isfinite(value):
        return "-"
    return f"{value:.{digits}f}"


def _confusion(m: Metrics) -> str:
    return "[" + " ".join(str(v) for v in m.confusion) + "]"


@dataclass(frozen=True)
class Column:
    """A report column: header, formatter, and whether it is shown only when some row has it."""

    header: str
    cell: Callable[[Metrics], str]
    optional: Callable[[Metrics], Any] | None = None


COLUMNS: tuple[Column, ...] = (
    Column("N", lambda m: str(m.n)),
    Column("AUC %", lambda m: _pct(m.auc)),
    Column("AP %", lambda m: _pct(m.ap)),
    Column("EER %", lambda m: _pct(m.eer)),
    Column("EER thr", lambda m: _num(m.eer_threshold)),
    Column("LogLoss", lambda m: _num(m.log_loss)),
    Column("TPR@1%", lambda m: _pct(m.tpr_at_fpr_1)),
    Column("TPR@5%", lambda m: _pct(m.tpr_at_fpr_5)),
    Column("ACC@0.5 %", lambda m: _pct(m.acc_05)),
    Column("ACC@t %", lambda m: _pct(m.acc_threshold), lambda m: m.acc_threshold),
    Column("ACC oracle %", lambda m: _pct(m.acc_oracle)),
    Column("oracle thr", lambda m: _num(m.oracle_threshold)),
    Column("D=[tn fp fn tp]", _confusion),
    Column("P %", lambda m: _pct(m.precision)),
    Column("R %", lambda m: _pct(m.recall)),
    Column("coverage %", lambda m: _pct(m.coverage), lambda m: m.coverage),
    Column("conf. ACC %", lambda m: _pct(m.confident_acc), lambda m: m.coverage),
    Column("frame AUC %", lambda m: _pct(m.frame_auc), lambda m: m.frame_auc),
)


def columns_for(rows: Sequence[Row], columns: Sequence[Column] = COLUMNS) -> list[Column]:
    """The columns to show: all mandatory ones, optional ones when some row has a value."""
    return [
        c
        for c in columns
        if c.optional is None or any(c.optional(r.metrics) is not None for r in rows)
    ]


def table_cells(
    rows: Sequence[Row], columns: Sequence[Column] = COLUMNS
) -> tuple[list[str], list[list[str]]]:
    """Header and formatted cells of the report table (first column: dataset)."""
    cols = columns_for(rows, columns)
    header = ["dataset", *(c.header for c in cols)]
    return header, [[r.name, *(c.cell(r.metrics) for c in cols)] for r in rows]


def rich_table(
    rows: Sequence[Row], title: str = "Video-level metrics", columns: Sequence[Column] = COLUMNS
) -> Any:
    """A :class:`rich.table.Table` of the rows."""
    from rich.markup import escape
    from rich.table import Table

    header, cells = table_cells(rows, columns)
    table = Table(title=title)
    for i, name in enumerate(header):
        table.add_column(escape(name), justify="left" if i == 0 else "right", no_wrap=i == 0)
    for row, line in zip(rows, cells, strict=True):
        table.add_row(*map(escape, line), style="dim" if row.parent else None)
    return table


def print_table(
    rows: Sequence[Row],
    console: Any | None = None,
    columns: Sequence[Column] = COLUMNS,
    title: str = "Video-level metrics",
) -> None:
    """Print :func:`rich_table`, widening the console rather than squeezing columns away."""
    from rich.console import Console
    from rich.measure import Measurement

    console = console or Console()
    table = rich_table(rows, title, columns)
    needed = Measurement.get(console, console.options.update_width(10_000), table).maximum
    if needed > console.width:
        console = Console(width=needed, file=console.file)
    console.print(table)


def markdown_table(
    rows: Sequence[Row], notes: Sequence[str] = (), columns: Sequence[Column] = COLUMNS
) -> str:
    """The report as a Markdown table, followed by ``notes`` as a bullet list."""
    header, cells = table_cells(rows, columns)
    lines = [
        "| " + " | ".join(header) + " |",
        "|" + "|".join(["---"] + ["---:"] * (len(header) - 1)) + "|",
        *("| " + " | ".join(c.replace("|", "\\|") for c in line) + " |" for line in cells),
    ]
    if notes:
        lines += ["", *(f"- {n}" for n in notes)]
    return "\n".join(lines) + "\n"


def video_score_note(gamma: float | None) -> str | None:
    """How ``ffdetect evaluate`` scored videos (None for result files scored elsewhere)."""
    if gamma is None:
        return None
    note = (
        "Video score: the plain mean of frame P(fake) (gamma 0), as the authors and the field "
        "report."
    )
    if gamma != 0:
        note += (
            f" Rows `[confidence-weighted, gamma={gamma:g}]` weight frames by confidence ** "
            f"{gamma:g}, the score `ffdetect detect` decides on; the calibrated threshold and "
            "c_min apply to them."
        )
    return note


def report_notes(
    threshold: float | None, c_min: float | None, gamma: float | None = None
) -> list[str]:
    """Conventions stated under the Markdown table (``gamma``: see :func:`video_score_note`)."""
    notes = [
        "Video level; percent. A video is fake when P(fake) >= threshold (0.5 unless stated).",
        "D, P and R are at 0.5; ACC oracle is the best accuracy over all thresholds.",
        "FF++ rows `name/Method` score that method's fakes against all real videos.",
    ]
    score_note = video_score_note(gamma)
    if score_note is not None:
        notes.append(score_note)
    if threshold is not None:
        notes.append(f"ACC@t uses the calibrated threshold t = {threshold:g}.")
    if c_min is not None:
        notes.append(
            f"coverage: fraction of videos with confidence >= c_min = {c_min:g}; "
            "conf. ACC: accuracy of those videos."
        )
    return notes


def metrics_json(
    rows: Sequence[Row],
    threshold: float | None = None,
    c_min: float | None = None,
    gamma: float | None = None,
) -> dict[str, Any]:
    """JSON document of the report (fractions, not percent)."""
    document: dict[str, Any] = {
        "units": "fractions in [0, 1]; confusion = [tn, fp, fn, tp] at 0.5",
        "decision": "fake when predict >= threshold",
        "threshold": threshold,
        "c_min": c_min,
    }
    if gamma is not None:
        document["video_score"] = video_score_note(gamma)
        document["gamma"] = gamma
    return document | {
        "rows": [
            {"name": r.name, "source": r.source, "parent": r.parent, **r.metrics.to_dict()}
            for r in rows
        ],
    }


def plot_roc(rows: Sequence[Row], path: Path) -> Path:
    """Save the ROC curves of all rows (FF++ manipulations dashed) as a PNG."""
    from matplotlib.figure import Figure  # no pyplot: no global backend state, Agg for PNG
    from sklearn.metrics import roc_curve

    fig = Figure(figsize=(6, 6), dpi=120)
    ax = fig.subplots()
    for r in rows:
        if r.metrics.n_real == 0 or r.metrics.n_fake == 0:
            continue
        fpr, tpr, _ = roc_curve(r.labels, r.scores)
        label = f"{r.name} (AUC {_pct(r.metrics.auc)})"
        ax.plot(fpr, tpr, linestyle="--" if r.parent else "-", linewidth=1.2, label=label)
    ax.plot([0, 1], [0, 1], color="grey", linewidth=0.8, linestyle=":")
    ax.set(xlabel="False positive rate", ylabel="True positive rate", title="ROC (video)")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.01)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="lower right", fontsize="small")
    fig.tight_layout()
    fig.savefig(path, format="png")
    return path


def write_report(
    rows: Sequence[Row],
    out_dir: Path,
    threshold: float | None = None,
    c_min: float | None = None,
    *,
    columns: Sequence[Column] = COLUMNS,
    notes: Sequence[str] | None = None,
    gamma: float | None = None,
) -> list[Path]:
    """Write ``metrics.md``, ``metrics.json`` and ``roc.png`` into ``out_dir``.

    ``columns`` and ``notes`` replace the deepfake table's (the PAD report passes its own);
    ``gamma`` (``ffdetect evaluate``) states how video scores were made.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    md = out_dir / "metrics.md"
    notes = report_notes(threshold, c_min, gamma) if notes is None else notes
    md.write_text(markdown_table(rows, notes, columns), encoding="utf-8")
    js = out_dir / "metrics.json"
    document = metrics_json(rows, threshold, c_min, gamma)
    js.write_text(json.dumps(document, indent=2, allow_nan=False) + "\n", encoding="utf-8")
    return [md, js, plot_roc(rows, out_dir / "roc.png")]
