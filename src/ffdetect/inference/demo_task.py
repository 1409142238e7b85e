"""The demo model's training data: self-blended colour faces plus the LFW self-blended task.

Written in ``ffdetect prepare``'s format (``faces/`` + ``manifest.csv`` + ``videos.csv``) so that
``ffdetect train`` and ``ffdetect calibrate`` make the demo model like any other. Faces:

- colour: the six faces of a group photo (``tests/artifacts/t1.jpg``, from the insightface
  wheel), each an identity with many short real "videos" (random small camera moves of the photo)
  and as many fakes (the face self-blended in the full frame, a new blend per video), detected,
  aligned and cropped by the same code as ``detect``;
- grey: scikit-image's 100 LFW faces, as in :func:`ffdetect.data.synthetic_task`.

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
    read_csv,
    write_csv,
)
from ffdetect.data.synthetic_task import build_self_blended_task
from ffdetect.inference.samples import blend_face_in_photo, random_view, warp_face, warp_view

DATASET = "demo-selfblend"
#: Split of the six colour identities (largest face first): four train, two validation.
COLOUR_SPLITS = ("train", "train", "val", "train", "val", "train")


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
    photo: str | Path,
    size: int = 64,
    frames: int = 4,
    videos_per_face: int = 24,
    seed: int = 0,
) -> Path:
    """Write the demo training set into ``out``; returns its ``manifest.csv``."""
    from ffdetect.data.detectors import make_detector

    out = Path(out)
    build_self_blended_task(out, size=size, frames=frames, seed=seed)
    face_rows = read_csv(out / "manifest.csv")
    video_rows = read_csv(out / "videos.csv")
    image = np.asarray(Image.open(photo).convert("RGB"))
    faces = [f for f in make_detector("mtcnn").detect(image) if f.score >= 0.95]
    faces.sort(key=lambda f: -f.area)
    rng = np.random.default_rng(seed)
    for idx, (face, split) in enumerate(zip(faces, COLOUR_SPLITS, strict=False)):
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
                    x1, y1, x2, y2 = aligned.face.box
                    face_rows.append(
                        {
                            **base,
                            "frame": frame,
                            "crop_path": crop.as_posix(),
                            "det_score": f"{face.score:.4f}",
                            **dict(zip(("box_x1", "box_y1", "box_x2", "box_y2"), (x1, y1, x2, y2))),
                        }
                    )
                video_rows.append(
                    {
                        **base,
                        "path": f"{Path(photo).name}#face{idx}",
                        "frames_requested": frames,
                        "frames_found": frames,
                        "status": "ok",
                        "error": "",
                    }
                )
    write_csv(out / "manifest.csv", MANIFEST_COLUMNS, face_rows)
    write_csv(out / "videos.csv", VIDEO_COLUMNS, video_rows)
    return out / "manifest.csv"
