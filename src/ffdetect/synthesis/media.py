"""Sample media made offline from photos: self-blended forgeries in full frames, short clips.

Used by the demo (its sample videos), the real-face task and the benchmarks. A forged frame is
made by self-blending the region around one detected face of a photo (the SBI recipe,
:func:`~ffdetect.synthesis.blend.sbi_blend`, or the older
:func:`~ffdetect.synthesis.blend.self_blend`) and pasting it back, so the blending boundary
lives in frame pixels and reaches the model through the same detection and alignment as any real
video.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np

from ffdetect.data.align import transform_points
from ffdetect.data.detectors import Face
from ffdetect.synthesis.blend import sbi_blend, self_blend

#: Side of the region around a face box that is self-blended (times the box size).
BLEND_REGION = 1.8


def blend_region(shape: tuple[int, int], face: Face) -> tuple[int, int, int, int]:
    """``(top, bottom, left, right)`` of the square region, :data:`BLEND_REGION` face boxes wide,
    around ``face`` (clipped to an image of ``shape``) that forgeries replace."""
    h, w = shape
    x1, y1, x2, y2 = face.box
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    half = max(x2 - x1, y2 - y1) * BLEND_REGION / 2
    left, top = int(max(0, cx - half)), int(max(0, cy - half))
    return top, int(min(h, cy + half)), left, int(min(w, cx + half))


def blend_in_region(
    photo: np.ndarray, face: Face, blend: Callable[[np.ndarray, np.ndarray], np.ndarray]
) -> np.ndarray:
    """``photo`` with the region around ``face`` (:func:`blend_region`) replaced by
    ``blend(region, landmarks in region coordinates)``."""
    top, bottom, left, right = blend_region(photo.shape[:2], face)
    region = np.ascontiguousarray(photo[top:bottom, left:right])
    landmarks = np.asarray(face.landmarks, dtype=np.float32) - (left, top)
    out = photo.copy()
    out[top:bottom, left:right] = blend(region, landmarks)
    return out


def blend_face_in_photo(
    photo: np.ndarray, face: Face, rng: np.random.Generator, strength: float = 1.0
) -> np.ndarray:
    """``photo`` with ``face`` replaced by a self-blended version of itself (a forged frame);
    ``strength`` scales the blending jitter (:func:`ffdetect.synthesis.blend.legacy_jitter`)."""
    return blend_in_region(
        photo,
        face,
        lambda region, landmarks: self_blend(
            region, rng, landmarks=landmarks, colour=True, strength=strength
        ),
    )


def sbi_face_in_photo(
    photo: np.ndarray,
    face: Face,
    rng: np.random.Generator,
    strength: float = 1.0,
    outline: str = "face",
) -> np.ndarray:
    """``photo`` with ``face`` self-blended in the SBI recipe
    (:func:`ffdetect.synthesis.blend.sbi_blend`, mask ``outline``) inside the region around it."""
    return blend_in_region(
        photo,
        face,
        lambda region, landmarks: sbi_blend(
            region, landmarks, rng, strength=strength, outline=outline
        ),
    )


def mirror_face(image: np.ndarray, face: Face) -> tuple[np.ndarray, Face]:
    """``image`` flipped left to right and ``face`` with it (left and right landmarks swapped)."""
    w = image.shape[1]
    x1, y1, x2, y2 = face.box
    points = np.asarray(face.landmarks, dtype=np.float32).copy()
    points[:, 0] = w - 1 - points[:, 0]
    flipped = Face((w - 1 - x2, y1, w - 1 - x1, y2), face.score, points[[1, 0, 2, 4, 3]])
    return np.ascontiguousarray(image[:, ::-1]), flipped


def view_matrix(
    shape: tuple[int, int], angle: float, scale: float, shift: tuple[float, float]
) -> np.ndarray:
    """2 x 3 similarity about the image centre: rotation (degrees), scale, shift (pixels)."""
    h, w = shape
    matrix = cv2.getRotationMatrix2D((w / 2, h / 2), angle, scale)
    matrix[:, 2] += shift
    return matrix


def warp_view(photo: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """The photo seen through a similarity ``matrix`` (borders reflected)."""
    h, w = photo.shape[:2]
    return cv2.warpAffine(
        photo, matrix, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT
    )


def warp_face(face: Face, matrix: np.ndarray) -> Face:
    """A detection moved by the same similarity as its photo (box from the moved corners)."""
    x1, y1, x2, y2 = face.box
    corners = transform_points(matrix, np.array([[x1, y1], [x2, y1], [x1, y2], [x2, y2]], float))
    box = (*corners.min(axis=0), *corners.max(axis=0))
    landmarks = transform_points(matrix, np.asarray(face.landmarks, dtype=np.float64))
    return Face(box=tuple(float(v) for v in box), score=face.score, landmarks=landmarks)


def random_view(shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """A small random camera move: +-5 degrees, 0.93-1.07 zoom, +-3 % shift."""
    h, w = shape
    return view_matrix(
        shape,
        rng.uniform(-5, 5),
        rng.uniform(0.93, 1.07),
        (rng.uniform(-0.03, 0.03) * w, rng.uniform(-0.03, 0.03) * h),
    )


def clip_frames(photo: np.ndarray, n_frames: int, seed: int = 0) -> list[np.ndarray]:
    """A short "video" of a still photo: a slow, smooth pan and zoom (same photo every frame)."""
    rng = np.random.default_rng(seed)
    h, w = photo.shape[:2]
    start, end = rng.uniform(-1, 1, size=(2, 4)) * (3.0, 0.04, 0.02, 0.02)
    frames = []
    for t in np.linspace(0.0, 1.0, n_frames):
        angle, zoom, dx, dy = start + (end - start) * t
        frames.append(warp_view(photo, view_matrix((h, w), angle, 1.0 + zoom, (dx * w, dy * h))))
    return frames


def resize_to_height(image: np.ndarray, height: int) -> np.ndarray:
    """Resize keeping the aspect ratio; width rounded to an even number (video encoders)."""
    h, w = image.shape[:2]
    width = int(round(w * height / h / 2)) * 2
    return cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)


def write_video(frames: Sequence[np.ndarray], path: str | Path, fps: int = 10) -> Path:
    """Encode RGB uint8 frames as an MP4 (H.264, or MPEG-4 Part 2) video with PyAV."""
    import av

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    h, w = frames[0].shape[:2]
    codec = "libx264" if "libx264" in av.codecs_available else "mpeg4"
    with av.open(str(path), mode="w", format="mp4") as container:
        stream = container.add_stream(codec, rate=Fraction(fps))
        stream.width, stream.height = w - w % 2, h - h % 2
        stream.pix_fmt = "yuv420p"
        if codec == "libx264":
            stream.options = {"crf": "18", "preset": "veryfast"}
        for frame in frames:
            image = np.ascontiguousarray(frame[: stream.height, : stream.width])
            container.mux(stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")))
        container.mux(stream.encode())
    return path
