"""``ffdetect demo``: the shipped demo model, the sample videos, the end-to-end run."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ffdetect.data.detectors import Face
from ffdetect.demo import DEMO_MODEL, run_untrained_demo
from ffdetect.synthesis.media import blend_face_in_photo, clip_frames, write_video
from test_detect_helpers import photo

SHIPPED = pytest.mark.skipif(
    not (DEMO_MODEL / "ffdetect.json").is_file(), reason="demo_model/model is not in this tree"
)


def test_untrained_demo_still_available() -> None:
    rows = run_untrained_demo()
    assert len(rows) == 5 and {r["verdict"] for r in rows} <= {"real", "fake", "uncertain"}


def test_blend_changes_only_the_face_region() -> None:
    image = photo(200)
    face = Face(
        box=(60.0, 40.0, 110.0, 110.0),
        score=1.0,
        landmarks=np.array([[75, 65], [95, 65], [85, 80], [77, 95], [93, 95]], np.float32),
    )
    forged = blend_face_in_photo(image, face, np.random.default_rng(0))
    changed = np.argwhere(np.any(forged != image, axis=-1))
    assert changed.size > 0
    (y0, x0), (y1, x1) = changed.min(0), changed.max(0)
    assert x0 >= 20 and x1 <= 150 and y0 >= 10 and y1 <= 140  # inside 1.8 face boxes


def test_clip_frames_and_video_writer(tmp_path: Path) -> None:
    from ffdetect.data.video import probe_video

    frames = clip_frames(photo(64), 5, seed=0)
    assert len(frames) == 5 and frames[0].shape == photo(64).shape
    assert not np.array_equal(frames[0], frames[-1])  # the camera moves
    info = probe_video(write_video(frames, tmp_path / "c.mp4"))
    assert info.frames == 5 and info.height == 64


@SHIPPED
def test_shipped_demo_model_is_small_and_says_how_it_was_made() -> None:
    from ffdetect.checkpoint.model_format import read_meta

    size = sum(p.stat().st_size for p in DEMO_MODEL.iterdir())
    assert size <= 25 * 1024 * 1024
    meta = read_meta(DEMO_MODEL)
    assert meta.kind == "detector" and meta.calibration.method != "default"
    commands = " ".join(meta.provenance["demo"]["commands"])
    assert "ffdetect train" in commands and "ffdetect calibrate" in commands
    assert "Grace Hopper" in meta.provenance["demo"]["not_in_training"]


@SHIPPED
@pytest.mark.slow
def test_demo_end_to_end(tmp_path: Path) -> None:
    from ffdetect.demo import run_demo

    results = run_demo(tmp_path / "demo")
    assert len(results) == 5 and all(r.error is None and r.n_faces > 0 for r in results)
    assert (tmp_path / "demo" / "results.json").is_file()
    assert (tmp_path / "demo" / "explain" / "two_people_one_forged.mp4" / "scores.png").is_file()
    two = results[-1]
    assert len(two.tracks) == 2
