"""``benchmarks/compare_models.py``: paired AUC differences of two models on the same faces."""

from __future__ import annotations

import runpy
from pathlib import Path

import numpy as np
import pytest

from ffdetect.evaluation.metrics import write_frame_results

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
SCRIPT = BENCHMARKS / "compare_models.py"


@pytest.fixture()
def script(monkeypatch) -> dict:
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    return runpy.run_path(str(SCRIPT))


def _frames(folder: Path, scores: np.ndarray, labels: np.ndarray, ids: list[str]) -> None:
    write_frame_results(folder / "headshots_sbi.csv", ids, [0] * len(ids), labels, scores)


def test_paired_difference_is_centred_on_the_gap_and_refuses_other_faces(tmp_path, script) -> None:
    compare = script["compare"]
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


def _image_scores(path: Path, scenes: list[str], kinds: list[str], scores: np.ndarray) -> None:
    rows = ["scene,kind,faces,score"]
    rows += [
        f"{s},{k},1,{'' if np.isnan(v) else f'{v:.6f}'}"
        for s, k, v in zip(scenes, kinds, scores, strict=True)
    ]
    path.write_text("\n".join(rows) + "\n")


def test_ordinary_difference_is_paired_over_scenes_and_within_them(tmp_path, script) -> None:
    """Two models on the same ordinary-photo images (``ordinary_photos.py --scores``): the new
    one lifts every swap above its scene's untouched images, the old one does not, and both
    share each scene's level; self-blends score the same under both."""
    rng = np.random.default_rng(1)
    scenes, kinds = [], []
    for scene in range(8):
        for kind in ["untouched"] * 4 + ["swap_alpha", "swap_poisson+jpeg", "sbi_box"] * 2:
            scenes.append(f"s{scene}")
            kinds.append(kind)
    level = np.array([int(s[1:]) / 8 for s in scenes])  # scenes differ in their untouched level
    noise = rng.uniform(0, 0.05, len(kinds))
    swapped = np.array([k.startswith("swap") for k in kinds])
    old = level + noise
    new = old + 0.1 * swapped
    new[3] = np.nan  # no face found by one model: left out for both
    _image_scores(tmp_path / "new.csv", scenes, kinds, new)
    _image_scores(tmp_path / "old.csv", scenes, kinds, old)
    rows = script["compare_ordinary"](tmp_path / "new.csv", tmp_path / "old.csv", 300)
    (pooled, lo, hi), (within, wlo, whi) = rows["identity swaps"]
    assert pooled > 0 and 0 < lo < hi and within > 0.4 and 0 < wlo < whi
    assert rows["self-blends"][0][0] == pytest.approx(0.0)
    assert rows["self-blends"][1][0] == pytest.approx(0.0)

    _image_scores(tmp_path / "other.csv", scenes[::-1], kinds[::-1], old)
    with pytest.raises(ValueError, match="same images"):
        script["compare_ordinary"](tmp_path / "new.csv", tmp_path / "other.csv", 10)
