"""A short version of benchmarks/learning.py: the tiny competitive model learns self-blends.

The blends here are strong (strength 8: crude pastes) so that a 2-block model learns them in a
few hundred CPU steps; the benchmark measures the subtler task and reports its numbers.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ffdetect.config import load_config
from ffdetect.evaluation.evaluate import evaluate_model
from ffdetect.evaluation.metrics import compute_metrics, read_results
from ffdetect.synthesis.lfw_task import build_self_blended_task
from ffdetect.train.config import TrainConfig
from ffdetect.train.data import prepared_datasets
from ffdetect.train.run import train

CONFIG = Path(__file__).resolve().parents[1] / "configs" / "tiny-competitive.yaml"
OVERRIDES = [
    "model.img_size=32",
    "model.depth=2",
    "data.augment=false",
    "schedule.epochs=10",
    "schedule.warmup_epochs=2",
]


def test_tiny_competitive_model_beats_chance_on_unseen_identities(tmp_path) -> None:
    build_self_blended_task(
        tmp_path / "task", size=32, frames=4, strength=8.0, videos_per_identity=2
    )
    cfg = load_config(TrainConfig, CONFIG, OVERRIDES)
    train_set, val_set = prepared_datasets(cfg, tmp_path / "task")
    train(cfg, train_set, val_set, tmp_path / "run")
    [scored] = evaluate_model(
        tmp_path / "run" / "model", tmp_path / "task", "test", tmp_path / "out", num_workers=0
    )
    results = read_results(scored.results)
    assert scored.videos == 80  # 20 unseen identities x (2 real + 2 fake)
    auc = compute_metrics(results.labels, results.scores).auc
    assert auc > 0.6, auc
    losses = np.loadtxt(tmp_path / "run" / "log.csv", delimiter=",", skiprows=1, usecols=1)
    assert losses[-30:].mean() < losses[:30].mean()  # ce of the fused prediction went down
