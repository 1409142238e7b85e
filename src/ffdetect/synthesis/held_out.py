"""Forgeries for *testing* only, each made by a method that no training sample uses.

The shipped model trains on SBI self-blends inside a deformed landmark ellipse or the grown
landmark hull, and on identity swaps blended the same way
(:mod:`ffdetect.synthesis.real_faces`). A detector that learnt those masks and nothing else would
look good on a test set made with them; these are made otherwise:

- :func:`mask_blend`: the SBI source (colour- and frequency-jittered, resized, shifted) blended
  through a mask of another family: an upright ``ellipse`` fitted to the face box, a ``box``, or
  a ``feathered`` box whose edge fades over a third of the face;
- :func:`low_resolution_paste`: the face down-sampled 3-5 times and up-sampled again, pasted back
  (a generator working at a lower resolution than the video);
- :func:`colour_mismatch_paste`: the face with its brightness and colour shifted (in Lab), pasted
  without colour correction;
- :func:`jpeg`: recompression after forging, as every shared photo is;
- identity swaps (Poisson or alpha) are :func:`ffdetect.synthesis.blend.face_swap`.

Every function takes and returns an RGB uint8 photo and changes only the region around the face
(:func:`ffdetect.synthesis.media.blend_region`).
"""

from __future__ import annotations

import cv2
import numpy as np

from ffdetect.data.detectors import Face
from ffdetect.synthesis.blend import source_and_target
from ffdetect.synthesis.media import blend_in_region

#: The mask families of :func:`mask_blend`.
MASK_FAMILIES = ("ellipse", "box", "feathered")


def _box_in_region(face: Face, landmarks: np.ndarray, region_shape: tuple[int, int]) -> tuple:
    """``face``'s box in the coordinates of its blend region (landmarks give the offset)."""
    dx, dy = np.asarray(face.landmarks, np.float32)[0] - landmarks[0]
    x1, y1, x2, y2 = face.box
    h, w = region_shape
    return (
        int(np.clip(x1 - dx, 0, w - 1)),
        int(np.clip(y1 - dy, 0, h - 1)),
        int(np.clip(x2 - dx, 1, w)),
        int(np.clip(y2 - dy, 1, h)),
    )


def family_mask(shape: tuple[int, int], box: tuple[int, int, int, int], family: str) -> np.ndarray:
    """A soft mask in [0, 1] of ``shape`` over ``box`` (x1, y1, x2, y2): an upright ellipse
    inscribed in the box, the box itself, or the box feathered over a third of its size; the
    ellipse and the box get a blur of 2% of the face size."""
    if family not in MASK_FAMILIES:
        raise ValueError(f"unknown mask family {family!r}; use one of {MASK_FAMILIES}")
    h, w = shape
    x1, y1, x2, y2 = box
    size = max(x2 - x1, y2 - y1, 2)
    hard = np.zeros((h, w), np.uint8)
    if family == "ellipse":
        centre = ((x1 + x2) // 2, (y1 + y2) // 2)
        cv2.ellipse(
            hard, centre, (max(1, (x2 - x1) // 2), max(1, (y2 - y1) // 2)), 0, 0, 360, 255, -1
        )
    else:
        hard[y1:y2, x1:x2] = 255
    if family == "feathered":
        inside = cv2.distanceTransform(hard, cv2.DIST_L2, 5)
        return np.clip(inside / (size / 3.0), 0.0, 1.0).astype(np.float32)
    soft = cv2.GaussianBlur(hard.astype(np.float32) / 255.0, (0, 0), max(1.0, 0.02 * size))
    return np.clip(soft, 0.0, 1.0)


def _paste(region: np.ndarray, source: np.ndarray, mask: np.ndarray) -> np.ndarray:
    out = mask[..., None] * source + (1.0 - mask[..., None]) * region.astype(np.float32)
    return np.clip(out.round(), 0, 255).astype(np.uint8)


def mask_blend(
    photo: np.ndarray, face: Face, family: str, rng: np.random.Generator, strength: float = 1.0
) -> np.ndarray:
    """``photo`` with ``face`` self-blended (SBI's :func:`source_and_target` at ``strength``)
    through a :func:`family_mask` of ``family``, at a ratio of 0.75 or 1."""

    def blend(region: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
        source, _ = source_and_target(region, rng, strength)
        mask = family_mask(
            region.shape[:2], _box_in_region(face, landmarks, region.shape[:2]), family
        )
        return _paste(region, source, mask * rng.choice([0.75, 1.0]))

    return blend_in_region(photo, face, blend)


def low_resolution_paste(photo: np.ndarray, face: Face, rng: np.random.Generator) -> np.ndarray:
    """``photo`` with ``face`` replaced by itself down-sampled 3-5 times (area) and up-sampled
    back (bilinear), pasted through a feathered box."""

    def blend(region: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
        h, w = region.shape[:2]
        f = rng.uniform(3.0, 5.0)
        small = cv2.resize(
            region, (max(2, round(w / f)), max(2, round(h / f))), interpolation=cv2.INTER_AREA
        )
        coarse = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR).astype(np.float32)
        mask = family_mask((h, w), _box_in_region(face, landmarks, (h, w)), "feathered")
        return _paste(region, coarse, mask)

    return blend_in_region(photo, face, blend)


def colour_mismatch_paste(photo: np.ndarray, face: Face, rng: np.random.Generator) -> np.ndarray:
    """``photo`` with ``face``'s lightness shifted by 12-25 and its a/b colour by 8-15 (Lab, 0-255
    units, random signs), pasted through a blurred ellipse without colour correction."""

    def blend(region: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
        lab = cv2.cvtColor(region, cv2.COLOR_RGB2LAB).astype(np.float32)
        signs = rng.choice([-1.0, 1.0], size=3)
        lab += signs * np.r_[rng.uniform(12, 25), rng.uniform(8, 15, size=2)]
        shifted = cv2.cvtColor(np.clip(lab, 0, 255).astype(np.uint8), cv2.COLOR_LAB2RGB)
        mask = family_mask(
            region.shape[:2], _box_in_region(face, landmarks, region.shape[:2]), "ellipse"
        )
        return _paste(region, shifted.astype(np.float32), mask)

    return blend_in_region(photo, face, blend)


def jpeg(photo: np.ndarray, quality: int = 75) -> np.ndarray:
    """``photo`` (RGB uint8) encoded as JPEG at ``quality`` and decoded again."""
    ok, data = cv2.imencode(
        ".jpg", cv2.cvtColor(photo, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality]
    )
    if not ok:
        raise ValueError("JPEG encoding failed")
    return cv2.cvtColor(cv2.imdecode(data, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
