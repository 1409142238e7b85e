"""The command line has one shape: cli.py declares verbs, ``ffdetect.commands.<verb>.run`` works."""

from __future__ import annotations

import importlib
import inspect
import subprocess
import sys
from pathlib import Path

import typer.main

from ffdetect.cli import app

VERBS = ["train", "pretrain", "prepare", "evaluate", "calibrate", "metrics", "detect", "serve"]
VERBS += ["export", "convert", "info", "demo"]
COMMANDS = Path(__file__).resolve().parents[1] / "src" / "ffdetect" / "commands"


def test_every_verb_calls_the_run_of_its_command_module_with_its_options() -> None:
    group = typer.main.get_command(app)
    assert sorted(group.commands) == sorted(VERBS)
    for name, command in group.commands.items():
        run = importlib.import_module(f"ffdetect.commands.{name}").run
        options = {p.name for p in command.params}
        assert set(inspect.signature(run).parameters) == options, name


def test_no_command_prints_its_own_error_lines() -> None:
    for module in COMMANDS.glob("*.py"):
        assert '"error:' not in module.read_text() and 'f"error:' not in module.read_text()


def test_help_imports_no_verb_body() -> None:
    code = (
        "import sys; from ffdetect.cli import main; sys.argv = ['ffdetect', '--help']\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "heavy = [m for m in ('torch', 'ffdetect.commands.train') if m in sys.modules]\n"
        "print('heavy', heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "heavy []" in out.stdout
