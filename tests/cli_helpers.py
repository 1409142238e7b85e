"""Running ``ffdetect`` in-process in tests, and checking its one-line user errors."""

from __future__ import annotations

from typer.testing import CliRunner

from ffdetect.cli import app


def run_cli(*args: str) -> tuple[int, str]:
    """Exit code and output of ``ffdetect ARGS`` run through typer's test runner."""
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.output


def assert_one_line_error(code: int, output: str, *needles: str) -> None:
    """The command failed as a user error: exit code 2 and one ``error: ...`` line holding
    every needle."""
    lines = [line for line in output.splitlines() if line.strip()]
    assert code == 2, output
    assert len(lines) == 1 and lines[0].startswith("error: "), output
    for needle in needles:
        assert needle in lines[0], (needle, output)
