"""Shared pieces of the detect / serve / export tests: a tiny saved model, a stub face detector,
small images and videos. (No tests here.)"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from ffdetect.checkpoint.metadata import Architecture, Calibration, ModelMeta
from ffdetect.checkpoint.model_format import save_model
from ffdetect.data.detectors import Face
from ffdetect.inference.pipeline import DetectionPipeline, DetectOptions
from ffdetect.models.detector import Detector
from ffdetect.synthesis.media import write_video
from ffdetect.synthesis.sources import grace_hopper

TINY = Architecture(size="custom", img_size=32, patch_size=8, embed_dim=32, depth=2, num_heads=2)


def save_tiny_model(
    path: Path, calibration: Calibration | None = None, flip_average: bool = False
) -> Path:
    """A randomly initialised 2-block detector in our model format."""
    meta = ModelMeta(
        architecture=TINY, calibration=calibration or Calibration(), flip_average=flip_average
    )
    return save_model(Detector.build(TINY).eval().with_flip_average(flip_average), meta, path)


class BoxDetector:
    """A face detector stub: the same boxes (fractions of the image) in every image."""

    name = "stub"

    def __init__(self, boxes: list[tuple[float, float, float, float]]) -> None:
        self.boxes = boxes

    def detect(self, rgb: np.ndarray) -> list[Face]:
        h, w = rgb.shape[:2]
        faces = []
        for fx1, fy1, fx2, fy2 in self.boxes:
            x1, y1, x2, y2 = fx1 * w, fy1 * h, fx2 * w, fy2 * h
            bw, bh = x2 - x1, y2 - y1
            lm = np.array(
                [[0.3, 0.4], [0.7, 0.4], [0.5, 0.6], [0.35, 0.8], [0.65, 0.8]], dtype=np.float32
            ) * (bw, bh) + (x1, y1)
            faces.append(Face(box=(x1, y1, x2, y2), score=0.99, landmarks=lm))
        return faces


def stub_pipeline(model: Path, boxes=((0.1, 0.1, 0.45, 0.6), (0.55, 0.1, 0.9, 0.6)), **options):
    """A pipeline on the saved model with the stub detector (two faces by default)."""
    pipeline = DetectionPipeline.from_model(model, DetectOptions(crop_size=64, **options))
    pipeline._face_detector = BoxDetector(list(boxes))
    return pipeline


def photo(height: int = 120) -> np.ndarray:
    """Grace Hopper, scaled to ``height`` pixels (even width)."""
    img = grace_hopper()
    w = int(img.shape[1] * height / img.shape[0]) // 2 * 2
    return cv2.resize(img, (w, height), interpolation=cv2.INTER_AREA)


def write_png(path: Path, rgb: np.ndarray) -> Path:
    """Save an RGB array as PNG."""
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    return path


def small_video(path: Path, frames: int = 6, height: int = 120) -> Path:
    """A short clip of a still photo drifting slightly."""
    from ffdetect.synthesis.media import clip_frames

    return write_video(clip_frames(photo(height), frames, seed=1), path)
