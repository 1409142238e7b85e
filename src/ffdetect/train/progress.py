"""A rich progress bar for training loops: step, loss, lr and throughput."""

from __future__ import annotations

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
