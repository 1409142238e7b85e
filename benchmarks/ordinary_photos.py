"""A detector on ordinary photos it never saw: groups, small, side-lit, turned and cut faces.

    make photos
    python benchmarks/ordinary_photos.py --model MODEL [--photos .venv/share/photo-packages]
                                         [--faces-per-photo 3] [--draws 1000] --out FILE.md

The headshots of ``benchmarks/real_faces.py`` are centred studio portraits, like the CelebA
training photos. These are not: the twelve photos of :data:`ffdetect.synthesis.sources.
ORDINARY_PHOTOS` (ten scenes from insightface, scrfd, ultralytics and face_recognition: the Solvay
conference's 30 small grey faces, a bus stop, two footballers under side light, a six-person
group, portraits turned or cut by the frame). Every image goes through the whole ``detect`` path.

* **untouched**: each photo as shipped, mirrored, cropped to its central 80%, and recompressed
  as JPEG 75: 48 real images;
* **forged**: up to ``--faces-per-photo`` faces of each photo (drawn), each forged by every
  method below, once as made and once JPEG-75-recompressed afterwards (``+jpeg``). None of the
  methods is one that training uses (:mod:`ffdetect.synthesis.held_out`): identity swaps with
  another face of the same photo (Poisson, alpha), SBI self-blends through an upright ellipse, a
  box, a feathered box, a face pasted back at 1/3-1/5 resolution, a colour-mismatched paste.

Per face, forged faces (IoU >= 0.3 with the forged one) against the faces of the untouched
images. Per image, the verdict score (``ffdetect detect``'s) of forged images against the
untouched ones, and the share of untouched images called fake. Intervals are bootstrap 95% over
the ten scenes (a scene's variants and forgeries drawn together).
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from real_faces import (
    FORGED_IOU,
    Sample,
    auc_with_interval,
    face_table,
    image_table,
    publish,
    report_header,
    score,
)

from ffdetect.data.detectors import Face, make_detector
from ffdetect.data.manifest import atomic_write_text
from ffdetect.inference.pipeline import DetectionPipeline
from ffdetect.synthesis.blend import face_swap
from ffdetect.synthesis.held_out import (
    colour_mismatch_paste,
    jpeg,
    low_resolution_paste,
    mask_blend,
)
from ffdetect.synthesis.sources import PackagePhoto, ordinary_photos

SET = "ordinary photos"
VARIANTS = ("as shipped", "mirrored", "cropped", "jpeg75")
METHODS = (
    "swap_poisson",
    "swap_alpha",
    "sbi_ellipse",
    "sbi_box",
    "sbi_feathered",
    "low_res",
    "colour",
)
FAMILIES = {
    "self-blends": ("sbi_ellipse", "sbi_box", "sbi_feathered"),
    "identity swaps": ("swap_poisson", "swap_alpha"),
    "other pastes": ("low_res", "colour"),
}
KINDS = tuple(k for m in METHODS for k in (m, f"{m}+jpeg"))
MIN_FACE = 0.9  # MTCNN score of a face that may be forged
DEFAULT_PHOTOS = Path(".venv/share/photo-packages")


def variant(rgb: np.ndarray, name: str) -> np.ndarray:
    """An untouched variant of ``rgb``: one of :data:`VARIANTS`."""
    if name == "mirrored":
        return np.ascontiguousarray(rgb[:, ::-1])
    if name == "cropped":
        h, w = rgb.shape[:2]
        return np.ascontiguousarray(rgb[h // 10 : h - h // 10, w // 10 : w - w // 10])
    if name == "jpeg75":
        return jpeg(rgb, 75)
    return rgb


def forge(
    rgb: np.ndarray,
    face: Face,
    donor: tuple[np.ndarray, Face],
    method: str,
    rng: np.random.Generator,
) -> np.ndarray:
    """``rgb`` with ``face`` forged by ``method`` (one of :data:`METHODS`); ``donor`` (a photo
    and a face in it) gives the swapped-in identity."""
    if method.startswith("swap_"):
        photo, other = donor
        return face_swap(
            rgb, face.landmarks, photo, other.landmarks, rng, method.removeprefix("swap_")
        )
    if method.startswith("sbi_"):
        return mask_blend(rgb, face, method.removeprefix("sbi_"), rng)
    if method == "low_res":
        return low_resolution_paste(rgb, face, rng)
    if method == "colour":
        return colour_mismatch_paste(rgb, face, rng)
    raise ValueError(f"unknown forgery method {method!r}")


def samples(
    photos: list[tuple[PackagePhoto, np.ndarray]], per_photo: int, rng: np.random.Generator
) -> Iterator[Sample]:
    """Every photo's untouched variants and its drawn faces forged every way."""
    detector = make_detector("mtcnn")
    found = [[f for f in detector.detect(rgb) if f.score >= MIN_FACE] for _, rgb in photos]
    for i, ((photo, rgb), faces) in enumerate(zip(photos, found, strict=True)):
        untouched = {
            name: Sample(SET, "untouched", photo.scene, variant(rgb, name)) for name in VARIANTS
        }
        yield from untouched.values()
        picked = rng.choice(len(faces), min(per_photo, len(faces)), replace=False)
        for k in picked:
            face = faces[int(k)]
            others = [f for j, f in enumerate(faces) if j != k]
            if others:
                donor = (rgb, max(others, key=lambda f: f.area))
            else:
                j = (i + 1) % len(photos)
                while not found[j]:
                    j = (j + 1) % len(photos)
                donor = (photos[j][1], found[j][0])
            for method in METHODS:
                forged = forge(rgb, face, donor, method, rng)
                yield Sample(
                    SET, method, photo.scene, forged, face.box, twin=untouched["as shipped"]
                )
                yield Sample(
                    SET,
                    f"{method}+jpeg",
                    photo.scene,
                    jpeg(forged, 75),
                    face.box,
                    twin=untouched["jpeg75"],
                )


