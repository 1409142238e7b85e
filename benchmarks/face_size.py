"""How a detector's scores depend on the size of the face, and whether correcting for it pays.

    make photos
    python benchmarks/face_size.py --model MODEL --data CAL --scores CAL/scores/celeba-sbi.csv
                                   [--recipe ordinary] [--variants 24] --out FILE.md

``CAL`` is the validation build of ``demo_model/make_demo_model.sh`` (``python -m
ffdetect.synthesis.real_faces build CAL --recipe ordinary --splits val``, its ``detections.json``
kept) and ``--scores`` the ``ffdetect evaluate`` results on it, the file the shipped threshold was
calibrated on. The build does not store the face width of a draw; it is replayed here
(:func:`ffdetect.synthesis.real_faces.plan_draws`, the same seeds), so the build's options must be
given again (``--recipe``, ``--variants``, ``--build-seed``; a build of all the photos). A
validation width is the photo's face box rescaled by the draw; a held-out width is the box MTCNN
finds.

Three sets, per face-box width (in the image's own pixels; bins :data:`EDGES`):

* **validation people**: the drawn real and forged faces of the calibration set;
* **headshots**: the NBA headshots untouched, self-blended and swapped
  (``benchmarks/real_faces.py``);
* **ordinary photos**: the photos, variants and forgeries of ``benchmarks/ordinary_photos.py``.

Then a per-size correction fitted on the validation real faces only (:class:`SizeRemap`: a face's
score replaced by the score of equal rank among all validation real faces, its rank taken among
the real faces of its width bin, so every bin's false alarms at a threshold are alike), measured
against the raw scores: validation AUC cross-fitted over two halves of the people, and per image
(the highest face) on the two held-out sets.
"""

from __future__ import annotations

import argparse
import csv
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from ordinary_photos import DEFAULT_PHOTOS, FAMILIES, METHODS
from ordinary_photos import samples as ordinary_samples
from real_faces import (
    FORGED_IOU,
    Sample,
    auc_with_interval,
    headshot_samples,
    publish,
    report_header,
)

from ffdetect.data.tracking import iou
from ffdetect.evaluation.decision import bootstrap, rank_auc
from ffdetect.inference.pipeline import DetectionPipeline
from ffdetect.synthesis.real_faces import (
    RECIPES,
    VAL_FRACTION,
    celeba_photos,
    detect_photos,
    draw_image,
    plan_draws,
    video_id,
)
from ffdetect.synthesis.sources import nba_headshots, ordinary_photos

#: Upper edges of the width bins (px): under 40, 40-60, 60-100, 100-140, 140 and over.
EDGES = (40.0, 60.0, 100.0, 140.0)


@dataclass(frozen=True)
class ScoredFace:
    """One face: its score, its box width, whether it is forged, the index of its image, its
    photo (the bootstrap group) and its image's kind (``untouched`` or how it was forged)."""

    p: float
    width: float
    forged: bool
    image: int
    photo: str
    kind: str


def bin_names() -> list[str]:
    """Readable names of the width bins of :data:`EDGES`."""
    lows = ("", *(f"{e:g}" for e in EDGES))
    highs = (*(f"{e:g}" for e in EDGES), "")
    return [
        f"{lo or '<'}{'-' if lo and hi else ''}{hi or '+'} px"
        for lo, hi in zip(lows, highs, strict=True)
    ]


class SizeRemap:
    """A face's score mapped to the score of equal rank among all the reference real faces,
    its rank taken among the reference real faces of its own width bin (quantile mapping).
    Ranks are clamped to [0, 1]: every score above its bin's highest reference maps to the
    highest pooled one, so such faces tie (forged or real); tied references share a rank."""

    def __init__(self, scores: np.ndarray, widths: np.ndarray, edges: tuple[float, ...] = EDGES):
        self.edges = edges
        self.pooled = np.sort(scores)
        bins = np.digitize(widths, edges)
        self.by_bin = [np.sort(scores[bins == b]) for b in range(len(edges) + 1)]
        if any(len(ref) < 2 for ref in self.by_bin):
            raise ValueError("every width bin needs at least two reference real faces")

    def __call__(self, scores: np.ndarray, widths: np.ndarray) -> np.ndarray:
        """The remapped ``scores`` of faces ``widths`` wide."""
        scores = np.asarray(scores, dtype=float)
        bins = np.digitize(widths, self.edges)
        ranks = np.empty(len(scores))
        for b, ref in enumerate(self.by_bin):
            here = bins == b
            ranks[here] = np.interp(scores[here], ref, np.linspace(0.0, 1.0, len(ref)))
        return np.quantile(self.pooled, ranks)


