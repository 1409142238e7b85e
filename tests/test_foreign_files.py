"""``train --init``, ``train --resume`` and ``pretrain --init`` with foreign or hostile files:
real configs load, malicious and broken files are one error line (exit 2), never a traceback."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from ffdetect.cli import app
from ffdetect.models import create_backbone
from ffdetect.models.backbone import architecture_for

sys.path.insert(0, str(Path(__file__).parent))
from prepared_support import write_prepared  # noqa: E402

runner = CliRunner()
CONFIGS = Path(__file__).resolve().parents[1] / "configs"
TRAIN_CONFIG = CONFIGS / "tiny-competitive.yaml"
PRETRAIN_CONFIG = CONFIGS / "pretrain" / "tiny-pixel.yaml"
TINY = ["model.img_size=32", "model.depth=1", "data.batch_size=8", "schedule.epochs=1"]
FORMATS = {"zip": True, "legacy": False}


class _Exploit:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    return write_prepared(tmp_path_factory.mktemp("prepared"), size=32)


def _tiny_backbone_state() -> dict[str, torch.Tensor]:
    return create_backbone(architecture_for("tiny", 32, 8, 1)).state_dict()


def _evil_file(path: Path, marker: Path, fmt: str) -> Path:
    obj = {"model": _tiny_backbone_state(), "payload": _Exploit(marker)}
    torch.save(obj, path, _use_new_zipfile_serialization=FORMATS[fmt])
    return path


def _one_line_error(result, path: Path) -> str:
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("error: ")]
    assert len(errors) == 1 and str(path) in errors[0], result.output
    assert "Traceback" not in result.output and not any('File "' in line for line in lines)
    return errors[0]


def _train(data: Path, out: Path, *extra: str):
    args = ["train", "--config", str(TRAIN_CONFIG), "--data", str(data), "--out", str(out)]
    return runner.invoke(app, [*args, *TINY, *extra])


@pytest.mark.parametrize("fmt", FORMATS)
def test_train_init_refuses_a_malicious_file_in_one_line(data, tmp_path, fmt) -> None:
    marker = tmp_path / "pwned"
    evil = _evil_file(tmp_path / "evil.pth", marker, fmt)
    line = _one_line_error(_train(data, tmp_path / "run", "--init", str(evil)), evil)
    assert "refusing to load" in line and "system" in line
    assert not marker.exists()


def test_train_init_reads_a_unilm_style_legacy_file(data, tmp_path) -> None:
    import argparse

    src = tmp_path / "beitv2.pth"
    torch.save(
        {"model": _tiny_backbone_state(), "args": argparse.Namespace(lr=1.5e-3), "epoch": 1},
        src,
        _use_new_zipfile_serialization=False,
    )
    result = _train(data, tmp_path / "run", "--init", str(src), "--max-steps", "1")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "run" / "model" / "model.safetensors").is_file()


def test_train_resume_refuses_a_malicious_last_checkpoint(data, tmp_path) -> None:
    marker = tmp_path / "pwned"
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    last = _evil_file(run / "checkpoints" / "last.pt", marker, "zip")
    line = _one_line_error(_train(data, run, "--resume"), last)
    assert "refusing to load" in line
    assert not marker.exists()


def test_train_resume_with_a_corrupt_last_checkpoint_is_one_line(data, tmp_path) -> None:
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    last = run / "checkpoints" / "last.pt"
    last.write_bytes(b"PK\x03\x04 cut short by a full disk")
    assert "not a readable" in _one_line_error(_train(data, run, "--resume"), last)


@pytest.mark.parametrize("fmt", FORMATS)
def test_pretrain_init_refuses_a_malicious_file_in_one_line(data, tmp_path, fmt) -> None:
    marker = tmp_path / "pwned"
    evil = _evil_file(tmp_path / "evil.pth", marker, fmt)
    args = ["pretrain", "--config", str(PRETRAIN_CONFIG), "--data", str(data)]
    args += ["--out", str(tmp_path / "run"), "--init", str(evil)]
    overrides = ["model.img_size=32", "model.depth=1", "data.batch_size=4"]
    result = runner.invoke(app, [*args, *overrides])
    assert "refusing to load" in _one_line_error(result, evil)
    assert not marker.exists()


def test_base_recipe_without_init_warns_once(data, tmp_path) -> None:
    """configs/competitive.yaml fine-tunes a pre-trained base backbone: from scratch it warns."""
    from ffdetect.config import load_config
    from ffdetect.train.config import TrainConfig, recipe_warnings

    cfg = load_config(TrainConfig, CONFIGS / "competitive.yaml")
    (warning,) = recipe_warnings(cfg)
    assert "--init" in warning and "from scratch" in warning
    with_init = load_config(TrainConfig, CONFIGS / "competitive.yaml", ["model.init=x.pth"])
    assert recipe_warnings(with_init) == []
    assert recipe_warnings(load_config(TrainConfig, TRAIN_CONFIG)) == []
