"""A detector on real people it never saw: held-out photos, untouched and forged, per face, image.

    python benchmarks/real_faces.py --model MODEL [--photos 380] [--grids 60] [--draws 1000]
                                    --out FILE.md [--frames DIR]

Every image goes through the whole ``detect`` path (MTCNN, alignment, crop, model, the image
verdict of :func:`ffdetect.inference.results.finish`); nothing here was used in training. Three
sets, each untouched and forged:

* **headshots**: the NBA headshots (:func:`ffdetect.synthesis.sources.nba_headshots`, one player
  each), untouched; self-blended in the SBI recipe at strength 1 (the paper's ranges; training
  drew 0.5-1.5; ``--sbi-strength`` changes it); with the face swapped for the next player's
  (aligned on five landmarks, colour-matched, Poisson- or alpha-blended), forgeries no training
  sample was made like;
* **grids**: six different headshots tiled 3 x 2 into one image, untouched or with one face
  self-blended or swapped: the image is fake when any face is, as in group photos;
* **group photo**: insightface's ``t1.jpg`` (a real group photo), untouched, and once per face
  with that face self-blended or swapped for a headshot.

Per face, a detected face is forged when it overlaps the forged face (IoU >= 0.3); every other
face is real. Per image, the score is the image's verdict score (the highest-scoring face that is
called fake, else the highest face), so one false alarm among N faces flags the image: with a
per-face false-positive rate f (on the untouched images' faces), an image of N independent real
faces is flagged with probability 1 - (1 - f)^N, printed beside the measured rate. Intervals are
bootstrap 95% over photos (a photo's untouched and forged versions are drawn together).

``--frames DIR`` writes, per forgery kind, the headshot faces (untouched and forged that way) as
frame-level result files (``video,frame,label,predict,confidence``) for ``benchmarks/decision.py``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import shlex
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from ffdetect.data.detectors import Face, make_detector
from ffdetect.data.manifest import atomic_write_text
from ffdetect.data.tracking import iou
from ffdetect.evaluation.decision import bootstrap, rank_auc
from ffdetect.evaluation.metrics import write_frame_results
from ffdetect.inference.pipeline import DetectionPipeline
from ffdetect.synthesis.blend import face_swap
from ffdetect.synthesis.media import sbi_face_in_photo
from ffdetect.synthesis.real_faces import DetectedPhoto, detect_photos
from ffdetect.synthesis.sources import insightface_photo, nba_headshots

KINDS = ("untouched", "sbi", "swap_poisson", "swap_alpha")
GRID = (2, 3)  # rows, columns of headshots in one grid image
FORGED_IOU = 0.3
MIN_GROUPS = 5  # fewer photos than this get no bootstrap interval


@dataclass
class Sample:
    """One image to score: its set, how it was made, which photo it came from."""

    set: str
    kind: str
    photo: str
    rgb: np.ndarray
    forged_box: tuple[float, float, float, float] | None = None
    faces: list[tuple[float, float, int]] = field(default_factory=list)  # p_fake, conf, forged
    score: float | None = None
    twin: Sample | None = None  # the untouched image a forgery was made from


def forge(
    rgb: np.ndarray,
    face: Face,
    donor: DetectedPhoto,
    kind: str,
    rng: np.random.Generator,
    sbi_strength: float = 1.0,
) -> np.ndarray:
    """``rgb`` with ``face`` forged the ``kind`` way (``donor`` gives the face of a swap;
    ``sbi_strength`` scales the self-blend's jitter, 1 being the paper's ranges)."""
    if kind == "untouched":
        return rgb
    if kind == "sbi":
        return sbi_face_in_photo(rgb, face, rng, strength=sbi_strength)
    method = kind.removeprefix("swap_")
    return face_swap(rgb, face.landmarks, donor.photo.rgb(), donor.face.landmarks, rng, method)


def headshot_samples(
    people: list[DetectedPhoto], rng: np.random.Generator, sbi_strength: float = 1.0
) -> Iterator[Sample]:
    """Each headshot untouched and forged the three ways."""
    for i, person in enumerate(people):
        donor = people[(i + 1) % len(people)]
        rgb = person.photo.rgb()
        for kind in KINDS:
            forged = forge(rgb, person.face, donor, kind, rng, sbi_strength)
            box = None if kind == "untouched" else person.face.box
            yield Sample("headshots", kind, person.photo.identity, forged, box)


def grid_samples(
    people: list[DetectedPhoto],
    n_grids: int,
    rng: np.random.Generator,
    sbi_strength: float = 1.0,
) -> Iterator[Sample]:
    """``n_grids`` images of six different headshots (of the commonest size), untouched, one face
    SBI or swapped."""
    rows, cols = GRID
    n = rows * cols
    shapes = [person.photo.rgb().shape[:2] for person in people]
    h, w = max(set(shapes), key=shapes.count)
    people = [person for person, shape in zip(people, shapes, strict=True) if shape == (h, w)]
    for g in range(n_grids):
        picked = [people[int(k)] for k in rng.choice(len(people), n + 1, replace=False)]
        members, donor = picked[:n], picked[n]
        tiles = [m.photo.rgb() for m in members]
        target = int(rng.integers(n))
        r, c = divmod(target, cols)
        x0, y0 = c * w, r * h
        box = members[target].face.box
        for kind in ("untouched", "sbi", "swap_poisson"):
            forged_tiles = list(tiles)
            forged_tiles[target] = forge(
                tiles[target], members[target].face, donor, kind, rng, sbi_strength
            )
            image = np.vstack(
                [np.hstack(forged_tiles[i * cols : (i + 1) * cols]) for i in range(rows)]
            )
            shifted = (
                None
                if kind == "untouched"
                else (box[0] + x0, box[1] + y0, box[2] + x0, box[3] + y0)
            )
            yield Sample("grids", kind, f"grid{g}", image, shifted)


def group_photo_samples(
    people: list[DetectedPhoto], rng: np.random.Generator, sbi_strength: float = 1.0
) -> Iterator[Sample]:
    """insightface's ``t1.jpg`` untouched, and each of its faces self-blended or swapped."""
    path = insightface_photo("t1.jpg")
    rgb = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)
    faces = [f for f in make_detector("mtcnn").detect(rgb) if f.score >= 0.9]
    yield Sample("group photo", "untouched", "t1", rgb)
    for i, face in enumerate(faces):
        donor = people[i % len(people)]
        for kind in ("sbi", "swap_poisson"):
            forged = forge(rgb, face, donor, kind, rng, sbi_strength)
            yield Sample("group photo", kind, "t1", forged, face.box)


