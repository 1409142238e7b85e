"""The demo model's training data: self-blended faces and faceless patches, in colour.

Written in ``ffdetect prepare``'s format (``faces/`` + ``manifest.csv`` + ``videos.csv``) so that
``ffdetect pretrain``, ``ffdetect train`` and ``ffdetect calibrate`` make the demo model like any
other. Real clips and as many self-blended fakes (a new blend per clip, strength drawn from
:data:`TRAIN_STRENGTHS`) of three kinds:

- photo faces: the seven faces of the insightface wheel's photos (:data:`PHOTOS`: a group photo
  of six people, a grey portrait); every clip gets a new look (:func:`appearance_transform`),
  every other clip is mirrored, every frame is a small camera move plus camera/codec degradation
  (:func:`capture_transform`), and the face is aligned and cropped by the same code as
  ``detect``. Five faces train, two validate;
- LFW faces: scikit-image's 100 grey 25 px faces, each clip in a random skin tone
  (:func:`ffdetect.synthesis.lfw_task.build_self_blended_task` with ``tint``), split 60/20/20 by
  identity (the 20 test identities are not used);
- faceless patches of colour photos that scikit-image and scikit-learn ship
  (:func:`texture_photos`, training only): the blending cue on many textures.

Why so: with seven photo faces alone the model memorises them and calls every unknown face fake;
the tinted LFW identities and the patches teach the blending cue apart from who is shown. The
demo's own photos (Grace Hopper, the astronaut) are never used here. Its forgeries use
:data:`DEMO_STRENGTH`, inside the training range: strength 1 blends are too faint for a 4-block
ViT on 32 px input trained in minutes.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import albumentations as A
import cv2
import numpy as np
from PIL import Image

from ffdetect.data.faces import crop_face
from ffdetect.data.manifest import (
    MANIFEST_COLUMNS,
    VIDEO_COLUMNS,
    complete_video_row,
    face_row,
    read_csv,
    write_clip,
    write_csv,
    write_png,
)
from ffdetect.synthesis.blend import self_blend
from ffdetect.synthesis.lfw_task import build_self_blended_task
from ffdetect.synthesis.media import blend_face_in_photo, random_view, warp_face, warp_view

DATASET = "demo-selfblend"
#: Colour photos of the insightface wheel (installed with ``pip install --no-deps insightface``).
PHOTOS = ("t1.jpg", "Tom_Hanks_54745.png")
#: Split of the colour identities (t1's six faces largest first, then Tom Hanks).
COLOUR_SPLITS = ("train", "train", "val", "train", "val", "train", "train")
#: Blend strength of the demo's sample forgeries, and the range the training fakes are drawn from.
DEMO_STRENGTH = 3.0
TRAIN_STRENGTHS = (2.5, 4.0)


def insightface_photo(name: str) -> Path:
    """A photo shipped inside the installed insightface package (its code is never imported)."""
    import importlib.util

    spec = importlib.util.find_spec("insightface")
    for loc in (spec.submodule_search_locations or []) if spec is not None else []:
        path = Path(loc) / "data" / "images" / name
        if path.is_file():
            return path
    raise FileNotFoundError(f"{name} not found: pip install --no-deps insightface")


def _face_region(photo: np.ndarray, face, margin: float = 1.6, mirror: bool = False):
    """A sub-photo around one face (3.2 face boxes wide) and the face moved into it; ``mirror``
    flips both left to right (a new "person" for a model that would memorise faces)."""
    h, w = photo.shape[:2]
    x1, y1, x2, y2 = face.box
    cx, cy, half = (x1 + x2) / 2, (y1 + y2) / 2, max(x2 - x1, y2 - y1) * margin
    left, top = int(max(0, cx - half)), int(max(0, cy - half))
    right, bottom = int(min(w, cx + half)), int(min(h, cy + half))
    shift = np.array([[1.0, 0.0, -left], [0.0, 1.0, -top]])
    region, local = np.ascontiguousarray(photo[top:bottom, left:right]), warp_face(face, shift)
    if not mirror:
        return region, local
    flip = np.array([[-1.0, 0.0, region.shape[1] - 1.0], [0.0, 1.0, 0.0]])
    flipped = warp_face(local, flip)
    # left and right swap: eyes (0, 1) and mouth corners (3, 4) of the 5-point landmarks
    landmarks = np.asarray(flipped.landmarks)[[1, 0, 2, 4, 3]]
    return np.ascontiguousarray(region[:, ::-1]), replace(flipped, landmarks=landmarks)


def appearance_transform(seed: int) -> A.Compose:
    """A clip's new look, drawn once per clip: hue, saturation, brightness, contrast, gamma."""
    return A.Compose(
        [
            A.HueSaturationValue(hue_shift_limit=10, sat_shift_limit=35, val_shift_limit=25, p=0.9),
            A.RandomBrightnessContrast(brightness_limit=0.2, contrast_limit=0.25, p=0.8),
            A.RandomGamma(gamma_limit=(70, 150), p=0.5),
        ],
        seed=seed,
    )


