"""``benchmarks/compare_models.py``: paired AUC differences of two models on the same faces."""

from __future__ import annotations

import runpy
from pathlib import Path

import numpy as np
import pytest

from ffdetect.evaluation.metrics import write_frame_results

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "compare_models.py"


def _frames(folder: Path, scores: np.ndarray, labels: np.ndarray, ids: list[str]) -> None:
    write_frame_results(folder / "headshots_sbi.csv", ids, [0] * len(ids), labels, scores)


def test_paired_difference_is_centred_on_the_gap_and_refuses_other_faces(tmp_path) -> None:
    compare = runpy.run_path(str(SCRIPT))["compare"]
    rng = np.random.default_rng(0)
    n = 200
    labels = np.r_[np.zeros(n), np.ones(n)].astype(int)
    ids = [f"{kind}/nba/P{i:03d}/0" for kind in ("untouched", "sbi") for i in range(n)]
    noise = rng.normal(size=2 * n)

    def prob(x: np.ndarray) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-x))

    _frames(tmp_path / "new", prob(noise + 1.5 * labels), labels, ids)  # separates better
    _frames(tmp_path / "old", prob(noise + 0.5 * labels), labels, ids)
    auc_new, auc_old, (diff, lo, hi) = compare(tmp_path / "new", tmp_path / "old", 200)[
        "headshots_sbi"
    ]
    assert auc_new > auc_old and diff == pytest.approx(auc_new - auc_old)
    assert 0 < lo < diff < hi

    _frames(tmp_path / "other", prob(noise), labels, [i.replace("P", "Q") for i in ids])
    with pytest.raises(ValueError, match="same faces"):
        compare(tmp_path / "new", tmp_path / "other", 10)
