"""Damaged and hostile model files (issue #28): zip-bomb checkpoints, odd ``ffdetect.json``
documents and broken ONNX exports are refused quickly, in one line naming the file."""

from __future__ import annotations

import functools
import io
import json
import os
import re
import shutil
import struct
import time
import tracemalloc
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from cli_helpers import assert_one_line_error, run_cli
from ffdetect.checkpoint.model_format import (
    MAX_META_DEPTH,
    META_NAME,
    ModelFormatError,
    load_backbone_weights,
    load_detector,
    read_meta,
)
from ffdetect.checkpoint.safe_load import UnsafeCheckpointError, safe_torch_load
from ffdetect.errors import UserError
from ffdetect.train.checkpointing import load_training_state, recover_run_dir
from ffdetect.train.config import ModelConfig
from ffdetect.train.session import build_backbone
from test_detect_helpers import photo, save_tiny_model, write_png

BOMB_BYTES = 1 << 30
#: What refusing a bomb may cost: well under what inflating it would (1 GiB, seconds).
REFUSAL_SECONDS = 2.0
REFUSAL_PYTHON_BYTES = 32 << 20


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


def _declaring_a_huge_storage(path: Path, fmt: str) -> Path:
    """A real ``torch.save`` file (zip or legacy format) whose pickle declares a tensor of 2**31
    elements (8 GiB) while the file holds 777 of them."""
    buf = io.BytesIO()
    torch.save({"w": torch.zeros(777)}, buf, _use_new_zipfile_serialization=fmt == "zip")
    small, huge = b"M\x09\x03", b"J" + struct.pack("<i", 2**31 - 1)  # BININT2 777 -> BININT
    if fmt == "legacy":
        path.write_bytes(buf.getvalue().replace(small, huge))
        return path
    with zipfile.ZipFile(buf) as src, zipfile.ZipFile(path, "w") as out:
        for info in src.infolist():
            data = src.read(info)
            out.writestr(
                info, data.replace(small, huge) if info.filename.endswith(".pkl") else data
            )
    return path


@pytest.mark.parametrize("fmt", ["zip", "legacy"])
def test_a_declared_storage_larger_than_the_file_is_refused_quickly(tmp_path, fmt) -> None:
    """No bomb beyond the zip directory: torch checks each storage's declared size against the
    bytes the file holds (legacy files are not compressed) before filling it. A guard, not a fix:
    this passes without the zip size checks too."""
    path = _declaring_a_huge_storage(tmp_path / f"huge-{fmt}.pt", fmt)
    for mmap in (False, True):
        error = refused_cheaply(lambda m=mmap: safe_torch_load(path, mmap=m))
        assert str(path) in str(error)


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


# -- ffdetect.json: numbers are JSON numbers; any decoding failure is one line ------------------


@pytest.fixture
def model(tmp_path: Path) -> Path:
    return save_tiny_model(tmp_path / "model")


def edit_meta(model: Path, edit: Callable[[dict], object]) -> Path:
    meta_file = model / META_NAME
    data = json.loads(meta_file.read_text())
    edit(data)
    meta_file.write_text(json.dumps(data))
    return meta_file


@pytest.mark.parametrize(
    ("edit", "message"),
    [(lambda d: d["calibration"].update(threshold="0.5"), "calibration.threshold: expected float"),
     (lambda d: d["calibration"].update(c_min="0"), "calibration.c_min: expected float"),
     (lambda d: d["calibration"].update(gamma="1e0"), "calibration.gamma: expected float"),
     (lambda d: d["calibration"].update(target_fpr="0.05"), "calibration.target_fpr: expected"),
     (lambda d: d["calibration"].update(threshold=True), "calibration.threshold: expected float"),
     (lambda d: d["architecture"].update(depth=True), "architecture.depth: expected int"),
     (lambda d: d.update(format_version=True), "unsupported model format version True"),
     (lambda d: d.update(format_version=1.0), "unsupported model format version 1.0")],
)  # fmt: skip
def test_metadata_numbers_must_be_json_numbers(model, edit, message) -> None:
    meta_file = edit_meta(model, edit)
    with pytest.raises(ModelFormatError, match=re.escape(message)):
        read_meta(model)
    assert_one_line_error(*run_cli("info", str(model)), str(meta_file), message)


