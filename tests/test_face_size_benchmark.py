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

from package_marks import needs_celeba

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


@needs_celeba
def test_the_replay_redraws_the_build_and_reads_its_widths(tmp_path, face_size) -> None:
    """``plan_draws`` gives the build's own seeds and company: a crop drawn again from the plan
    equals the built file, scenes and swaps included; ``validation_faces`` finds a width for
    every validation row, the same for a draw's real and fake, within the drawn range."""
    from ffdetect.data.manifest import png_bytes
    from ffdetect.synthesis import real_faces as rf

    kwargs = {"size": 32, "variants": 2, "val_fraction": 0.5, "n_photos": 6, "recipe": rf.ORDINARY}
    rows = list(csv.DictReader(rf.build_real_face_task(tmp_path, **kwargs).open()))
    photos = rf.detect_photos(rf.celeba_photos()[:6], cache=tmp_path / "detections.json")
    plan = rf.plan_draws(photos, 2, 0.5, recipe=rf.ORDINARY)
    planned = {
        (rf.video_id(kind, p.item, v), p.split)
        for p in plan
        for v in range(len(p.seeds))
        for kind in ("real", "fake")
    }
    assert {(r["video_id"], r["split"]) for r in rows} == planned
    for p in plan[:2]:
        for label, kind in ((0, "real"), (1, "fake")):
            crop = rf.draw_sample(
                p.item.photo.rgb(),
                p.item.face,
                label,
                32,
                p.seeds[1],
                rf._detector(),
                p.company,
                rf.ORDINARY,
            )
            built = tmp_path / "faces" / rf.video_id(kind, p.item, 1) / "0000.png"
            assert png_bytes(crop) == built.read_bytes(), (kind, p.item.photo.identity)

    val = [r for r in rows if r["split"] == "val"]
    assert val
    scores = tmp_path / "scores.csv"
    scores.write_text(
        "video,label,predict,confidence\n"
        + "".join(f"{r['video_id']},{r['label']},0.5,0.9\n" for r in val)
    )
    faces = face_size["validation_faces"](
        tmp_path, scores, "ordinary", 2, 0, n_photos=6, val_fraction=0.5
    )
    assert len(faces) == len(val)
    assert all(rf.FACE_WIDTHS[0] - 1 <= f.width <= rf.FACE_WIDTHS[1] + 1 for f in faces)
    by_draw: dict[str, set[float]] = {}
    for r, f in zip(val, faces, strict=True):
        by_draw.setdefault(r["video_id"].split("/", 1)[1], set()).add(round(f.width, 6))
    assert all(len(w) == 1 for w in by_draw.values())
    assert len({w for ws in by_draw.values() for w in ws}) > 1


def test_auc_gain_is_paired_over_the_photos(face_size) -> None:
    gain = face_size["auc_gain"]
    labels = np.array([0, 1] * 20)
    groups = np.repeat(np.arange(20), 2)
    before = np.random.default_rng(3).random(40)
    assert gain(labels, before, before, groups, 100) == "+0.000 [+0.000, +0.000]"
    after = before + 0.3 * labels
    d, lo, hi = (float(x.strip("[],")) for x in gain(labels, before, after, groups, 200).split())
    assert 0 < lo <= d <= hi
