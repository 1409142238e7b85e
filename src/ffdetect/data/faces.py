"""One frame in, aligned face crops out: the step shared by ``prepare`` and by inference."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from .align import FFDETECT_TEMPLATE, align_face
from .detectors import Face, FaceDetector

__all__ = ["AlignedFace", "crop_face", "crop_faces", "find_faces"]

#: Frames are downscaled to this longest side for face detection only (``detect``'s default).
DETECT_MAX_SIDE = 640
#: Faces scoring below this are dropped (``detect``'s default).
MIN_FACE_SCORE = 0.9


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


def find_faces(
    rgb: np.ndarray,
    detector: FaceDetector,
    max_side: int = DETECT_MAX_SIDE,
    min_score: float = MIN_FACE_SCORE,
    near: Sequence[Face] | None = None,
) -> list[Face]:
    """Faces of one frame in its own pixels, detected on a copy downscaled to ``max_side``, as
    ``detect`` finds them (the real-face training task crops its draws with it too).

    With ``near`` (faces of a previous frame) and a detector that can follow faces
    (``detect_near``), only the surroundings of those faces are searched.
    """
    h, w = rgb.shape[:2]
    s = min(1.0, max_side / max(h, w))
    small = rgb if s >= 1.0 else cv2.resize(rgb, (round(w * s), round(h * s)), cv2.INTER_AREA)
    if near is not None:
        found = detector.detect_near(small, [tuple(v * s for v in f.box) for f in near])
    else:
        found = detector.detect(small)
    return [
        Face(
            box=tuple(float(v) / s for v in f.box),
            score=f.score,
            landmarks=np.asarray(f.landmarks) / s,
        )
        for f in found
        if f.score >= min_score
    ]