def _verbs(model: Path, tmp_path: Path) -> dict[str, list[str]]:
    """Every verb that reads a model's metadata, with the least it needs to get that far."""
    image = write_png(tmp_path / "a.png", photo(60))
    return {
        "info": ["info", str(model)],
        "detect": ["detect", str(image), "--model", str(model), "--aligned"],
        "evaluate": ["evaluate", "--model", str(model), "--data", str(tmp_path / "d"),
                     "--out", str(tmp_path / "o")],
        "calibrate": ["calibrate", "--model", str(model), "--results", str(tmp_path / "r.csv")],
        "serve": ["serve", "--model", str(model), "--port", "0"],
    }  # fmt: skip


@pytest.mark.parametrize(
    ("document", "message"),
    [("[" * 100_000 + "]" * 100_000, "nested deeper than Python can decode"),
     ({"format_version": 1, "provenance": functools.reduce(lambda a, _: [a], range(100), 1)},
      f"nested deeper than {MAX_META_DEPTH} levels"),
     ('{"format_version": 1' + "0" * 5000 + "}", "not readable JSON"),
     ('{"format_version": 1, "kind": ', "not readable JSON")],
)  # fmt: skip
@pytest.mark.parametrize("verb", ["info", "detect", "evaluate", "calibrate", "serve"])
def test_undecodable_metadata_is_one_line_naming_the_file(model, tmp_path, document, message, verb):
    text = document if isinstance(document, str) else json.dumps(document)
    (model / META_NAME).write_text(text)
    code, output = run_cli(*_verbs(model, tmp_path)[verb])
    assert_one_line_error(code, output, str(model / META_NAME), message)


# -- ONNX: a broken file is one line; a failed export leaves the previous file ------------------


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> Path:
    """A tiny model directory with a real ``model.onnx`` export."""
    pytest.importorskip("onnxruntime")
    model = save_tiny_model(tmp_path_factory.mktemp("onnx") / "model")
    code, output = run_cli("export", "--model", str(model), "--onnx", str(model / "model.onnx"),
                           "--exporter", "legacy")  # fmt: skip
    assert code == 0, output
    return model


@pytest.mark.parametrize(
    "damage",
    [lambda b: b[: len(b) // 2], lambda b: b[:10], lambda b: b"", lambda b: b"\xff" * 4096],
    ids=["half", "10-bytes", "empty", "garbage"],
)
@pytest.mark.parametrize("verb", ["detect", "serve"])
def test_a_broken_onnx_file_is_one_line_naming_it(exported, tmp_path, damage, verb) -> None:
    model = tmp_path / "model"
    shutil.copytree(exported, model)
    onnx = model / "model.onnx"
    onnx.write_bytes(damage(onnx.read_bytes()))
    args = {
        "detect": ["detect", str(write_png(tmp_path / "a.png", photo(60))), "--aligned"],
        "serve": ["serve", "--port", "0"],
    }[verb]
    code, output = run_cli(*args, "--model", str(model), "--backend", "onnx")
    assert_one_line_error(code, output, str(onnx), "not a readable ONNX model", "ffdetect export")


def _interrupted_export(exc: BaseException) -> Callable[..., None]:
    def export(detector, example, path: Path) -> None:
        Path(path).write_bytes(b"\x08\x07partial")
        raise exc

    return export


@pytest.mark.parametrize("exc", [RuntimeError("disk full"), KeyboardInterrupt()])
def test_a_failed_export_leaves_the_previous_file(exported, tmp_path, monkeypatch, exc) -> None:
    from ffdetect.inference import onnx_backend

    model = tmp_path / "model"
    shutil.copytree(exported, model)
    onnx = model / "model.onnx"
    before = onnx.read_bytes()
    for name in ("_export_dynamo", "_export_legacy"):
        monkeypatch.setattr(onnx_backend, name, _interrupted_export(exc))
    if isinstance(exc, KeyboardInterrupt):
        detector, meta = load_detector(model)
        with pytest.raises(KeyboardInterrupt):
            onnx_backend.export_onnx(detector, meta, onnx)
    else:
        code, output = run_cli("export", "--model", str(model), "--onnx", str(onnx))
        assert_one_line_error(code, output, "ONNX export failed", "disk full")
    assert onnx.read_bytes() == before
    assert sorted(p.name for p in model.iterdir()) == sorted(p.name for p in exported.iterdir())
