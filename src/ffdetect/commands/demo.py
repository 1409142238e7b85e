"""``ffdetect demo``: the whole method on the embedded demo model (or random weights)."""

from __future__ import annotations

from pathlib import Path

from ffdetect.commands.failures import as_user_errors
from ffdetect.demo import DemoError, run_demo, run_untrained_demo


def run(out: Path, model: Path | None, untrained: bool) -> None:
    """Make sample videos in ``out`` and detect them with ``model``; with ``untrained`` only
    show the plumbing with random weights."""
    if untrained:
        run_untrained_demo()
        return
    with as_user_errors(DemoError):
        run_demo(out, model)
