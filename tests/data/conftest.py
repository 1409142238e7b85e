"""Fixtures of the data tests: dataset layouts with synthetic videos and known labels."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))

from data_helpers import (  # noqa: E402
    astronaut,
    faceless,
    grace_hopper,
    pan_zoom,
    truncated,
    write_video,
)


@pytest.fixture(scope="session")
def photos() -> dict[str, np.ndarray]:
    return {"astronaut": astronaut(), "hopper": grace_hopper()}


@pytest.fixture(scope="session")
def ffpp_root(tmp_path_factory, photos) -> Path:
    """FF++-like layout: 2 good real, 2 good fakes, truncated, empty, non-video, faceless."""
    root = tmp_path_factory.mktemp("ffpp")
    real = root / "original_sequences/youtube/c23/videos"
    write_video(real / "000.mp4", pan_zoom(photos["astronaut"], 12, seed=1))
    write_video(real / "003.mp4", pan_zoom(photos["hopper"], 12, seed=2))
    truncated(real / "000.mp4", real / "001.mp4", 0.6)
    (real / "002.mp4").write_bytes(b"")
    df = root / "manipulated_sequences/Deepfakes/c23/videos"
    write_video(df / "000_003.mp4", pan_zoom(photos["hopper"], 12, seed=3))
    write_video(df / "003_000.mp4", pan_zoom(photos["astronaut"], 12, seed=4))
    write_video(df / "001_002.mp4", faceless(12))
    fs = root / "manipulated_sequences/FaceSwap/c23/videos"
    fs.mkdir(parents=True)
    (fs / "000_003.mp4").write_text("this is not a video\n")
    splits = root / "splits"
    splits.mkdir()
    (splits / "train.json").write_text(json.dumps([["000", "003"]]))
    (splits / "val.json").write_text(json.dumps([]))
    (splits / "test.json").write_text(json.dumps([["001", "002"]]))
    return root


@pytest.fixture(scope="session")
def celebdf_root(tmp_path_factory, photos) -> Path:
    root = tmp_path_factory.mktemp("celebdf")
    write_video(root / "Celeb-real/id0_0000.mp4", pan_zoom(photos["astronaut"], 6, seed=5))
    write_video(root / "YouTube-real/00000.mp4", pan_zoom(photos["hopper"], 6, seed=6))
    write_video(root / "Celeb-synthesis/id0_id1_0000.mp4", pan_zoom(photos["hopper"], 6, seed=7))
    write_video(root / "Celeb-synthesis/id1_id0_0000.mp4", pan_zoom(photos["astronaut"], 6, seed=8))
    (root / "List_of_testing_videos.txt").write_text(
        "1 YouTube-real/00000.mp4\n0 Celeb-synthesis/id0_id1_0000.mp4\n"
    )
    return root


@pytest.fixture(scope="session")
def folder_root(tmp_path_factory, photos) -> Path:
    root = tmp_path_factory.mktemp("folder")
    write_video(root / "real/a.mp4", pan_zoom(photos["astronaut"], 10, seed=9))
    write_video(root / "fake/m1/b.mp4", pan_zoom(photos["hopper"], 10, seed=10))
    (root / "fake/junk.mp4").write_bytes(np.random.default_rng(0).bytes(5000))
    return root


@pytest.fixture(scope="session")
def t1_image() -> np.ndarray:
    """insightface's group photo t1.jpg, read from the installed insightface package.

    The project's set-up (`make install`) installs insightface with ``--no-deps`` for this
    photo only (its code is never imported); the test skips when it is not installed.
    """
    spec = importlib.util.find_spec("insightface")
    for loc in (spec.submodule_search_locations or []) if spec is not None else []:
        path = Path(loc) / "data" / "images" / "t1.jpg"
        if path.is_file():
            return cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)
    pytest.skip("insightface's t1.jpg is not installed: pip install --no-deps insightface")


@pytest.fixture(scope="session")
def mtcnn():
    from ffdetect.data.detectors import make_detector

    return make_detector("mtcnn")


@pytest.fixture(scope="session")
def prepared_ffpp(ffpp_root, tmp_path_factory, mtcnn):
    """The FF++-like set prepared once (8 faces per video, 224 px)."""
    from ffdetect.data.prepare import PrepareConfig, run_prepare
    from ffdetect.data.readers import read_dataset

    out = tmp_path_factory.mktemp("prep_ffpp")
    items = read_dataset("ffpp", ffpp_root)
    summary = run_prepare(items, out, PrepareConfig(frames=8), progress=False)
    return out, summary, items
