"""``benchmarks/face_size.py``: the per-size correction and the replay of a build's draws.

Scores are drawn here; the end-to-end run on the calibration set and the held-out photos is the
command in benchmarks/results/real_faces.md (minutes of MTCNN and scoring).
"""

from __future__ import annotations

import csv
import runpy
from pathlib import Path

import numpy as np
import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.fixture()
def face_size(monkeypatch) -> dict:
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    return runpy.run_path(str(BENCHMARKS / "face_size.py"))


def _faces(face_size: dict, n: int, seed: int) -> list:
    """Real faces that score higher the smaller they are; fakes 1 above their own bin's reals."""
    rng = np.random.default_rng(seed)
    widths = np.exp(rng.uniform(np.log(28), np.log(200), n))
    offset = 2.0 * (np.log(200) - np.log(widths))  # small faces: large offset
    forged = rng.random(n) < 0.5
    logits = offset + forged + rng.normal(size=n)
    p = 1 / (1 + np.exp(-logits))
    make = face_size["ScoredFace"]
    return [
        make(
            float(p[i]),
            float(widths[i]),
            bool(forged[i]),
            i,
            f"person{i % 40}",
            "sbi" if forged[i] else "untouched",
        )
        for i in range(n)
    ]


def test_size_remap_evens_the_false_alarms_across_face_sizes(face_size) -> None:
    faces = _faces(face_size, 6000, 0)
    real = [f for f in faces if not f.forged]
    p = np.array([f.p for f in real])
    w = np.array([f.width for f in real])
    remap = face_size["SizeRemap"](p, w)
    mapped = remap(p, w)
    t = np.quantile(p, 0.95)
    bins = np.digitize(w, face_size["EDGES"])
    raw_rates = [np.mean(p[bins == b] >= t) for b in range(5)]
    mapped_rates = [np.mean(mapped[bins == b] >= t) for b in range(5)]
    assert max(raw_rates) - min(raw_rates) > 0.15  # the small faces raise most false alarms
    assert max(mapped_rates) - min(mapped_rates) < 0.03
    in_bin = bins == 0  # the order within a bin is kept
    assert np.all(np.diff(mapped[in_bin][np.argsort(p[in_bin])]) >= -1e-12)


def test_size_remap_needs_real_faces_in_every_bin(face_size) -> None:
    with pytest.raises(ValueError, match="every width bin"):
        face_size["SizeRemap"](np.array([0.1, 0.2, 0.3]), np.array([30.0, 35.0, 150.0]))


def test_cross_fitted_auc_gains_where_size_moves_the_real_scores(face_size) -> None:
    raw, mapped = face_size["cross_fitted_auc"](_faces(face_size, 4000, 1))
    assert mapped > raw + 0.05


def test_bin_table_counts_each_face_once(face_size) -> None:
    faces = _faces(face_size, 500, 2)
    beside = face_size["ScoredFace"](0.99, 50.0, False, 0, "person0", "sbi")  # a repeat
    rows = face_size["bin_table"]([*faces, beside], 0.9)[2:]
    assert len(rows) == len(face_size["EDGES"]) + 1
    counted = sum(int(r.split("|")[2]) + int(r.split("|")[5]) for r in rows)
    assert counted == len(faces)


def test_plan_draws_names_every_draw_of_a_build(tmp_path) -> None:
    from ffdetect.synthesis.real_faces import (
        ORDINARY,
        build_real_face_task,
        celeba_photos,
        detect_photos,
        plan_draws,
        video_id,
    )

    kwargs = {"size": 32, "variants": 2, "n_photos": 6, "recipe": ORDINARY}
    manifest = build_real_face_task(tmp_path, **kwargs)
    built = {(row["video_id"], row["split"]) for row in csv.DictReader(manifest.open())}
    photos = detect_photos(celeba_photos()[:6], cache=tmp_path / "detections.json")
    planned = {
        (video_id(kind, plan.item, v), plan.split)
        for plan in plan_draws(photos, 2, recipe=ORDINARY)
        for v in range(len(plan.seeds))
        for kind in ("real", "fake")
    }
    assert built == planned


def test_auc_gain_is_paired_over_the_photos(face_size) -> None:
    gain = face_size["auc_gain"]
    labels = np.array([0, 1] * 20)
    groups = np.repeat(np.arange(20), 2)
    before = np.random.default_rng(3).random(40)
    assert gain(labels, before, before, groups, 100) == "+0.000 [+0.000, +0.000]"
    after = before + 0.3 * labels
    d, lo, hi = (float(x.strip("[],")) for x in gain(labels, before, after, groups, 200).split())
    assert 0 < lo <= d <= hi
