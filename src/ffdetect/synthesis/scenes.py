"""Ordinary-photo conditions for the real-face task: a face among other people, side light, tilt.

The shipped model's photos are centred CelebA portraits, one face each; the photos it meets are
not. These whole-image changes put a drawn face where group photos put it, the same for a real
draw and its fake twin (so none is a cue by itself):

- :func:`compose_scene`: the photo set in a row of other people's photos, each at its own scale
  and height, so that neighbouring faces reach into the face crop and the face is one of several;
- :func:`crowd`: other people's heads pasted just beside the face, so that they fill the crop's
  edge as the heads of a crowd do, and the face itself (but for the edge of its box) stays as it
  was;
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
#: Width of a head pasted by :func:`crowd`, relative to the face's (drawn log-uniformly).
CROWD_SCALES = (0.7, 1.3)
#: Gap between the face box and a pasted head's box, in face widths: from a slight overlap (the
#: face box itself stays untouched) to the edge of the 1.3 x box crop and a little beyond.
CROWD_GAPS = (-0.1, 0.2)
#: Sides of the face a pasted head goes to, and their chances: mostly beside it, as in a row.
CROWD_SIDES = (("left", 0.35), ("right", 0.35), ("above", 0.15), ("below", 0.15))


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


def _head(photo: np.ndarray, face: Face, width: float, mirrored: bool) -> np.ndarray:
    """The region 1.5 x around ``face`` of ``photo``, rescaled so that the face is ``width``
    px wide (and mirrored): the head, hair and a little of the shoulders and background."""
    x1, y1, x2, y2 = face.box
    cx, cy, half = (x1 + x2) / 2, (y1 + y2) / 2, 0.75 * max(x2 - x1, y2 - y1)
    h, w = photo.shape[:2]
    top, left = max(int(cy - half), 0), max(int(cx - half), 0)
    region = photo[top : min(int(cy + half), h), left : min(int(cx + half), w)]
    f = width / max(x2 - x1, 1.0)
    head = _scaled(region, f)
    return head[:, ::-1] if mirrored else head


def crowd(
    image: np.ndarray,
    face: Face,
    others: Sequence[tuple[np.ndarray, Face]],
    rng: np.random.Generator,
) -> np.ndarray:
    """``image`` with the heads of ``others`` (RGB uint8 photos and their faces) pasted beside
    ``face``: each on a side of :data:`CROWD_SIDES`, :data:`CROWD_GAPS` from the face box, at a
    width of :data:`CROWD_SCALES` x the face's, blended in with a feathered ellipse. The face
    box is masked out of every paste with a feathered edge (Gaussian, sigma 3% of the face
    width), so a paste reaches only that edge of the box: the face (and a forgery in it) stays as
    it was."""
    out = image.astype(np.float32)
    h, w = image.shape[:2]
    x1, y1, x2, y2 = face.box
    fw, fh = x2 - x1, y2 - y1
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    box = ((xx >= x1) & (xx < x2) & (yy >= y1) & (yy < y2)).astype(np.float32)
    keep = cv2.GaussianBlur(box, (0, 0), max(0.03 * fw, 0.5))
    names, chances = zip(*CROWD_SIDES, strict=True)
    for photo, other in others:
        side = str(rng.choice(names, p=chances))
        width = fw * float(np.exp(rng.uniform(*np.log(CROWD_SCALES))))
        head = _head(photo, other, width, bool(rng.random() < 0.5))
        gap = fw * rng.uniform(*CROWD_GAPS)
        hh, hw = head.shape[:2]
        along = rng.uniform(-0.4, 0.4)
        if side in ("left", "right"):
            cy = (y1 + y2) / 2 + along * fh
            cx = x1 - gap - 0.5 * width if side == "left" else x2 + gap + 0.5 * width
        else:
            cx = (x1 + x2) / 2 + along * fw
            cy = y1 - gap - 0.5 * width if side == "above" else y2 + gap + 0.5 * width
        ox, oy = int(round(cx - hw / 2)), int(round(cy - hh / 2))
        ellipse = np.zeros((hh, hw), np.float32)
        cv2.ellipse(
            ellipse, (hw // 2, hh // 2), (int(hw * 0.42), int(hh * 0.46)), 0, 0, 360, 1.0, -1
        )
        ellipse = cv2.GaussianBlur(ellipse, (0, 0), max(0.06 * hw, 0.5))
        sx0, sy0 = max(ox, 0), max(oy, 0)
        sx1, sy1 = min(ox + hw, w), min(oy + hh, h)
        if sx1 <= sx0 or sy1 <= sy0:
            continue
        patch = head[sy0 - oy : sy1 - oy, sx0 - ox : sx1 - ox].astype(np.float32)
        alpha = ellipse[sy0 - oy : sy1 - oy, sx0 - ox : sx1 - ox]
        alpha = (alpha * (1.0 - keep[sy0:sy1, sx0:sx1]))[..., None]
        region = out[sy0:sy1, sx0:sx1]
        out[sy0:sy1, sx0:sx1] = region * (1.0 - alpha) + patch * alpha
    return np.clip(out.round(), 0, 255).astype(np.uint8)


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