def score(pipeline: DetectionPipeline, sample: Sample) -> None:
    """Fill ``sample``'s face and image scores."""
    result = pipeline.run_image(sample.rgb)
    for f in result.faces:
        forged = sample.forged_box is not None and iou(f.box, sample.forged_box) >= FORGED_IOU
        sample.faces.append((float(f.p_fake), float(f.confidence), int(forged)))
    sample.score = None if result.score is None else float(result.score)


def auc_with_interval(
    labels: np.ndarray, scores: np.ndarray, groups: np.ndarray, draws: int
) -> str:
    """``AUC [lo, hi]`` (bootstrap over ``groups``)."""
    if len(np.unique(labels)) < 2:
        return "n/a"
    auc = rank_auc(labels, scores)
    if len(np.unique(groups)) < MIN_GROUPS:
        return f"{auc:.3f} (one photo: no interval)"
    lo, hi = bootstrap(
        lambda idx: {"auc": rank_auc(labels[idx], scores[idx])}, groups, draws=draws
    )["auc"]
    return f"{auc:.3f} [{lo:.3f}, {hi:.3f}]"


def by_set(samples: list[Sample]) -> Iterator[tuple[str, list[Sample], list[tuple[float, str]]]]:
    """Per set (in order): its samples and its untouched images' faces as ``(p_fake, photo)``
    (the real faces beside a forged one repeat those, so they are not counted twice)."""
    for name in dict.fromkeys(s.set for s in samples):
        in_set = [s for s in samples if s.set == name]
        real = [(p, s.photo) for s in in_set if s.kind == "untouched" for p, _, _ in s.faces]
        yield name, in_set, real