def capture_transform(seed: int) -> A.Compose:
    """What a camera and a codec do to whole frames, real and fake alike: soft focus or
    resampling, and JPEG. Blur then says nothing by itself; only blur that stops at a blending
    boundary does."""
    return A.Compose(
        [
            A.OneOf(
                [A.GaussianBlur(sigma_limit=(0.3, 1.5)), A.Downscale(scale_range=(0.4, 0.9))],
                p=0.5,
            ),
            A.ImageCompression(quality_range=(70, 100), p=0.5),
        ],
        seed=seed,
    )


def texture_photos() -> list[np.ndarray]:
    """Colour photos without faces that scikit-image and scikit-learn ship (RGB uint8)."""
    from skimage import data
    from sklearn.datasets import load_sample_images

    names = ("coffee", "chelsea", "rocket", "hubble_deep_field", "retina", "immunohistochemistry")
    return [getattr(data, n)() for n in names] + list(load_sample_images().images)


def _texture_clip(photo: np.ndarray, rng: np.random.Generator, frames: int, size: int):
    """``frames`` views of one random square patch of ``photo`` (a faceless "clip")."""
    h, w = photo.shape[:2]
    side = int(rng.uniform(0.25, 0.6) * min(h, w))
    top, left = rng.integers(0, h - side + 1), rng.integers(0, w - side + 1)
    patch = np.ascontiguousarray(photo[top : top + side, left : left + side])
    views = [warp_view(patch, random_view(patch.shape[:2], rng)) for _ in range(frames)]
    return [cv2.resize(v, (size, size), interpolation=cv2.INTER_AREA) for v in views]


def _add_texture_clips(
    out: Path, n: int, frames: int, size: int, strength: float, rng: np.random.Generator
) -> tuple[list[dict], list[dict]]:
    """``n`` real and ``n`` self-blended training clips of faceless colour photo patches: the
    blending cue on many textures, so that the few real faces cannot just be memorised."""
    photos = texture_photos()
    face_rows, video_rows = [], []
    for clip in range(n):
        photo = photos[clip % len(photos)]
        for label, kind in ((0, "real"), (1, "fake")):
            views = _texture_clip(photo, rng, frames, size)
            if label:
                # one blend per clip: the same mask and jitter seed for every frame
                seed = int(rng.integers(2**31))
                views = [
                    self_blend(v, np.random.default_rng(seed), colour=True, strength=strength)
                    for v in views
                ]
            capture = capture_transform(int(rng.integers(2**31)))
            views = [capture(image=v)["image"] for v in views]
            base = {
                "video_id": f"{kind}/texture_{clip:03d}",
                "dataset": DATASET,
                "method": "selfblend" if label else "original",
                "split": "train",
                "label": label,
            }
            rows, video = write_clip(out, base, views, f"texture:{clip % len(photos)}")
            face_rows += rows
            video_rows.append(video)
    return face_rows, video_rows


