"""Similarity alignment of a face to a five-point template, and square crops with a margin.

Coordinates of the template are given in a unit *face box* (0..1 on both axes). A crop of
``size`` pixels with margin ``scale`` shows that face box enlarged ``scale`` times around its
centre, so ``scale=1.3`` is "1.3 times the face box" as in METHOD.md section 5.

The default template (:data:`FFDETECT_TEMPLATE`) is the mean landmark layout, as MTCNN sees it, of
the original authors' own aligned 224 px crops (``shared/fixtures/official_samples/*_aligned.png``)
taken as 1.3x face-box crops: at the default ``scale=1.3`` our crops frame faces the way theirs
do. The ArcFace template is available as :data:`ARCFACE_TEMPLATE` for users who want it.

The same functions serve inference on single images: :func:`align_face` takes any RGB image and
five landmarks; :func:`crop_faces` (in :mod:`ffdetect.data.faces`) adds detection.
"""

from __future__ import annotations

import cv2
import numpy as np

__all__ = [
    "ARCFACE_TEMPLATE",
    "FFDETECT_TEMPLATE",
    "align_face",
    "box_crop_matrix",
    "similarity_matrix",
    "template_points",
    "transform_points",
]

# Left eye, right eye, nose tip, left mouth corner, right mouth corner (image left first).
FFDETECT_TEMPLATE = np.array(
    [
        [0.2694, 0.3992],
        [0.7142, 0.3991],
        [0.4841, 0.5910],
        [0.3036, 0.7864],
        [0.6747, 0.7890],
    ],
    dtype=np.float64,
)

# insightface's ArcFace template (112 x 112 px), in unit coordinates.
ARCFACE_TEMPLATE = (
    np.array(
        [
            [38.2946, 51.6963],
            [73.5318, 51.5014],
            [56.0252, 71.7366],
            [41.5493, 92.3655],
            [70.7299, 92.2041],
        ],
        dtype=np.float64,
    )
    / 112.0
)


def template_points(
    size: int, scale: float = 1.3, template: np.ndarray = FFDETECT_TEMPLATE
) -> np.ndarray:
    """Where the template's five points land in a ``size`` px crop with margin ``scale``."""
    t = np.asarray(template, dtype=np.float64)
    return ((t - 0.5) / scale + 0.5) * size


def similarity_matrix(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Least-squares similarity transform (rotation, uniform scale, translation) src -> dst.

    Umeyama's method without reflection. Returns a 2 x 3 float64 matrix.
    """
    src = np.asarray(src, dtype=np.float64).reshape(-1, 2)
    dst = np.asarray(dst, dtype=np.float64).reshape(-1, 2)
    mu_s, mu_d = src.mean(0), dst.mean(0)
    s0, d0 = src - mu_s, dst - mu_d
    var_s = (s0**2).sum() / len(src)
    if var_s <= 1e-12:
        raise ValueError("degenerate landmarks: all points coincide")
    cov = d0.T @ s0 / len(src)
    u, sig, vt = np.linalg.svd(cov)
    d = np.ones(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        d[1] = -1
    r = u @ np.diag(d) @ vt
    c = (sig * d).sum() / var_s
    t = mu_d - c * r @ mu_s
    return np.c_[c * r, t]


def box_crop_matrix(box: tuple[float, float, float, float], size: int, scale: float) -> np.ndarray:
    """Affine matrix of an axis-aligned square crop: the box's longer side times ``scale``."""
    x1, y1, x2, y2 = (float(v) for v in box)
    side = max(x2 - x1, y2 - y1) * scale
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    k = size / max(side, 1e-6)
    return np.array([[k, 0, size / 2 - k * cx], [0, k, size / 2 - k * cy]], dtype=np.float64)


def transform_points(matrix: np.ndarray, pts: np.ndarray) -> np.ndarray:
    """Apply a 2 x 3 affine matrix to (n, 2) points."""
    pts = np.asarray(pts, dtype=np.float64).reshape(-1, 2)
    return pts @ matrix[:, :2].T + matrix[:, 2]


def align_face(
    rgb: np.ndarray,
    landmarks: np.ndarray | None = None,
    *,
    box: tuple[float, float, float, float] | None = None,
    size: int = 224,
    scale: float = 1.3,
    mode: str = "similarity",
    template: np.ndarray = FFDETECT_TEMPLATE,
    border: int = cv2.BORDER_CONSTANT,
) -> tuple[np.ndarray, np.ndarray]:
    """Crop one face from an RGB image; returns ``(crop, matrix)``.

    ``mode="similarity"`` (default) maps the five ``landmarks`` onto the template (rotation,
    scale, translation), with margin ``scale``; ``mode="box"`` crops the detector ``box`` square and
    upright, ``scale`` times its longer side. ``matrix`` maps image pixels to crop pixels. Parts of
    the crop outside the image are black (``border`` may ask OpenCV for another border mode).
    """
    if mode == "similarity":
        if landmarks is None:
            raise ValueError("similarity alignment needs five landmarks")
        m = similarity_matrix(landmarks, template_points(size, scale, template))
    elif mode == "box":
        if box is None:
            raise ValueError("box cropping needs a box")
        m = box_crop_matrix(box, size, scale)
    else:
        raise ValueError(f"unknown alignment mode {mode!r} (similarity or box)")
    crop = cv2.warpAffine(
        np.ascontiguousarray(rgb),
        m,
        (size, size),
        flags=cv2.INTER_LINEAR,
        borderMode=border,
        borderValue=(0, 0, 0),
    )
    return crop, m
