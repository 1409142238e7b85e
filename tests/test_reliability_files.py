"""Damaged and hostile model files (issue #28): zip-bomb checkpoints, odd ``ffdetect.json``
documents and broken ONNX exports are refused quickly, in one line naming the file."""

from __future__ import annotations

import os
import struct
import time
import tracemalloc
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from ffdetect.checkpoint.model_format import load_backbone_weights
from ffdetect.checkpoint.safe_load import UnsafeCheckpointError, safe_torch_load
from ffdetect.cli import app
from ffdetect.errors import UserError
from ffdetect.train.checkpointing import load_training_state, recover_run_dir
from ffdetect.train.config import ModelConfig
from ffdetect.train.session import build_backbone

BOMB_BYTES = 1 << 30
#: What refusing a bomb may cost: well under what inflating it would (1 GiB, seconds).
REFUSAL_SECONDS = 2.0
REFUSAL_PYTHON_BYTES = 32 << 20


def run_cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.output


def assert_one_line_error(code: int, output: str, *needles: str) -> None:
    lines = [line for line in output.splitlines() if line.strip()]
    assert code == 2, output
    assert len(lines) == 1 and lines[0].startswith("error: "), output
    for needle in needles:
        assert needle in lines[0], (needle, output)


def write_zip_checkpoint(path: Path, members: dict[str, Callable[[zipfile.ZipExtFile], None]]):
    """A torch-style zip archive whose members are written by streaming callbacks (deflated)."""
    with zipfile.ZipFile(path, "w", compresslevel=1) as archive:
        archive.writestr("archive/version", "3\n")
        for name, write in members.items():
            info = zipfile.ZipInfo(f"archive/{name}")
            info.compress_type = zipfile.ZIP_DEFLATED
            with archive.open(info, "w", force_zip64=True) as fh:
                write(fh)
    return path


def _zeros(fh, size: int) -> None:
    chunk = bytes(1 << 20)
    for _ in range(size >> 20):
        fh.write(chunk)


def _bytes_pickle(fh, size: int) -> None:
    """A protocol-4 pickle of one ``size``-byte bytes object (plain data, no global)."""
    fh.write(b"\x80\x04\x8e" + struct.pack("<Q", size))
    _zeros(fh, size)
    fh.write(b".")


@pytest.fixture(scope="module")
def bomb(tmp_path_factory) -> Path:
    """About 1 MB on disk; its ``data.pkl`` inflates to 1 GiB."""
    path = tmp_path_factory.mktemp("bomb") / "bomb.pt"
    write_zip_checkpoint(path, {"data.pkl": lambda fh: _bytes_pickle(fh, BOMB_BYTES)})
    assert path.stat().st_size < 2 << 20
    return path


def refused_cheaply(call: Callable[[], object]) -> BaseException:
    """Run ``call``, which must raise a UserError fast and without inflating the file."""
    tracemalloc.start()
    start = time.perf_counter()
    try:
        with pytest.raises(UserError) as caught:
            call()
        seconds = time.perf_counter() - start
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert seconds < REFUSAL_SECONDS, seconds
    assert peak < REFUSAL_PYTHON_BYTES, peak
    return caught.value


def test_convert_refuses_a_zip_bomb_quickly(bomb, tmp_path) -> None:
    error = refused_cheaply(lambda: safe_torch_load(bomb))
    assert isinstance(error, UnsafeCheckpointError)
    assert str(bomb) in str(error) and "data.pkl" in str(error)
    tracemalloc.start()
    start = time.perf_counter()
    code, output = run_cli("convert", str(bomb), "--out", str(tmp_path / "out"))
    seconds, peak = time.perf_counter() - start, tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert_one_line_error(code, output, str(bomb), "zip bomb", "data.pkl")
    assert seconds < REFUSAL_SECONDS and peak < REFUSAL_PYTHON_BYTES, (seconds, peak)
    assert not (tmp_path / "out").exists()


def test_train_and_pretrain_init_refuse_a_zip_bomb_quickly(bomb) -> None:
    """``train --init`` and ``pretrain --init`` build their backbone with ``build_backbone``; a
    pretraining teacher is read by ``load_backbone_weights``."""
    tiny = ModelConfig(size="tiny", img_size=32, depth=1, init=str(bomb))
    assert str(bomb) in str(refused_cheaply(lambda: build_backbone(tiny)))
    assert str(bomb) in str(refused_cheaply(lambda: load_backbone_weights(bomb)))


def test_resume_refuses_a_zip_bomb_quickly(bomb, tmp_path) -> None:
    """``train --resume`` first recovers the run directory from ``last.pt``, then loads it."""
    last = tmp_path / "run" / "checkpoints" / "last.pt"
    last.parent.mkdir(parents=True)
    os.link(bomb, last)
    assert str(last) in str(refused_cheaply(lambda: recover_run_dir(tmp_path / "run", last)))
    assert str(last) in str(refused_cheaply(lambda: load_training_state(last)))


def _repeating(fh, size: int) -> None:
    """Bytes that deflate about 45 times: 1 KiB of noise, then 44 KiB of zeros, repeated."""
    block = os.urandom(1 << 10) + bytes(44 << 10)
    for _ in range(size // len(block)):
        fh.write(block)


@pytest.mark.parametrize(
    ("members", "reason"),
    [({"data.pkl": lambda fh: _bytes_pickle(fh, 300 << 20)}, "pickle record archive/data.pkl"),
     ({"data.pkl": lambda fh: _bytes_pickle(fh, 1 << 10),
       "data/0": lambda fh: _zeros(fh, 64 << 20)}, "archive/data/0 inflates"),
     ({"data.pkl": lambda fh: _bytes_pickle(fh, 1 << 10),
       "data/0": lambda fh: _repeating(fh, 8 << 20)}, "times the file's")],
)  # fmt: skip
def test_each_zip_size_limit(tmp_path, members, reason) -> None:
    path = write_zip_checkpoint(tmp_path / "odd.pt", members)
    error = refused_cheaply(lambda: safe_torch_load(path))
    assert str(path) in str(error) and reason in str(error), error


def test_an_honest_checkpoint_passes_the_size_checks(tmp_path) -> None:
    state = {"model": {"w": torch.randn(256, 256)}, "optimizer": {"step": 3}, "epoch": 1}
    torch.save(state, tmp_path / "ok.pt")
    loaded = safe_torch_load(tmp_path / "ok.pt")
    assert torch.equal(loaded["model"]["w"], state["model"]["w"]) and loaded["epoch"] == 1
