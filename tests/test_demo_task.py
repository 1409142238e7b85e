"""The demo model's training task: what goes into it and what never does."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from ffdetect.data.detectors import Face
from ffdetect.inference.demo_task import PHOTOS, _face_region, build_demo_task, insightface_photo
from ffdetect.synthesis.lfw_task import skin_tint


def _rows(path: Path) -> list[dict]:
    with path.open(newline="") as fh:
        return list(csv.DictReader(fh))


def test_mirrored_region_keeps_landmarks_on_the_right_eyes() -> None:
    photo = np.zeros((200, 300, 3), np.uint8)
    photo[:, 150:] = 255  # right half white: mirroring must move it left
    landmarks = np.array([[120, 90], [160, 90], [140, 110], [125, 130], [155, 130]], np.float32)
    face = Face(box=(110.0, 70.0, 170.0, 140.0), score=1.0, landmarks=landmarks)
    region, local = _face_region(photo, face)
    flipped, mirrored = _face_region(photo, face, mirror=True)
    assert np.array_equal(flipped, region[:, ::-1])
    lm = np.asarray(mirrored.landmarks)
    assert lm[0, 0] < lm[1, 0] and lm[3, 0] < lm[4, 0]  # left eye/mouth corner still image-left
    width = region.shape[1]
    assert np.allclose(sorted(lm[:2, 0]), sorted(width - 1 - np.asarray(local.landmarks)[:2, 0]))


def test_skin_tint_colours_a_grey_face() -> None:
    grey = np.full((4, 4, 3), 100, np.uint8)
    tinted = skin_tint(grey, np.array([1.1, 0.8, 0.6]))
    assert tinted[0, 0].tolist() == [110, 80, 60]


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_demo_task_layout(tmp_path: Path) -> None:
    try:
        insightface_photo(PHOTOS[0])
    except FileNotFoundError:
        pytest.skip("needs the insightface wheel's photos (pip install --no-deps insightface)")
    build_demo_task(
        tmp_path, size=32, frames=2, videos_per_face=2, lfw_identities=10, texture_clips=3
    )
    videos = _rows(tmp_path / "videos.csv")
    faces = _rows(tmp_path / "manifest.csv")
    assert sum(int(v["label"]) for v in videos) * 2 == len(videos)  # as many fakes as reals
    colour = [v for v in videos if "/colour_" in v["video_id"]]
    assert len(colour) == 7 * 2 * 2 and {v["split"] for v in colour} == {"train", "val"}
    textures = [v for v in videos if "/texture_" in v["video_id"]]
    assert len(textures) == 6 and {v["split"] for v in textures} == {"train"}
    sources = " ".join(v["path"] for v in videos)
    assert "grace" not in sources.lower() and "astronaut" not in sources.lower()
    assert all((tmp_path / f["crop_path"]).is_file() for f in faces)
    assert len(faces) == 2 * len(videos)