def scene_wins(
    labels: np.ndarray, scores: np.ndarray, scenes: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Per scene (in order of first appearance): how many of its (forged, untouched) pairs the
    forged image wins, ties counting half, and how many pairs it has."""
    names = list(dict.fromkeys(scenes.tolist()))
    wins, pairs = np.zeros(len(names)), np.zeros(len(names))
    for i, name in enumerate(names):
        here = scenes == name
        fake, real = scores[here & (labels == 1)], scores[here & (labels == 0)]
        diff = fake[:, None] - real[None, :]
        wins[i] = np.sum(diff > 0) + 0.5 * np.sum(diff == 0)
        pairs[i] = diff.size
    return wins, pairs


def resampled_win_rates(
    wins: np.ndarray, pairs: np.ndarray, draws: int, seed: int = 0
) -> np.ndarray:
    """``wins`` over ``pairs`` (per scene, as :func:`scene_wins` gives them) for each of
    ``draws`` resamplings of the scenes with replacement, a scene drawn twice counting twice;
    draws without a pair are left out."""
    picks = np.random.default_rng(seed).integers(0, len(wins), size=(draws, len(wins)))
    drawn = pairs[picks].sum(axis=1)
    return wins[picks].sum(axis=1)[drawn > 0] / drawn[drawn > 0]


def within_scene_auc(
    labels: np.ndarray, scores: np.ndarray, scenes: np.ndarray, draws: int, seed: int = 0
) -> str:
    """``AUC [lo, hi]`` over the (forged, untouched) pairs of the same scene only, ties counting
    half; the interval is bootstrap 95% over scenes, a scene drawn twice counting twice.

    The pooled AUC also compares a forged image of one scene with an untouched image of another,
    and the scenes' untouched levels differ (the verdict is the maximum over faces: a crowded or
    side-lit photo scores high, forged or not). Within a scene, only what the forgery changed can
    order a pair. The resampling is written here rather than through
    :func:`ffdetect.evaluation.decision.bootstrap`, whose index of a scene drawn twice repeats
    its images and so counts its pairs four times."""
    wins, pairs = scene_wins(labels, scores, scenes)
    if pairs.sum() == 0:
        return "n/a"
    auc = wins.sum() / pairs.sum()
    lo, hi = np.percentile(resampled_win_rates(wins, pairs, draws, seed), [2.5, 97.5])
    return f"{auc:.3f} [{lo:.3f}, {hi:.3f}]"


def twin_lift(forged: list[Sample]) -> str:
    """The share of forged images whose verdict scores above their untouched twin's, and the
    mean difference (forged minus twin)."""
    both = [
        s for s in forged if s.score is not None and s.twin is not None and s.twin.score is not None
    ]
    if not both:
        return "n/a | n/a"
    lift = np.array([s.score - s.twin.score for s in both])
    return f"{np.mean(lift > 0):.3f} | {np.mean(lift):+.3f}"


def family_table(all_samples: list[Sample], t: float, draws: int) -> list[str]:
    """Per forgery family (JPEG and not together): per-image AUC against the untouched images
    (all of them, and those of the same scene only: :func:`within_scene_auc`), how the forged
    images score against their own untouched twin (:func:`twin_lift`) and the share flagged at
    ``t``."""
    untouched = [s for s in all_samples if s.kind == "untouched" and s.score is not None]
    lines = [
        "| family | forged images | per-image AUC vs untouched [95% CI] | within the scene "
        "[95% CI] | above its untouched twin | mean lift over the twin | flagged at t* |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    families = {**FAMILIES, "all forgeries": METHODS}
    for family, methods in families.items():
        kinds = {k for m in methods for k in (m, f"{m}+jpeg")}
        forged = [s for s in all_samples if s.kind in kinds]
        scored = [s for s in forged if s.score is not None]
        y = np.r_[np.zeros(len(untouched)), np.ones(len(scored))]
        sc = np.array([s.score for s in untouched + scored])
        groups = np.array([s.photo for s in untouched + scored])
        flagged = np.mean([s.score >= t for s in scored]) if scored else float("nan")
        auc = auc_with_interval(y, sc, groups, draws)
        within = within_scene_auc(y, sc, groups, draws)
        lines.append(
            f"| {family} | {len(forged)} | {auc} | {within} | {twin_lift(scored)} | {flagged:.3f} |"
        )
    return lines


def untouched_table(all_samples: list[Sample], t: float) -> list[str]:
    """Per scene: faces found and how many of its untouched images are called fake at ``t``."""
    lines = [
        "| scene | untouched images | faces per image | highest real face | called fake |",
        "| --- | --- | --- | --- | --- |",
    ]
    for scene in dict.fromkeys(s.photo for s in all_samples):
        real = [s for s in all_samples if s.photo == scene and s.kind == "untouched"]
        faces = [p for s in real for p, _, _ in s.faces]
        flagged = sum(1 for s in real if s.score is not None and s.score >= t)
        top = f"{max(faces):.3f}" if faces else "-"
        n = np.mean([len(s.faces) for s in real])
        lines.append(f"| {scene} | {len(real)} | {n:.1f} | {top} | {flagged} |")
    return lines


def write_scores(all_samples: list[Sample], path: Path) -> None:
    """One row per image: scene, kind, faces found, its verdict score (empty: no face)."""
    rows = ["scene,kind,faces,score"]
    for s in all_samples:
        value = "" if s.score is None else f"{s.score:.6f}"
        rows.append(f"{s.photo},{s.kind},{len(s.faces)},{value}")
    atomic_write_text(path, "\n".join(rows) + "\n")


def main(argv: list[str] | None = None) -> None:
    """Score the ordinary-photo set and write the results file."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--photos", type=Path, default=DEFAULT_PHOTOS, help="package archives")
    parser.add_argument("--faces-per-photo", type=int, default=3)
    parser.add_argument("--draws", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threshold", type=float, default=None, help="instead of the model's")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--scores", type=Path, default=None, help="CSV of every image's score")
    args = parser.parse_args(argv)
    pipeline = DetectionPipeline.from_model(args.model)
    photos = ordinary_photos(args.photos)
    rng = np.random.default_rng(args.seed)
    made = list(samples(photos, args.faces_per_photo, rng))
    for sample in made:
        score(pipeline, sample)
    t = pipeline.meta.calibration.threshold if args.threshold is None else args.threshold
    sources = sorted({f"{p.package}, {p.licence}" for p, _ in photos})
    lines = [
        *report_header(
            t,
            f"| photos | {len(photos)} ({len({p.scene for p, _ in photos})} scenes): "
            f"{'; '.join(sources)} |",
            f"| forged faces (IoU >= {FORGED_IOU} counts as the forged one) | "
            f"{sum(1 for s in made if s.kind == METHODS[0])} |",
        ),
        "",
        "Per forgery family, per image (the verdict of `ffdetect detect`):",
        "",
        *family_table(made, t, args.draws),
        "",
        "Untouched images per scene (as shipped, mirrored, cropped, JPEG 75):",
        "",
        *untouched_table(made, t),
        "",
        "Per face:",
        "",
        *face_table(made, t, args.draws, KINDS),
        "",
        "Per image:",
        "",
        *image_table(made, t, args.draws, ("untouched", *KINDS)),
    ]
    publish(args.out, lines)
    if args.scores is not None:
        write_scores(made, args.scores)


if __name__ == "__main__":
    main()
