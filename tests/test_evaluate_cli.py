"""train -> calibrate -> evaluate from the command line on a small self-blended task."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ffdetect.checkpoint.model_format import read_meta
from ffdetect.cli import app
from ffdetect.evaluation.metrics import read_results
from ffdetect.synthesis.lfw_task import build_self_blended_task

runner = CliRunner()
CONFIG = Path(__file__).resolve().parents[1] / "configs" / "tiny-competitive.yaml"
TINY = ["model.img_size=32", "model.depth=1", "data.batch_size=8", "schedule.epochs=2"]


@pytest.fixture(scope="module")
def task(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("task")
    build_self_blended_task(out, size=32, frames=2, n_identities=12, fractions=(0.5, 0.25))
    return out


@pytest.fixture(scope="module")
def run_dir(task, tmp_path_factory) -> Path:
    run = tmp_path_factory.mktemp("run") / "r"
    args = ["train", "--config", str(CONFIG), "--data", str(task), "--out", str(run), *TINY]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    return run


def test_train_cli_exports_model_and_validation_results(run_dir) -> None:
    assert (run_dir / "model" / "model.safetensors").exists()
    assert read_meta(run_dir / "model").kind == "detector"
    val = read_results(run_dir / "val_results.csv")
    assert len(val.labels) == 6 and val.confidences is not None
    assert (run_dir / "epochs.csv").read_text().count("\n") == 3  # header + 2 epochs


def test_train_never_opens_test_images(task, tmp_path) -> None:
    hidden = []
    for png in (task / "faces").rglob("*.png"):
        hidden.append((png, png.read_bytes()))
    manifest = (task / "manifest.csv").read_text().splitlines()
    test_crops = {line.split(",")[6] for line in manifest[1:] if line.split(",")[3] == "test"}
    assert test_crops
    try:
        for crop in test_crops:
            (task / crop).unlink()
        result = runner.invoke(
            app,
            [
                "train",
                "--config",
                str(CONFIG),
                "--data",
                str(task),
                "--out",
                str(tmp_path / "r"),
                *TINY,
                "--max-steps",
                "2",
            ],
        )
        assert result.exit_code == 0, result.output
    finally:
        for png, data in hidden:
            png.write_bytes(data)


def test_calibrate_then_evaluate_uses_the_stored_calibration(run_dir, task, tmp_path) -> None:
    model = run_dir / "model"
    result = runner.invoke(
        app,
        [
            "calibrate",
            "--model",
            str(model),
            "--results",
            str(run_dir / "val_results.csv"),
            "--abstain",
            "0.2",
        ],
    )
    assert result.exit_code == 0, result.output
    calibration = read_meta(model).calibration
    assert calibration.method == "balanced_accuracy" and calibration.c_min > 0
    assert calibration.chosen_on.endswith("val_results.csv")

    out = tmp_path / "results"
    result = runner.invoke(
        app, ["evaluate", "--model", str(model), "--data", str(task), "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    test = read_results(out / "selfblend-lfw.csv")
    assert len(test.labels) == 6 and sorted(set(test.labels.tolist())) == [0, 1]
    frames = (out / "selfblend-lfw_frames.csv").read_text().splitlines()
    assert frames[0] == "video,frame,label,predict,confidence" and len(frames) == 1 + 12
    report = json.loads((out / "metrics.json").read_text())
    assert report["threshold"] == pytest.approx(calibration.threshold)
    assert report["c_min"] == pytest.approx(calibration.c_min)
    plain, row = report["rows"]  # the plain mean first, then the score detect decides on
    assert plain["name"] == "selfblend-lfw" and plain["acc_threshold"] is None
    assert row["name"] == f"selfblend-lfw [confidence-weighted, gamma={calibration.gamma:g}]"
    assert row["n_frames"] == 12 and 0.0 <= row["coverage"] <= 1.0
    assert row["acc_threshold"] is not None and row["frame_auc"] is not None


def test_calibrate_needs_exactly_one_source(run_dir) -> None:
    result = runner.invoke(app, ["calibrate", "--model", str(run_dir / "model")])
    assert result.exit_code != 0 and "exactly one" in result.output


def test_calibrate_faces_per_image_tightens_the_per_face_target(run_dir) -> None:
    model = run_dir / "model"
    thresholds = {}
    for n in (1, 4):
        args = ["calibrate", "--model", str(model), "--results", str(run_dir / "val_results.csv")]
        args += ["--target-fpr", "0.3", "--faces-per-image", str(n)]
        result = runner.invoke(app, args)
        assert result.exit_code == 0, result.output
        calibration = read_meta(model).calibration
        thresholds[n] = calibration.threshold
    assert "per image of 4 real faces" in result.output
    assert calibration.stats["faces_per_image"] == 4
    assert calibration.stats["per_face_target_fpr"] == pytest.approx(1 - 0.7**0.25)
    assert thresholds[4] >= thresholds[1]
