"""Training state on disk: written atomically, read back with the safe unpickler; a run
directory left by a killed run is repaired before the run resumes (:func:`recover_run_dir`)."""

from __future__ import annotations

import os
import random
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ffdetect.checkpoint.safe_load import safe_torch_load
from ffdetect.train.progress import truncate_csv_log

#: The logs of a run directory and the column each is truncated on.
RUN_LOGS = (("log.csv", "step"), ("epochs.csv", "epoch"))


def rng_state() -> dict[str, Any]:
    """Python, NumPy and torch RNG states in a form ``weights_only`` loading accepts."""
    py_version, py_state, py_gauss = random.getstate()
    np_name, np_keys, np_pos, np_has_gauss, np_gauss = np.random.get_state()
    state = {
        "python": [py_version, list(py_state), py_gauss],
        "numpy": [
            np_name,
            torch.from_numpy(np_keys.astype(np.int64)),
            np_pos,
            np_has_gauss,
            np_gauss,
        ],
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore what :func:`rng_state` captured."""
    version, py_state, gauss = state["python"]
    random.setstate((version, tuple(py_state), gauss))
    name, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((name, keys.numpy().astype(np.uint32), pos, has_gauss, cached))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_atomic(obj: Any, path: Path) -> None:
    """``torch.save`` to a temporary file in the same folder, fsync, then rename over ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            torch.save(obj, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def load_training_state(path: Path) -> dict[str, Any]:
    """Read a training checkpoint written by :func:`save_atomic` (tensors and plain data only);
    a refused or unreadable file raises the one-line
    :class:`~ffdetect.checkpoint.safe_load.UnsafeCheckpointError`."""
    return safe_torch_load(path)


def remove_stale_temps(folder: Path) -> list[Path]:
    """Delete the temporary files :func:`save_atomic` leaves when killed mid-write
    (``.<name>.*.tmp``); returns them."""
    stale = sorted(folder.glob(".*.tmp")) if folder.is_dir() else []
    for path in stale:
        path.unlink(missing_ok=True)
    return stale


def recover_run_dir(run_dir: Path, ckpt_path: Path) -> None:
    """Bring ``run_dir`` back to its last checkpoint before a run (re)starts in it.

    Removes half-written checkpoint temporaries, and truncates ``log.csv`` to the checkpoint's
    step and ``epochs.csv`` to its epoch (a run killed after logging an epoch but before its
    checkpoint landed would otherwise log that epoch twice). Without a checkpoint, both logs
    are emptied: the run starts from step 0. Only the checkpoint's ``epoch`` and ``step`` are
    read (memory-mapped), not its tensors.
    """
    remove_stale_temps(ckpt_path.parent)
    epoch = step = None
    if ckpt_path.is_file():
        state = safe_torch_load(ckpt_path, mmap=True)  # a refused file: one error line
        epoch, step = int(state["epoch"]), int(state["step"])
    for (name, column), last in zip(RUN_LOGS, (step, epoch), strict=True):
        truncate_csv_log(run_dir / name, column, last)
