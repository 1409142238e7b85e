"""Two models on the same held-out photos: paired AUC differences with bootstrap intervals.

    python benchmarks/compare_models.py --new FRAMES_NEW --old FRAMES_OLD [--draws 1000]
    python benchmarks/compare_models.py --new NEW.csv --old OLD.csv [--draws 1000]

``FRAMES_NEW`` and ``FRAMES_OLD`` are the ``--frames`` folders that ``benchmarks/real_faces.py``
wrote for two models (same ``--photos`` and ``--seed``, so the same photos and forgeries). For
every ``*_frames.csv`` in both, the faces are matched by id, and each photo's untouched and
forged faces are resampled together (bootstrap over photos, the same draws for both models), so
the interval is that of the difference itself, not of two separate AUCs.

``NEW.csv`` and ``OLD.csv`` are the ``--scores`` files that ``benchmarks/ordinary_photos.py``
wrote for two models (same ``--seed``, so the same images in the same order): per forgery
family, the per-image AUC difference pooled and within the scene, bootstrap over scenes.
Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import csv
import shlex
import sys
from pathlib import Path

import numpy as np
from ordinary_photos import FAMILIES, METHODS, resampled_win_rates, scene_wins

from ffdetect.evaluation.decision import bootstrap, rank_auc
from ffdetect.evaluation.metrics import read_frame_results


def photo_key(face_id: str) -> str:
    """The photo of a face id of ``real_faces.py`` (``KIND/SOURCE/NAME/FACE``): ``SOURCE/NAME``."""
    return face_id.split("/", 1)[1].rsplit("/", 1)[0]


def compare(new: Path, old: Path, draws: int) -> dict[str, tuple[float, float, tuple]]:
    """For each frame file in both folders: (AUC new, AUC old, (difference, CI low, CI high))."""
    out = {}
    for path in sorted(new.glob("*_frames.csv")):
        if not (old / path.name).is_file():
            continue
        a, b = read_frame_results(path), read_frame_results(old / path.name)
        ids = [f"{v}#{f}" for v, f in zip(a.videos, a.frames, strict=True)]
        old_scores = {f"{v}#{f}": s for v, f, s in zip(b.videos, b.frames, b.scores, strict=True)}
        if sorted(ids) != sorted(old_scores):
            raise ValueError(f"{path.name}: the two folders do not hold the same faces")
        y, p_new = np.asarray(a.labels), np.asarray(a.scores)
        p_old = np.asarray([old_scores[i] for i in ids])

        def aucs(i: np.ndarray, y=y, p_new=p_new, p_old=p_old) -> dict[str, float]:
            new_auc, old_auc = rank_auc(y[i], p_new[i]), rank_auc(y[i], p_old[i])
            return {"difference": new_auc - old_auc}

        groups = np.asarray([photo_key(v) for v in a.videos])
        interval = bootstrap(aucs, groups, draws)["difference"]
        point = aucs(np.arange(len(y)))["difference"]
        name = path.name.removesuffix("_frames.csv")
        out[name] = (rank_auc(y, p_new), rank_auc(y, p_old), (point, *interval))
    return out


def read_image_scores(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Scene, kind and verdict score (NaN: no face found) of each image of an
    ``ordinary_photos.py --scores`` file, in its order."""
    with path.open(newline="") as f:
        rows = list(csv.DictReader(f))
    scenes = np.array([r["scene"] for r in rows])
    kinds = np.array([r["kind"] for r in rows])
    scores = np.array([float(r["score"]) if r["score"] else np.nan for r in rows])
    return scenes, kinds, scores


def compare_ordinary(
    new: Path, old: Path, draws: int, seed: int = 0
) -> dict[str, tuple[tuple[float, float, float], tuple[float, float, float]]]:
    """Per forgery family of ``ordinary_photos.py`` (and all forgeries): the per-image AUC
    difference new - old against the untouched images, (point, CI low, CI high) pooled and
    within the scene (:func:`ordinary_photos.within_scene_auc`). Images where either model has
    no score, and families without a forged image, are left out; both models' pairs are drawn
    with the same scenes (bootstrap 95%)."""
    scenes, kinds, new_scores = read_image_scores(new)
    old_scenes, old_kinds, old_scores = read_image_scores(old)
    if scenes.tolist() != old_scenes.tolist() or kinds.tolist() != old_kinds.tolist():
        raise ValueError(f"{new} and {old} do not hold the same images")
    scored = ~np.isnan(new_scores) & ~np.isnan(old_scores)
    out = {}
    for family, methods in {**FAMILIES, "all forgeries": METHODS}.items():
        forged = np.isin(kinds, [k for m in methods for k in (m, f"{m}+jpeg")])
        keep = scored & (forged | (kinds == "untouched"))
        y, groups = forged[keep].astype(int), scenes[keep]
        if not y.any():
            continue
        a, b = new_scores[keep], old_scores[keep]

        def gap(i: np.ndarray, y=y, a=a, b=b) -> dict[str, float]:
            return {"difference": rank_auc(y[i], a[i]) - rank_auc(y[i], b[i])}

        pooled = (
            gap(np.arange(len(y)))["difference"],
            *bootstrap(gap, groups, draws)["difference"],
        )
        (win_a, pairs), (win_b, _) = scene_wins(y, a, groups), scene_wins(y, b, groups)
        diffs = resampled_win_rates(win_a - win_b, pairs, draws, seed)
        within = ((win_a.sum() - win_b.sum()) / pairs.sum(), *np.percentile(diffs, [2.5, 97.5]))
        out[family] = (pooled, within)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--new", type=Path, required=True, help="new model's frames or CSV")
    parser.add_argument("--old", type=Path, required=True, help="old model's frames or CSV")
    parser.add_argument("--draws", type=int, default=1000, help="bootstrap draws")
    args = parser.parse_args()
    if args.new.is_file():
        print(f"`python {shlex.join(sys.argv)}`\n")
        print("| family | new - old, per image [95% CI] | within the scene [95% CI] |")
        print("| --- | --- | --- |")
        for family, cells in compare_ordinary(args.new, args.old, args.draws).items():
            text = [f"{d:+.3f} [{lo:+.3f}, {hi:+.3f}]" for d, lo, hi in cells]
            print(f"| {family} | {' | '.join(text)} |")
        return
    rows = compare(args.new, args.old, args.draws)
    if not rows:
        raise SystemExit(f"no *_frames.csv file in both {args.new} and {args.old}")
    print(f"`python {shlex.join(sys.argv)}`\n")
    print("| set | AUC new | AUC old | new - old [95% CI, paired over photos] |")
    print("| --- | --- | --- | --- |")
    for name, (auc_new, auc_old, (d, lo, hi)) in rows.items():
        print(f"| {name} | {auc_new:.3f} | {auc_old:.3f} | {d:+.3f} [{lo:+.3f}, {hi:+.3f}] |")


if __name__ == "__main__":
    main()