def validation_faces(
    data: Path,
    scores: Path,
    recipe: str,
    variants: int,
    seed: int,
    n_photos: int | None = None,
    val_fraction: float = VAL_FRACTION,
) -> list[ScoredFace]:
    """The calibration set's faces with their evaluate scores and replayed draw widths (the
    build's options: ``recipe``, ``variants``, ``seed``, ``n_photos``, ``val_fraction``)."""
    drawn_with = RECIPES[recipe]
    photos = detect_photos(celeba_photos()[:n_photos], cache=data / "detections.json")
    width = {}
    for plan in plan_draws(photos, variants, val_fraction, seed, drawn_with):
        if plan.split != "val":
            continue
        image = plan.item.photo.rgb()
        for v, draw_seeds in enumerate(plan.seeds):
            _, face = draw_image(
                image, plan.item.face, 0, draw_seeds, company=plan.company, recipe=drawn_with
            )
            for kind in ("real", "fake"):  # a draw's real and fake share its geometry
                width[video_id(kind, plan.item, v)] = float(face.box[2] - face.box[0])
    faces = []
    with scores.open(newline="") as f:
        for i, row in enumerate(csv.DictReader(f)):
            if row["video"] not in width:
                raise ValueError(f"{row['video']} of {scores} is not a draw of this build")
            faces.append(
                ScoredFace(
                    float(row["predict"]),
                    width[row["video"]],
                    row["label"] == "1",
                    i,
                    row["video"].split("/", 1)[1].rsplit("_", 1)[0],
                    "forged" if row["label"] == "1" else "untouched",
                )
            )
    return faces


def held_out_faces(
    pipeline: DetectionPipeline, made: Iterable[Sample]
) -> tuple[list[ScoredFace], int, int]:
    """Every face that ``detect`` finds in each held-out image, scored; then the number of
    images and of those where it finds none (left out of every table)."""
    faces, images, faceless = [], 0, 0
    for images, sample in enumerate(made, start=1):
        found = pipeline.run_image(sample.rgb).faces
        faceless += not found
        for f in found:
            forged = sample.forged_box is not None and iou(f.box, sample.forged_box) >= FORGED_IOU
            faces.append(
                ScoredFace(
                    float(f.p_fake), f.box[2] - f.box[0], forged, images, sample.photo, sample.kind
                )
            )
    return faces, images, faceless


