"""Ordinary-photo conditions for the real-face task: a face among other people, side light, tilt.

The shipped model's photos are centred CelebA portraits, one face each; the photos it meets are
not. These whole-image changes put a drawn face where group photos put it, the same for a real
draw and its fake twin (so none is a cue by itself):

- :func:`compose_scene`: the photo set in a row of other people's photos, each at its own scale
  and height, so that neighbouring faces reach into the face crop and the face is one of several;
- :func:`side_light`: light falling off across the image in a random direction;
- :func:`tilt`: the whole image turned in plane (heads tilted, a camera held askew).
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from ffdetect.data.detectors import Face
from ffdetect.synthesis.media import view_matrix, warp_face, warp_view

#: Other people beside the face in a scene.
NEIGHBOURS = (1, 3)
#: Scale of each photo in a scene, relative to its own size (drawn log-uniformly).
TILE_SCALES = (0.6, 1.5)
#: Share of a tile's width that the next tile may cover.
MAX_OVERLAP = 0.2


def _scaled(image: np.ndarray, f: float) -> np.ndarray:
    h, w = image.shape[:2]
    size = (max(8, int(round(w * f))), max(8, int(round(h * f))))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA if f < 1 else cv2.INTER_CUBIC)


def compose_scene(
    image: np.ndarray, face: Face, others: Sequence[np.ndarray], rng: np.random.Generator
) -> tuple[np.ndarray, Face]:
    """``image`` placed in a row with ``others`` (RGB uint8 photos of other people, in that
    order), each scaled by its own factor from :data:`TILE_SCALES`, set at a random height over a
    blurred background and overlapping its left neighbour by up to :data:`MAX_OVERLAP`; returns
    the scene and where ``face`` now is. ``image`` goes at a random place in the row."""
    if not others:
        return image, face
    at = int(rng.integers(len(others) + 1))
    photos = [*others[:at], image, *others[at:]]
    scales = np.exp(rng.uniform(*np.log(TILE_SCALES), size=len(photos)))
    tiles = [_scaled(p, f) for p, f in zip(photos, scales, strict=True)]
    height = int(max(t.shape[0] for t in tiles) * rng.uniform(1.0, 1.3))
    xs, x = [], 0
    for t in tiles:
        xs.append(x)
        x += int(t.shape[1] * (1.0 - rng.uniform(0.0, MAX_OVERLAP)))
    width = xs[-1] + tiles[-1].shape[1]
    back = cv2.GaussianBlur(cv2.resize(tiles[0], (width, height)), (0, 0), 8.0)
    scene = back.copy()
    ys = [int(rng.integers(height - t.shape[0] + 1)) for t in tiles]
    for t, x0, y0 in zip(tiles, xs, ys, strict=True):
        scene[y0 : y0 + t.shape[0], x0 : x0 + t.shape[1]] = t
    x0, y0 = xs[at], ys[at]
    h, w = image.shape[:2]
    sx, sy = tiles[at].shape[1] / w, tiles[at].shape[0] / h
    box = np.asarray(face.box, np.float64).reshape(2, 2) * (sx, sy) + (x0, y0)
    landmarks = np.asarray(face.landmarks, np.float64) * (sx, sy) + (x0, y0)
    return scene, Face(tuple(float(v) for v in box.ravel()), face.score, landmarks)


def side_light(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``image`` lit from one side: brightness falling linearly by 30-70% across it, in a random
    direction."""
    h, w = image.shape[:2]
    angle = rng.uniform(0.0, 2.0 * np.pi)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    ramp = (xx / max(w - 1, 1) - 0.5) * np.cos(angle) + (yy / max(h - 1, 1) - 0.5) * np.sin(angle)
    gain = 1.0 + rng.uniform(0.3, 0.7) * ramp / max(float(np.abs(ramp).max()), 1e-6) * 0.5
    lit = image.astype(np.float32) * gain[..., None]
    return np.clip(lit.round(), 0, 255).astype(np.uint8)


def tilt(image: np.ndarray, face: Face, rng: np.random.Generator) -> tuple[np.ndarray, Face]:
    """``image`` turned by up to 20 degrees about its centre, and ``face`` with it."""
    matrix = view_matrix(image.shape[:2], rng.uniform(-20.0, 20.0), 1.0, (0.0, 0.0))
    return warp_view(image, matrix), warp_face(face, matrix)
