"""``ffdetect info``: a model's architecture, parameter count, calibration and provenance."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.table import Table

from ffdetect.checkpoint.model_format import describe_model
from ffdetect.commands.failures import as_user_errors


def run(model: Path) -> None:
    """Print the facts of the model directory ``model`` as a table."""
    with as_user_errors(ValueError, FileNotFoundError):
        facts = describe_model(model)
    table = Table(title=str(model), show_header=False)
    for section, values in facts.items():
        table.add_row(f"[bold]{section}[/bold]", "")
        for key, value in values.items():
            table.add_row(f"  {key}", str(value))
    Console().print(table)