def bin_table(faces: list[ScoredFace], t: float) -> list[str]:
    """Per width bin: real and forged faces, the real faces' mean score, the share of each at or
    above ``t``, and the AUC of forged against real faces within the bin. The real faces are
    those of untouched images: the real faces beside a forged one repeat them, so they are left
    out, as in ``benchmarks/real_faces.py``."""
    faces = [f for f in faces if f.forged or f.kind == "untouched"]
    lines = [
        "| face width | real faces | real: mean score | real: at or above t* | forged faces "
        "| forged: at or above t* | AUC within the bin |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    p = np.array([f.p for f in faces])
    forged = np.array([f.forged for f in faces])
    bins = np.digitize([f.width for f in faces], EDGES)
    for b, name in enumerate(bin_names()):
        real, fake = p[(bins == b) & ~forged], p[(bins == b) & forged]
        auc = (
            f"{rank_auc(np.r_[np.zeros(len(real)), np.ones(len(fake))], np.r_[real, fake]):.3f}"
            if len(real) and len(fake)
            else "-"
        )
        mean = f"{real.mean():.3f}" if len(real) else "-"
        real_rate = f"{np.mean(real >= t):.3f}" if len(real) else "-"
        fake_rate = f"{np.mean(fake >= t):.3f}" if len(fake) else "-"
        lines.append(
            f"| {name} | {len(real)} | {mean} | {real_rate} | {len(fake)} | {fake_rate} | {auc} |"
        )
    return lines


def cross_fitted_auc(faces: list[ScoredFace], seed: int = 0) -> tuple[float, float]:
    """Validation AUC of the raw scores and of :class:`SizeRemap` fitted on the real faces of
    one half of the people and applied to the other half (both ways)."""
    p = np.array([f.p for f in faces])
    w = np.array([f.width for f in faces])
    y = np.array([f.forged for f in faces], dtype=int)
    people = np.array([f.photo for f in faces])
    names = np.unique(people)
    first = np.isin(people, np.random.default_rng(seed).permutation(names)[: len(names) // 2])
    mapped = np.empty(len(p))
    for fit in (first, ~first):
        remap = SizeRemap(p[fit & (y == 0)], w[fit & (y == 0)])
        mapped[~fit] = remap(p[~fit], w[~fit])
    return rank_auc(y, p), rank_auc(y, mapped)


def image_scores(faces: list[ScoredFace], remap: SizeRemap | None) -> dict[int, float]:
    """Per image, its highest face score (remapped when ``remap`` is given)."""
    p = np.array([f.p for f in faces])
    if remap is not None:
        p = remap(p, np.array([f.width for f in faces]))
    best: dict[int, float] = {}
    for f, score in zip(faces, p, strict=True):
        best[f.image] = max(best.get(f.image, -1.0), float(score))
    return best


def auc_gain(
    labels: np.ndarray, before: np.ndarray, after: np.ndarray, groups: np.ndarray, draws: int
) -> str:
    """``d [lo, hi]``: AUC of ``after`` minus AUC of ``before`` on the same items, the interval
    bootstrap 95% over ``groups`` with both scores of a group drawn together (paired)."""

    if len(np.unique(labels)) < 2:
        return "n/a"

    def gain(idx: np.ndarray) -> dict[str, float]:
        return {"d": rank_auc(labels[idx], after[idx]) - rank_auc(labels[idx], before[idx])}

    lo, hi = bootstrap(gain, groups, draws=draws)["d"]
    return f"{gain(np.arange(len(labels)))['d']:+.3f} [{lo:+.3f}, {hi:+.3f}]"


def image_table(
    faces: list[ScoredFace],
    families: dict[str, tuple[str, ...]],
    remap: SizeRemap,
    t: float,
    draws: int,
) -> list[str]:
    """Per forgery family, per image: AUC against the untouched images, raw and remapped, their
    difference (bootstrap paired over photos), and the shares flagged at ``t``."""
    kind = {f.image: f.kind for f in faces}
    photo = {f.image: f.photo for f in faces}
    raw, mapped = image_scores(faces, None), image_scores(faces, remap)
    lines = [
        "| family | AUC raw [95% CI] | AUC remapped [95% CI] | remapped - raw [95% CI] "
        "| untouched flagged: raw, remapped | forged flagged: raw, remapped |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    real = [i for i in raw if kind[i] == "untouched"]
    for family, kinds in families.items():
        fake = [i for i in raw if kind[i] in kinds]
        ids = real + fake
        y = np.r_[np.zeros(len(real)), np.ones(len(fake))]
        a, b = np.array([raw[i] for i in ids]), np.array([mapped[i] for i in ids])
        groups = np.array([photo[i] for i in ids])
        lines.append(
            f"| {family} | {auc_with_interval(y, a, groups, draws)} "
            f"| {auc_with_interval(y, b, groups, draws)} | {auc_gain(y, a, b, groups, draws)} "
            f"| {np.mean(a[y == 0] >= t):.3f}, {np.mean(b[y == 0] >= t):.3f} "
            f"| {np.mean(a[y == 1] >= t):.3f}, {np.mean(b[y == 1] >= t):.3f} |"
        )
    return lines


def main(argv: list[str] | None = None) -> None:
    """Score the three sets by face size and write the results file."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--data", type=Path, required=True, help="the validation build")
    parser.add_argument("--scores", type=Path, required=True, help="evaluate's results on it")
    parser.add_argument("--recipe", choices=sorted(RECIPES), default="ordinary")
    parser.add_argument("--variants", type=int, default=24)
    parser.add_argument("--build-seed", type=int, default=0)
    parser.add_argument("--photos", type=Path, default=DEFAULT_PHOTOS, help="package archives")
    parser.add_argument("--headshots", type=int, default=380)
    parser.add_argument("--draws", type=int, default=1000)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    pipeline = DetectionPipeline.from_model(args.model)
    t = pipeline.meta.calibration.threshold
    val = validation_faces(args.data, args.scores, args.recipe, args.variants, args.build_seed)
    people = detect_photos(nba_headshots())[: args.headshots]
    heads, n_heads, no_face_heads = held_out_faces(
        pipeline, headshot_samples(people, np.random.default_rng(0))
    )
    photos = ordinary_photos(args.photos)
    ordinary, n_ordinary, no_face_ordinary = held_out_faces(
        pipeline, ordinary_samples(photos, 3, np.random.default_rng(0))
    )
    real = [f for f in val if not f.forged]
    remap = SizeRemap(np.array([f.p for f in real]), np.array([f.width for f in real]))
    raw_auc, mapped_auc = cross_fitted_auc(val)
    head_kinds = {k: (k,) for k in dict.fromkeys(f.kind for f in heads) if k != "untouched"}
    ordinary_families = {
        name: tuple(k for m in methods for k in (m, f"{m}+jpeg"))
        for name, methods in {**FAMILIES, "all forgeries": METHODS}.items()
    }
    lines = [
        *report_header(
            t,
            f"| validation faces | {len(val)} ({args.data}, recipe {args.recipe}) |",
            f"| width bins | {', '.join(bin_names())} |",
            f"| held-out images with no face found | headshots {no_face_heads} of {n_heads}, "
            f"ordinary photos {no_face_ordinary} of {n_ordinary} |",
        ),
        "",
        "Validation people (the calibration set), per face:",
        "",
        *bin_table(val, t),
        "",
        "Held-out headshots, per face:",
        "",
        *bin_table(heads, t),
        "",
        "Held-out ordinary photos, per face:",
        "",
        *bin_table(ordinary, t),
        "",
        "Corrected for size (`SizeRemap`, fitted on the validation real faces): validation AUC "
        f"cross-fitted over two halves of the people, raw {raw_auc:.3f}, remapped "
        f"{mapped_auc:.3f}.",
        "",
        "Held-out headshots, per image:",
        "",
        *image_table(heads, head_kinds, remap, t, args.draws),
        "",
        "Held-out ordinary photos, per image:",
        "",
        *image_table(ordinary, ordinary_families, remap, t, args.draws),
    ]
    publish(args.out, lines)


if __name__ == "__main__":
    main()
