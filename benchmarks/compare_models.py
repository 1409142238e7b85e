"""Two models on the same held-out photos: paired AUC differences with bootstrap intervals.

    python benchmarks/compare_models.py --new FRAMES_NEW --old FRAMES_OLD [--draws 1000]

``FRAMES_NEW`` and ``FRAMES_OLD`` are the ``--frames`` folders that ``benchmarks/real_faces.py``
wrote for two models (same ``--photos`` and ``--seed``, so the same photos and forgeries). For
every ``*_frames.csv`` in both, the faces are matched by id, and each photo's untouched and
forged faces are resampled together (bootstrap over photos, the same draws for both models), so
the interval is that of the difference itself, not of two separate AUCs. Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

import numpy as np

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--new", type=Path, required=True, help="frames folder of the new model")
    parser.add_argument("--old", type=Path, required=True, help="frames folder of the old model")
    parser.add_argument("--draws", type=int, default=1000, help="bootstrap draws")
    args = parser.parse_args()
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
