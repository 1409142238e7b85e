"""The demo model's training data: self-blended colour faces plus the LFW self-blended task.

Written in ``ffdetect prepare``'s format (``faces/`` + ``manifest.csv`` + ``videos.csv``) so that
``ffdetect train`` and ``ffdetect calibrate`` make the demo model like any other. Faces:

- colour: the faces of the insightface wheel's photos (:data:`PHOTOS`: a group photo with six
  people, a portrait), each an identity with many short real "videos" (random small camera moves
  of the photo) and as many fakes (the face self-blended in the full frame, a new blend per
  video), detected, aligned and cropped by the same code as ``detect``;
- grey: the first ``lfw_identities`` of scikit-image's LFW faces
  (:func:`ffdetect.data.synthetic_task.build_self_blended_task`).

The demo's own photos (Grace Hopper, the astronaut) are never used here: the demo scores faces
the model has not seen.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from ffdetect.data.faces import crop_face
from ffdetect.data.manifest import (
    MANIFEST_COLUMNS,
    VIDEO_COLUMNS,
    atomic_write_bytes,
    complete_video_row,
    face_row,
    read_csv,
    write_csv,
)
from ffdetect.data.synthetic_task import build_self_blended_task
from ffdetect.inference.samples import blend_face_in_photo, random_view, warp_face, warp_view

DATASET = "demo-selfblend"
#: Colour photos of the insightface wheel (installed with ``pip install --no-deps insightface``).
PHOTOS = ("t1.jpg", "Tom_Hanks_54745.png")
#: Split of the colour identities (t1's six faces largest first, then Tom Hanks).
COLOUR_SPLITS = ("train", "train", "val", "train", "val", "train", "train")


def insightface_photo(name: str) -> Path:
    """A photo shipped inside the installed insightface package (its code is never imported)."""
    import importlib.util

    spec = importlib.util.find_spec("insightface")
    for loc in (spec.submodule_search_locations or []) if spec is not None else []:
        path = Path(loc) / "data" / "images" / name
        if path.is_file():
            return path
    raise FileNotFoundError(f"{name} not found: pip install --no-deps insightface")


def _face_region(photo: np.ndarray, face, margin: float = 1.6):
    """A sub-photo around one face (3.2 face boxes wide) and the face moved into it."""
    h, w = photo.shape[:2]
    x1, y1, x2, y2 = face.box
    cx, cy, half = (x1 + x2) / 2, (y1 + y2) / 2, max(x2 - x1, y2 - y1) * margin
    left, top = int(max(0, cx - half)), int(max(0, cy - half))
    right, bottom = int(min(w, cx + half)), int(min(h, cy + half))
    shift = np.array([[1.0, 0.0, -left], [0.0, 1.0, -top]])
    return np.ascontiguousarray(photo[top:bottom, left:right]), warp_face(face, shift)


def _write_png(path: Path, rgb: np.ndarray) -> None:
    ok, png = cv2.imencode(".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    if not ok:
        raise RuntimeError(f"could not encode {path}")
    atomic_write_bytes(path, png.tobytes())


def build_demo_task(
    out: str | Path,
    size: int = 64,
    frames: int = 4,
    videos_per_face: int = 16,
    lfw_identities: int = 40,
    seed: int = 0,
) -> Path:
    """Write the demo training set into ``out``; returns its ``manifest.csv``."""
    from ffdetect.data.detectors import make_detector

    out = Path(out)
    build_self_blended_task(out, size=size, frames=frames, seed=seed, n_identities=lfw_identities)
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
        region, local = _face_region(image, face)
        for video in range(videos_per_face):
            for label, kind in ((0, "real"), (1, "fake")):
                source = blend_face_in_photo(region, local, rng) if label else region
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
                    aligned = crop_face(warp_view(source, matrix), warp_face(local, matrix), size)
                    crop = Path("faces") / video_id / f"{frame:04d}.png"
                    _write_png(out / crop, aligned.crop)
                    face_rows.append(face_row(base, frame, crop, face.score, aligned.face.box))
                path = f"insightface:{photo}#face{idx}"
                video_rows.append(complete_video_row(base, path, frames))
    write_csv(out / "manifest.csv", MANIFEST_COLUMNS, face_rows)
    write_csv(out / "videos.csv", VIDEO_COLUMNS, video_rows)
    return out / "manifest.csv"


def record_demo_provenance(model: str | Path, commands: list[str], data: str) -> None:
    """Add to a model's provenance how the demo model was made (script, commands, data)."""
    from ffdetect.checkpoint.model_format import read_meta, write_meta

    meta = read_meta(model)
    meta.provenance["demo"] = {
        "script": "demo_model/make_demo_model.sh",
        "commands": commands,
        "data": data,
        "not_in_training": "the demo photos: matplotlib's Grace Hopper, scikit-image's astronaut",
    }
    write_meta(model, meta)


DATA_SUMMARY = (
    "self-blended task: colour faces of insightface's t1.jpg (6 people) and Tom_Hanks_54745.png, "
    "16 real + 16 self-blended 4-frame clips per face (5 faces train, 2 validation), plus 40 "
    "grey 25 px LFW faces (scikit-image) and their self-blended fakes; 64 px crops"
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
        record_demo_provenance(args.model, args.commands, DATA_SUMMARY)
        print(f"recorded provenance in {args.model}")


if __name__ == "__main__":
    main()
