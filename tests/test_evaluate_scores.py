"""``evaluate`` reports the plain mean of frame p_fake first (the paper's video score), and the
confidence-weighted score beside it, named as such."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score
from typer.testing import CliRunner

from ffdetect.checkpoint.metadata import Calibration
from ffdetect.cli import app
from ffdetect.evaluation.evaluate import evaluation_rows
from ffdetect.evaluation.metrics import (
    read_frame_results,
    read_results,
    write_frame_results,
    write_results,
)
from ffdetect.models import CompetitiveDetector

sys.path.insert(0, str(Path(__file__).parent))
from prepared_support import write_prepared  # noqa: E402
from test_checkpoint import authors_state_dict  # noqa: E402

runner = CliRunner()

#: video -> label, frames (p_fake, confidence): plain means give AUC 0.625, weighting by
#: confidence (gamma 1) gives 1.0.
VIDEOS = {
    "real_a": (0, [(0.1, 0.9), (0.9, 0.1)]),
    "real_b": (0, [(0.4, 0.5), (0.4, 0.5)]),
    "fake_c": (1, [(0.45, 0.5), (0.45, 0.5)]),
    "fake_d": (1, [(0.8, 0.9), (0.2, 0.1)]),
}


@pytest.fixture
def results_file(tmp_path) -> Path:
    path = tmp_path / "toy.csv"
    names = list(VIDEOS)
    labels = [VIDEOS[v][0] for v in names]
    frames = [(v, i, VIDEOS[v][0], p, c) for v in names for i, (p, c) in enumerate(VIDEOS[v][1])]
    plain = [np.mean([p for p, _ in VIDEOS[v][1]]) for v in names]
    write_results(path, names, labels, plain, [0.5] * len(names))
    write_frame_results(path, *zip(*frames, strict=True))
    return path


def test_plain_mean_first_then_confidence_weighted(results_file) -> None:
    calibration = Calibration(threshold=0.3, c_min=0.2, gamma=1.0, method="balanced_accuracy")
    plain, weighted = evaluation_rows([results_file], calibration)
    assert plain.name == "toy" and plain.metrics.auc == pytest.approx(0.625)
    assert plain.metrics.acc_threshold is None and plain.metrics.coverage is None
    assert weighted.name == "toy [confidence-weighted, gamma=1]"
    assert weighted.metrics.auc == pytest.approx(1.0)
    assert weighted.metrics.threshold == 0.3 and weighted.metrics.coverage is not None
    assert weighted.scores[0] == pytest.approx((0.1 * 0.9 + 0.9 * 0.1) / 1.0)


def test_gamma_zero_is_one_row_with_the_calibration(results_file) -> None:
    (row,) = evaluation_rows([results_file], Calibration(threshold=0.42, gamma=0.0))
    assert row.name == "toy" and row.metrics.auc == pytest.approx(0.625)
    assert row.metrics.acc_threshold is not None


def test_evaluate_on_a_converted_model_reports_the_plain_mean_auc(tmp_path, tiny_arch) -> None:
    model = CompetitiveDetector.build(tiny_arch).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.05 * torch.randn_like(p))
        model.head.fc.weight.mul_(4.0)  # spread frame scores and confidences
    src = tmp_path / "authors.pth"
    torch.save({"state_dict": authors_state_dict(model), "epoch": 9}, src)
    assert runner.invoke(app, ["convert", str(src), "--out", str(tmp_path / "m")]).exit_code == 0
    data = write_prepared(tmp_path / "data", size=32, videos={"test": 12}, frames=3)

    out = tmp_path / "results"
    args = ["evaluate", "--model", str(tmp_path / "m"), "--data", str(data), "--out", str(out)]
    result = runner.invoke(app, [*args, "--workers", "0"])
    assert result.exit_code == 0, result.output
    assert "confidence-weighted" in result.output

    frames = read_frame_results(out / "tiny_frames.csv")
    videos = sorted(set(frames.videos))
    plain = np.array([frames.scores[frames.videos == v].mean() for v in videos])
    conf = {v: frames.confidences[frames.videos == v] for v in videos}
    weighted = np.array(
        [np.average(frames.scores[frames.videos == v], weights=conf[v]) for v in videos]
    )
    labels = np.array([frames.labels[frames.videos == v][0] for v in videos])
    assert not np.allclose(plain, weighted)  # the two scores really differ here

    video_file = read_results(out / "tiny.csv")
    order = np.argsort(video_file.videos)
    np.testing.assert_allclose(video_file.scores[order], plain, atol=1e-12)
    report = json.loads((out / "metrics.json").read_text())
    first, second = report["rows"]
    assert first["name"] == "tiny" and first["auc"] == pytest.approx(roc_auc_score(labels, plain))
    assert second["name"] == "tiny [confidence-weighted, gamma=1]"
    assert second["auc"] == pytest.approx(roc_auc_score(labels, weighted))
    assert report["gamma"] == 1.0 and "plain mean" in report["video_score"]
    assert "plain mean of frame P(fake)" in (out / "metrics.md").read_text()