def face_table(
    samples: list[Sample], t: float, draws: int, kinds: Sequence[str] = KINDS[1:]
) -> list[str]:
    """Per face: AUC of each forgery kind's forged faces against the faces of the set's untouched
    images (:func:`by_set`)."""
    lines = [
        "| set | kind | faces (forged) | mean p_fake of forged | per-face AUC vs real faces "
        "[95% CI] | forged faces flagged at t* |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for name, in_set, real in by_set(samples):
        rp = np.array([p for p, _ in real])
        lines.append(
            f"| {name} | real faces | {len(rp)} | - | - | {np.mean(rp >= t):.3f} (per-face FPR) |"
        )
        for kind in kinds:
            fake = [(p, s.photo) for s in in_set if s.kind == kind for p, _, f in s.faces if f]
            if not fake:
                continue
            fp = np.array([p for p, _ in fake])
            y = np.r_[np.zeros(len(rp)), np.ones(len(fp))]
            groups = np.array([g for _, g in real] + [g for _, g in fake])
            auc = auc_with_interval(y, np.r_[rp, fp], groups, draws)
            lines.append(
                f"| {name} | {kind} | {len(fp)} | {fp.mean():.3f} | {auc} | "
                f"{np.mean(fp >= t):.3f} (TPR) |"
            )
    return lines


def image_table(
    samples: list[Sample], t: float, draws: int, kinds: Sequence[str] = KINDS
) -> list[str]:
    """Per image: the verdict score of forged images against untouched ones."""
    lines = [
        "| set | kind | images (no face found) | faces per image | image AUC vs untouched "
        "[95% CI] | flagged fake at t* | 1-(1-f)^N from per-face FPR f |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name, in_set, real in by_set(samples):
        f = float(np.mean([p >= t for p, _ in real]))
        untouched = [s for s in in_set if s.kind == "untouched"]
        for kind in kinds:
            group = [s for s in in_set if s.kind == kind]
            if not group:
                continue
            scored = [s for s in group if s.score is not None]
            n_faces = np.mean([len(s.faces) for s in scored]) if scored else 0.0
            flagged = np.mean([s.score >= t for s in scored]) if scored else float("nan")
            if kind == "untouched":
                expected = f"{1 - (1 - f) ** n_faces:.3f}"
                auc = "-"
                rate = f"{flagged:.3f} (FPR)"
            else:
                expected = "-"
                base = [s for s in untouched if s.score is not None]
                y = np.r_[np.zeros(len(base)), np.ones(len(scored))]
                sc = np.array([s.score for s in base + scored])
                groups = np.array([s.photo for s in base + scored])
                auc = auc_with_interval(y, sc, groups, draws)
                rate = f"{flagged:.3f} (TPR)"
            lines.append(
                f"| {name} | {kind} | {len(group)} ({len(group) - len(scored)}) | "
                f"{n_faces:.2f} | {auc} | {rate} | {expected} |"
            )
    return lines


def report_header(threshold: float, *rows: str) -> list[str]:
    """The report's opening table: date, the command that ran, the threshold, then ``rows``."""
    return [
        "| | |",
        "| --- | --- |",
        f"| date | {dt.date.today()} |",
        f"| command | `python {shlex.join(sys.argv)}` |",
        f"| threshold t* | {threshold:.3f} |",
        *rows,
    ]


def publish(out: Path, lines: list[str]) -> None:
    """Write the report ``lines`` to ``out`` (atomically) and print them."""
    atomic_write_text(out, "\n".join(lines) + "\n")
    print("\n".join(lines))


def write_frames(samples: list[Sample], folder: Path) -> list[Path]:
    """Per forgery kind, the headshot faces (untouched ones and that kind's) as a frame-level
    result file ``headshots_<kind>_frames.csv`` (one face per one-frame video)."""
    paths = []
    for kind in KINDS[1:]:
        faces = [
            (f"{s.kind}/{s.photo}/{i}", forged, p, c)
            for s in samples
            if s.set == "headshots" and s.kind in ("untouched", kind)
            for i, (p, c, forged) in enumerate(s.faces)
        ]
        videos, labels, scores, confidences = zip(*faces, strict=True)
        frames = [0] * len(videos)
        path = folder / f"headshots_{kind}.csv"
        paths.append(write_frame_results(path, videos, frames, labels, scores, confidences))
    return paths


def main(argv: list[str] | None = None) -> None:
    """Score the held-out sets and write the results file."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--photos", type=int, default=380)
    parser.add_argument("--grids", type=int, default=60)
    parser.add_argument("--draws", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--frames", type=Path, default=None, help="folder for frame files")
    parser.add_argument(
        "--sbi-strength",
        type=float,
        default=1.0,
        help="jitter strength of the SBI forgeries (1: the paper's ranges; training drew 0.5-1.5)",
    )
    args = parser.parse_args(argv)
    pipeline = DetectionPipeline.from_model(args.model)
    headshots = nba_headshots()
    people = detect_photos(headshots)
    rng = np.random.default_rng(args.seed)
    samples = [
        *headshot_samples(people[: args.photos], rng, args.sbi_strength),
        *grid_samples(people, args.grids, rng, args.sbi_strength),
        *group_photo_samples(people, rng, args.sbi_strength),
    ]
    for sample in samples:
        score(pipeline, sample)
    t = pipeline.meta.calibration.threshold
    lines = [
        *report_header(
            t,
            f"| SBI strength | {args.sbi_strength:g} |",
            "| held-out headshots with a face (MTCNN >= 0.9) | "
            f"{len(people)} of {len(headshots)} |",
        ),
        "",
        "Per face:",
        "",
        *face_table(samples, t, args.draws),
        "",
        "Per image (the verdict of `ffdetect detect`):",
        "",
        *image_table(samples, t, args.draws),
    ]
    publish(args.out, lines)
    if args.frames is not None:
        write_frames(samples, args.frames)


if __name__ == "__main__":
    main()
