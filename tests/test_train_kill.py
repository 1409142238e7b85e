"""``train`` SIGKILLed while writing its checkpoint, then ``--resume`` (issue #13): the logs are
cut back to the checkpoint and the half-written temporary file is removed."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
from pathlib import Path

from ffdetect.train.checkpointing import recover_run_dir

SUPPORT = Path(__file__).parent / "train_support.py"

#: Runs the tiny training of train_support.py; the 2nd checkpoint write (epoch 1) writes a few
#: bytes of its temporary file and then SIGKILLs its own process.
DIE_IN_SECOND_CHECKPOINT = f"""
import os, signal, sys
import torch
sys.path.insert(0, {str(SUPPORT.parent)!r})
import train_support

real_save, calls = torch.save, []

def dying_save(obj, f, *args, **kwargs):
    calls.append(1)
    if len(calls) == 2:
        f.write(b"PK half a checkpoint")
        f.flush()
        os.kill(os.getpid(), signal.SIGKILL)
    return real_save(obj, f, *args, **kwargs)

torch.save = dying_save
train_support.main(sys.argv[1:])
"""


def _column(path: Path, name: str) -> list[int]:
    with path.open(newline="") as fh:
        return [int(row[name]) for row in csv.DictReader(fh)]


def test_kill_during_checkpoint_write_then_resume(tmp_path: Path) -> None:
    run = tmp_path / "run"
    env = {**os.environ, "PYTHONPATH": str(SUPPORT.parent)}
    killed = subprocess.run(
        [sys.executable, "-c", DIE_IN_SECOND_CHECKPOINT, str(run)], env=env, timeout=300
    )
    assert killed.returncode == -signal.SIGKILL
    assert _column(run / "epochs.csv", "epoch") == [0, 1]  # epoch 1 logged, not checkpointed
    assert len(list((run / "checkpoints").glob(".last.pt.*.tmp"))) == 1
    steps_per_epoch = _column(run / "epochs.csv", "step")[0]

    subprocess.run([sys.executable, str(SUPPORT), str(run), "--resume"], env=env, timeout=300,
                   check=True)  # fmt: skip
    assert _column(run / "epochs.csv", "epoch") == [0, 1, 2]
    assert _column(run / "log.csv", "step") == list(range(1, 3 * steps_per_epoch + 1))
    assert list((run / "checkpoints").glob("*.tmp")) == []


def test_recover_without_a_checkpoint_empties_the_logs(tmp_path: Path) -> None:
    """Killed before the first checkpoint: the rerun starts from step 0 with empty logs."""
    (tmp_path / "checkpoints").mkdir()
    (tmp_path / "checkpoints" / ".last.pt.abc.tmp").write_bytes(b"torn")
    (tmp_path / "log.csv").write_text("step,loss\n1,0.7\n2,0.6\n3,0.")  # a torn last line
    (tmp_path / "epochs.csv").write_text("epoch,step\n0,2\n")
    recover_run_dir(tmp_path, tmp_path / "checkpoints" / "last.pt")
    assert (tmp_path / "log.csv").read_text().splitlines() == ["step,loss"]
    assert (tmp_path / "epochs.csv").read_text().splitlines() == ["epoch,step"]
    assert list((tmp_path / "checkpoints").iterdir()) == []
