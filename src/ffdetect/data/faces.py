"""One frame in, aligned face crops out: the step shared by ``prepare`` and by inference."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .align import FFDETECT_TEMPLATE, align_face
from .detectors import Face, FaceDetector

__all__ = ["AlignedFace", "crop_face", "crop_faces"]


@dataclass
class AlignedFace:
    """An aligned crop with the detection it came from.

    ``face`` holds box, score and landmarks in the source image's pixels; ``matrix`` (2 x 3)
    maps source pixels to crop pixels.
    """

    crop: np.ndarray
    face: Face
    matrix: np.ndarray


def crop_face(
    rgb: np.ndarray,
    face: Face,
    size: int = 224,
    scale: float = 1.3,
    mode: str = "similarity",
    template: np.ndarray = FFDETECT_TEMPLATE,
) -> AlignedFace:
    """Align and crop one detected face."""
    crop, m = align_face(
        rgb, face.landmarks, box=face.box, size=size, scale=scale, mode=mode, template=template
    )
    return AlignedFace(crop=crop, face=face, matrix=m)


def crop_faces(
    rgb: np.ndarray,
    detector: FaceDetector,
    size: int = 224,
    scale: float = 1.3,
    mode: str = "similarity",
    min_score: float = 0.0,
    max_faces: int | None = None,
) -> list[AlignedFace]:
    """Detect the faces of one RGB uint8 frame and return their aligned crops, largest first."""
    faces = [f for f in detector.detect(rgb) if f.score >= min_score]
    faces.sort(key=lambda f: -f.area)
    if max_faces is not None:
        faces = faces[:max_faces]
    return [crop_face(rgb, f, size=size, scale=scale, mode=mode) for f in faces]
