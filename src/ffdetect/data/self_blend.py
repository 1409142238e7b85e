"""Self-blended forgeries (the SBI recipe of Shiohara and Yamasaki, CVPR 2022, simplified).

A face is blended with a photometrically and geometrically jittered copy of itself inside a soft
face mask. The result carries the blending boundary and the statistical mismatch that face swaps
leave, without any identity change: a standard way to train and test detectors without fakes.
"""

from __future__ import annotations

import cv2
import numpy as np


def face_mask(
    shape: tuple[int, int], landmarks: np.ndarray | None, rng: np.random.Generator
) -> np.ndarray:
    """A soft mask in [0, 1]: the convex hull of the landmarks, or a centred ellipse without them,
    randomly dilated or eroded, then Gaussian-blurred."""
    h, w = shape
    mask = np.zeros((h, w), dtype=np.uint8)
    if landmarks is not None and len(landmarks) >= 3:
        pts = np.asarray(landmarks, dtype=np.float32)
        center = pts.mean(axis=0)
        pts = center + (pts - center) * 1.6  # 5 points span eyes to mouth: grow to the face
        cv2.fillConvexPoly(mask, cv2.convexHull(pts.astype(np.int32)), 255)
    else:
        axes = (int(w * rng.uniform(0.30, 0.38)), int(h * rng.uniform(0.38, 0.46)))
        cv2.ellipse(mask, (w // 2, int(h * 0.52)), axes, 0, 0, 360, 255, -1)
    k = max(1, int(min(h, w) * rng.uniform(0.02, 0.06)))
    kernel = np.ones((k, k), np.uint8)
    mask = cv2.dilate(mask, kernel) if rng.random() < 0.5 else cv2.erode(mask, kernel)
    sigma = min(h, w) * rng.uniform(0.03, 0.08)
    soft = cv2.GaussianBlur(mask.astype(np.float32) / 255.0, (0, 0), sigma)
    return np.clip(soft / max(soft.max(), 1e-6), 0.0, 1.0)


def jitter_source(
    face: np.ndarray, rng: np.random.Generator, colour: bool = True, strength: float = 1.0
) -> np.ndarray:
    """The copy that is pasted back: brightness/contrast (and, for colour faces, a per-channel
    shift), a small scale and translation, and sometimes a blur or a sharpening. ``strength``
    scales the photometric and geometric ranges (1 = the defaults below)."""
    img = face.astype(np.float32)
    h, w = img.shape[:2]
    img = img * (1 + rng.uniform(-0.1, 0.1) * strength) + rng.uniform(-12, 12) * strength
    if colour:
        img = img + rng.uniform(-10, 10, size=(1, 1, 3)) * strength
    scale = 1 + rng.uniform(-0.05, 0.05) * strength
    shift = rng.uniform(-0.02, 0.02, size=2) * strength * (w, h)
    matrix = cv2.getRotationMatrix2D((w / 2, h / 2), 0.0, scale)
    matrix[:, 2] += shift
    img = cv2.warpAffine(img, matrix, (w, h), borderMode=cv2.BORDER_REFLECT)
    choice = rng.random()
    if choice < 0.3:
        img = cv2.GaussianBlur(img, (0, 0), rng.uniform(0.5, 1.2))
    elif choice < 0.6:
        img = cv2.addWeighted(img, 1.5, cv2.GaussianBlur(img, (0, 0), 1.0), -0.5, 0)
    return img


def self_blend(
    face: np.ndarray,
    rng: np.random.Generator,
    landmarks: np.ndarray | None = None,
    colour: bool = True,
    strength: float = 1.0,
) -> np.ndarray:
    """A self-blended fake of an RGB uint8 face crop (same size); see :func:`jitter_source`."""
    if face.dtype != np.uint8 or face.ndim != 3:
        raise ValueError(f"expected an RGB uint8 face, got {face.dtype} {face.shape}")
    mask = face_mask(face.shape[:2], landmarks, rng)[..., None]
    mask = mask * rng.choice([0.5, 0.75, 1.0, 1.0])
    blended = mask * jitter_source(face, rng, colour, strength) + (1.0 - mask) * face.astype(
        np.float32
    )
    return np.clip(blended.round(), 0, 255).astype(np.uint8)
