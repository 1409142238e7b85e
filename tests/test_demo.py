"""``ffdetect demo``: the shipped demo model, the sample videos, the end-to-end run."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ffdetect.data.detectors import Face
from ffdetect.demo import DEMO_MODEL, run_untrained_demo
from ffdetect.synthesis.media import blend_face_in_photo, clip_frames, write_video
from package_marks import needs_nba
from test_detect_helpers import photo

BENCHMARK = Path(__file__).resolve().parents[1] / "benchmarks" / "real_faces.py"
#: Floors for 30 held-out people; the full benchmark (379) measured AUC 0.861 and FPR 0.000.
AUC_FLOOR = 0.62
FPR_CEILING = 0.15

#: A face of the synthetic ``photo(200)``.
PHOTO_FACE = Face(
    box=(60.0, 40.0, 110.0, 110.0),
    score=1.0,
    landmarks=np.array([[75, 65], [95, 65], [85, 80], [77, 95], [93, 95]], np.float32),
)

SHIPPED = pytest.mark.skipif(
    not (DEMO_MODEL / "ffdetect.json").is_file(), reason="demo_model/model is not in this tree"
)


def test_untrained_demo_still_available() -> None:
    rows = run_untrained_demo()
    assert len(rows) == 5 and {r["verdict"] for r in rows} <= {"real", "fake", "uncertain"}


def test_blend_changes_only_the_face_region() -> None:
    image = photo(200)
    face = PHOTO_FACE
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
    assert meta.flip_average  # the threshold was chosen on scores of both mirror images
    assert meta.calibration.stats["faces_per_image"] >= 2  # the threshold holds per photo
    commands = " ".join(meta.provenance["demo"]["commands"])
    assert "ffdetect train" in commands and "ffdetect calibrate" in commands
    assert "Grace Hopper" in meta.provenance["demo"]["not_in_training"]


@SHIPPED
@pytest.mark.slow
def test_demo_end_to_end(tmp_path: Path) -> None:
    from ffdetect.demo import against_twin, run_demo

    results = run_demo(tmp_path / "demo")
    assert len(results) == 6 and all(r.error is None and r.n_faces > 0 for r in results)
    assert [r.input.rsplit("/", 1)[-1] for r in results[-2:]] == [
        "two_people_untouched.mp4",
        "two_people_one_forged.mp4",
    ]
    assert (tmp_path / "demo" / "results.json").is_file()
    assert (tmp_path / "demo" / "explain" / "two_people_one_forged.mp4" / "scores.png").is_file()
    two = results[-1]
    assert len(two.tracks) == 2
    assert against_twin(0.517, 0.412) == "+0.105 over 0.412"
    assert against_twin(None, 0.4) == "no score"


@SHIPPED
@needs_nba
def test_shipped_model_tells_held_out_people_from_their_self_blends() -> None:
    """The shipped model on 30 people it never saw (NBA headshots, through the whole detect path):
    untouched versus SBI-blended at strength 1. Guards the figures of
    benchmarks/results/real_faces.md (all 380 photos) against a regression of the model or of
    the detect path; the thresholds sit below what the full benchmark measured."""
    from ffdetect.evaluation.decision import rank_auc
    from ffdetect.inference.pipeline import DetectionPipeline
    from ffdetect.synthesis.media import sbi_face_in_photo
    from ffdetect.synthesis.real_faces import detect_photos
    from ffdetect.synthesis.sources import nba_headshots

    pipeline = DetectionPipeline.from_model(DEMO_MODEL)
    rng = np.random.default_rng(0)
    real, fake = [], []
    for person in detect_photos(nba_headshots()[:32])[:30]:
        rgb = person.photo.rgb()
        real.append(pipeline.run_image(rgb))
        fake.append(pipeline.run_image(sbi_face_in_photo(rgb, person.face, rng, strength=1.0)))
    scores = [r.score for r in real + fake]
    assert None not in scores
    auc = rank_auc(np.r_[np.zeros(len(real)), np.ones(len(fake))], np.asarray(scores))
    false_alarms = np.mean([r.verdict == "fake" for r in real])
    assert auc >= AUC_FLOOR, auc
    assert false_alarms <= FPR_CEILING, false_alarms


@SHIPPED
@needs_nba
def test_real_faces_benchmark_writes_its_tables(tmp_path: Path) -> None:
    """benchmarks/real_faces.py end to end on a few photos (all three sets, frame file)."""
    import runpy
    import sys

    out, frames = tmp_path / "r.md", tmp_path / "frames"
    argv = ["real_faces.py", "--model", str(DEMO_MODEL), "--photos", "4", "--grids", "2"]
    argv += ["--draws", "20", "--out", str(out), "--frames", str(frames), "--sbi-strength", "2"]
    old, sys.argv = sys.argv, argv
    try:
        runpy.run_path(str(BENCHMARK), run_name="__main__")
    finally:
        sys.argv = old
    text = out.read_text()
    assert "| SBI strength | 2 |" in text
    for row in ("| headshots | swap_poisson |", "| grids | sbi |", "| group photo | untouched |"):
        assert row in text
    for kind in ("sbi", "swap_poisson", "swap_alpha"):
        lines = (frames / f"headshots_{kind}_frames.csv").read_text().splitlines()
        assert lines[0] == "video,frame,label,predict,confidence" and len(lines) == 1 + 2 * 4


def test_benchmark_sbi_strength_scales_the_blend() -> None:
    """The benchmark's ``--sbi-strength`` reaches the forgery: with the same draws, strength 2
    moves the photo further from the original than strength 1 (the paper's ranges)."""
    import runpy

    forge = runpy.run_path(str(BENCHMARK))["forge"]
    image = photo(200)
    face = PHOTO_FACE
    for seed in range(4):
        weak, strong = (
            forge(image, face, None, "sbi", np.random.default_rng(seed), strength)
            for strength in (1.0, 2.0)
        )
        change = [np.abs(f.astype(float) - image).mean() for f in (weak, strong)]
        assert 0 < change[0] < change[1], change