def build_demo_task(
    out: str | Path,
    size: int = 64,
    frames: int = 4,
    videos_per_face: int = 32,
    lfw_identities: int | None = None,
    lfw_videos: int = 4,
    texture_clips: int = 200,
    seed: int = 0,
) -> Path:
    """Write the demo training set into ``out``; returns its ``manifest.csv``."""
    from ffdetect.data.detectors import make_detector

    out = Path(out)
    build_self_blended_task(
        out,
        size=size,
        frames=frames,
        seed=seed,
        n_identities=lfw_identities,
        strength=3.0,
        videos_per_identity=lfw_videos,
        tint=True,
    )
    face_rows = read_csv(out / "manifest.csv")
    video_rows = read_csv(out / "videos.csv")
    detector = make_detector("mtcnn")
    people = []  # (photo name, image, face)
    for name in PHOTOS:
        image = np.asarray(Image.open(insightface_photo(name)).convert("RGB"))
        faces = sorted(
            (f for f in detector.detect(image) if f.score >= 0.95), key=lambda f: -f.area
        )
        people += [(name, image, f) for f in faces]
    rng = np.random.default_rng(seed)
    n = min(len(people), len(COLOUR_SPLITS))  # extra detections get no split and are not used
    for idx, ((photo, image, face), split) in enumerate(
        zip(people[:n], COLOUR_SPLITS[:n], strict=True)
    ):
        for video in range(videos_per_face):
            region, local = _face_region(image, face, mirror=video % 2 == 1)
            for label, kind in ((0, "real"), (1, "fake")):
                looks = appearance_transform(int(rng.integers(2**31)))(image=region)["image"]
                if label:
                    strength = rng.uniform(*TRAIN_STRENGTHS)
                    looks = blend_face_in_photo(looks, local, rng, strength)
                capture = capture_transform(int(rng.integers(2**31)))
                video_id = f"{kind}/colour_{idx}_{video:02d}"
                base = {
                    "video_id": video_id,
                    "dataset": DATASET,
                    "method": "selfblend" if label else "original",
                    "split": split,
                    "label": label,
                }
                for frame in range(frames):
                    matrix = random_view(region.shape[:2], rng)
                    frame_image = capture(image=warp_view(looks, matrix))["image"]
                    aligned = crop_face(frame_image, warp_face(local, matrix), size)
                    crop = Path("faces") / video_id / f"{frame:04d}.png"
                    write_png(out / crop, aligned.crop)
                    face_rows.append(face_row(base, frame, crop, face.score, aligned.face.box))
                path = f"insightface:{photo}#face{idx}"
                video_rows.append(complete_video_row(base, path, frames))
    faces, videos = _add_texture_clips(
        out, texture_clips, frames, size, DEMO_STRENGTH, np.random.default_rng(seed + 1)
    )
    write_csv(out / "manifest.csv", MANIFEST_COLUMNS, face_rows + faces)
    write_csv(out / "videos.csv", VIDEO_COLUMNS, video_rows + videos)
    return out / "manifest.csv"


DATA_SUMMARY = (
    "self-blended task (strength 2.5-4): the 7 faces of insightface's t1.jpg and "
    "Tom_Hanks_54745.png (5 train, 2 validation), 32 real + 32 fake 4-frame clips each with a new "
    "colour look, mirroring, camera moves and blur/JPEG; scikit-image's 100 LFW faces in random "
    "skin tones (60 train, 20 validation), 4 real + 4 fake clips each; 200 real + 200 fake clips "
    "of faceless patches of scikit-image/scikit-learn photos (train); 64 px crops, 32 px input"
)


def main(argv: list[str] | None = None) -> None:
    """``python -m ffdetect.inference.demo_task build OUT`` | ``record MODEL COMMAND...``."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m ffdetect.inference.demo_task")
    sub = parser.add_subparsers(dest="action", required=True)
    build = sub.add_parser("build", help="write the demo training set (prepare format)")
    build.add_argument("out", type=Path)
    record = sub.add_parser("record", help="store how the demo model was made in its metadata")
    record.add_argument("model", type=Path)
    record.add_argument("commands", nargs="+")
    args = parser.parse_args(argv)
    if args.action == "build":
        print(f"wrote {build_demo_task(args.out)}")
    else:
        from ffdetect.synthesis.real_faces import record_provenance

        record_provenance(
            args.model,
            args.commands,
            DATA_SUMMARY,
            "the demo photos: matplotlib's Grace Hopper, scikit-image's astronaut",
            "demo_model/make_demo_model.sh",
        )
        print(f"recorded provenance in {args.model}")


if __name__ == "__main__":
    main()
