"""``benchmarks/ordinary_photos.py``: the per-image comparisons that do not mix scenes.

Scores are set by hand here; the end-to-end run of the benchmark on the packages' photos is
``make photos`` then the command in benchmarks/results/real_faces.md (minutes of MTCNN).
"""

from __future__ import annotations

import runpy
from pathlib import Path

import numpy as np
import pytest

from ffdetect.evaluation.decision import rank_auc

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.fixture()
def ordinary(monkeypatch) -> dict:
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    return runpy.run_path(str(BENCHMARKS / "ordinary_photos.py"))


def _auc(text: str) -> float:
    return float(text.split()[0])


def test_within_scene_auc_ignores_how_high_a_scene_scores(ordinary) -> None:
    within = ordinary["within_scene_auc"]
    # A crowded scene scores high, forged or not, and gives most forgeries; a portrait scores low.
    scenes = np.array(["crowd"] * 8 + ["portrait"] * 4)
    labels = np.array([0, 0, 1, 1, 1, 1, 1, 1, 0, 0, 1, 1])
    scores = np.array([0.9, 0.8, 0.9, 0.8, 0.9, 0.8, 0.9, 0.8, 0.2, 0.1, 0.2, 0.1])
    pooled = rank_auc(labels, scores)
    assert pooled > 0.6
    assert _auc(within(labels, scores, scenes, 200)) == pytest.approx(0.5)

    lifted = scores + 0.15 * labels  # every forgery above the untouched of its scene
    text = within(labels, lifted, scenes, 200)
    assert _auc(text) == pytest.approx(1.0)
    lo, hi = (float(x) for x in text.split("[")[1].rstrip("]").split(","))
    assert lo == hi == pytest.approx(1.0)


def test_within_scene_auc_without_pairs_says_so(ordinary) -> None:
    scenes = np.array(["a", "a", "b"])
    text = ordinary["within_scene_auc"](np.array([0, 0, 1]), np.array([0.1, 0.2, 0.3]), scenes, 50)
    assert text == "n/a"


def test_twin_lift_compares_each_forgery_with_its_own_untouched_image(ordinary) -> None:
    sample = ordinary["Sample"]
    twin_a = sample("s", "untouched", "a", np.zeros(1), score=0.5)
    twin_b = sample("s", "untouched", "b", np.zeros(1), score=0.9)
    forged = [
        sample("s", "sbi_box", "a", np.zeros(1), score=0.7, twin=twin_a),  # +0.2
        sample("s", "sbi_box", "b", np.zeros(1), score=0.8, twin=twin_b),  # -0.1
        sample("s", "sbi_box", "b", np.zeros(1), score=None, twin=twin_b),  # no face: left out
    ]
    assert ordinary["twin_lift"](forged) == "0.500 | +0.050"
    assert ordinary["twin_lift"](forged[2:]) == "n/a | n/a"
