"""A small, real, offline deepfake task: package-shipped faces and their self-blended fakes.

``build_self_blended_task`` writes a prepared directory in ``ffdetect prepare``'s format
(``faces/`` + ``manifest.csv`` + ``videos.csv``) from scikit-image's 100 LFW faces: every face is
an identity with one real and one self-blended fake "video" of a few jittered views. Identities
are split into train / val / test, so test faces are never seen in training.

The LFW faces are grey; the fakes therefore get brightness/contrast, geometry and blur jitter
only, identical in all channels (no colour cue to shortcut on). What the task measures is
whether a model finds blending boundaries and local statistics, on 25 px faces upscaled: a
hard, small task, not a stand-in for FF++.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from ffdetect.data.manifest import (
    write_clip,
    write_tables,
)
from ffdetect.synthesis.blend import self_blend
from ffdetect.synthesis.sources import lfw_faces

DATASET = "selfblend-lfw"
LABELS = ((0, "real"), (1, "fake"))

#: The task of the learning and pre-training benchmarks: the faces at their native scale, four
#: real and four fake clips per identity, blends at strength 3 (visible but not crude).
BENCHMARK_TASK = {"size": 32, "frames": 4, "strength": 3.0, "videos_per_identity": 4}
#: Fine-tuning overrides of the tiny configs for that task: 32 px input, and no augmentation
#: (JPEG 40-100 and colour jitter would erase blending cues at this size).
BENCHMARK_TRAIN_OVERRIDES = ("model.img_size=32", "data.augment=false", "schedule.warmup_epochs=2")


def _view(face: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    """One jittered 'frame' of a face: small rotation, scale and shift, then resized."""
    h, w = face.shape[:2]
    matrix = cv2.getRotationMatrix2D((w / 2, h / 2), rng.uniform(-6, 6), rng.uniform(0.95, 1.08))
    matrix[:, 2] += rng.uniform(-0.04, 0.04, size=2) * (w, h)
    warped = cv2.warpAffine(face, matrix, (w, h), borderMode=cv2.BORDER_REFLECT)
    return cv2.resize(warped, (size, size), interpolation=cv2.INTER_CUBIC)


def skin_tint(grey: np.ndarray, gains: np.ndarray) -> np.ndarray:
    """A grey RGB uint8 face in a skin tone: per-channel ``gains`` (R, G, B) of its grey level."""
    return np.clip(grey.astype(np.float32) * gains + 0.5, 0, 255).astype(np.uint8)


def identity_splits(n: int, fractions: tuple[float, float], seed: int) -> list[str]:
    """Split label of each of ``n`` identities: a seeded permutation cut into train/val/test."""
    order = np.random.default_rng(seed).permutation(n)
    n_train, n_val = int(round(fractions[0] * n)), int(round(fractions[1] * n))
    split = ["test"] * n
    for rank, idx in enumerate(order):
        split[idx] = "train" if rank < n_train else "val" if rank < n_train + n_val else "test"
    return split


def build_self_blended_task(
    out: str | Path,
    size: int = 64,
    frames: int = 4,
    seed: int = 0,
    fractions: tuple[float, float] = (0.6, 0.2),
    n_identities: int | None = None,
    strength: float = 1.0,
    videos_per_identity: int = 1,
    tint: bool = False,
) -> Path:
    """Write the task into ``out``; returns the path of its ``manifest.csv``.

    ``strength`` scales the self-blending jitter (see :func:`ffdetect.synthesis.blend.self_blend`):
    larger is easier. ``videos_per_identity`` real and as many fake clips are made of each face,
    each from fresh view and blend jitter. ``tint`` turns the grey faces into colour ones, a
    random skin tone per clip (:func:`skin_tint`), and blends them with colour jitter too.
    """
    out = Path(out)
    faces = lfw_faces()[: n_identities or None]
    splits = identity_splits(len(faces), fractions, seed)
    rng = np.random.default_rng(seed)
    face_rows, video_rows = [], []
    clips = [(label, kind, k) for k in range(videos_per_identity) for label, kind in LABELS]
    for idx, (face, split) in enumerate(zip(faces, splits, strict=True)):
        for label, kind, k in clips:
            gains = rng.uniform((1.0, 0.72, 0.55), (1.15, 0.92, 0.82)) if tint else None
            name = f"lfw_{idx:03d}" if videos_per_identity == 1 else f"lfw_{idx:03d}_{k}"
            video_id = f"{kind}/{name}"
            method = "original" if label == 0 else "selfblend"
            base = {
                "video_id": video_id,
                "dataset": DATASET,
                "method": method,
                "split": split,
                "label": label,
            }
            views = []
            for _ in range(frames):
                view = _view(face, size, rng)
                if gains is not None:
                    view = skin_tint(view, gains)
                if label:
                    view = self_blend(view, rng, colour=tint, strength=strength)
                views.append(view)
            rows, video = write_clip(out, base, views, f"skimage:lfw_subset[{idx}]")
            face_rows += rows
            video_rows.append(video)
    return write_tables(out, face_rows, video_rows)
