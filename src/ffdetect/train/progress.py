"""Training progress: the rich progress bar (step, loss, lr, throughput) and the repair of the
CSV logs of a run that was killed after its last checkpoint."""

from __future__ import annotations

import csv
import os
from pathlib import Path
from types import TracebackType

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn


class StepProgress:
    """Context manager whose instances are ``on_step`` callbacks for the training loops."""

    def __init__(self, total_steps: int, description: str = "train") -> None:
        self.progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn(
                "loss {task.fields[loss]:.4f}  lr {task.fields[lr]:.2e}  "
                "{task.fields[ips]:.1f} img/s"
            ),
            TimeRemainingColumn(),
            transient=False,
        )
        self.task = self.progress.add_task(
            description, total=total_steps, loss=float("nan"), lr=0.0, ips=0.0
        )

    def __enter__(self) -> StepProgress:
        self.progress.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.progress.stop()

    def __call__(self, terms: dict[str, float]) -> None:
        self.progress.update(
            self.task,
            completed=terms["step"],
            loss=terms["loss"],
            lr=terms["lr"],
            ips=terms.get("images_per_s", 0.0),
        )


def truncate_csv_log(path: Path, column: str, last: int | None) -> int:
    """Keep the rows of ``path`` whose integer ``column`` is at most ``last`` (none when ``last``
    is None), rewriting the file atomically; returns how many rows were dropped.

    A missing file is left missing; a row whose value is not an integer (a line torn by a kill)
    is dropped too.
    """
    if not path.is_file():
        return 0
    with path.open(newline="") as fh:
        reader = csv.DictReader(fh)
        fields = reader.fieldnames or []
        rows = list(reader)
    kept = [
        r
        for r in rows
        if last is not None and (value := _as_int(r.get(column))) is not None and value <= last
    ]
    if len(kept) == len(rows):
        return 0
    tmp = path.with_name(f".{path.name}.tmp")
    with tmp.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=fields, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(kept)
    os.replace(tmp, path)
    return len(rows) - len(kept)


def _as_int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None
