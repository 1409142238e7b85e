"""``ffdetect detect``: inputs, tracks and verdicts, reports, explanations, the CLI."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from typer.testing import CliRunner

from ffdetect.checkpoint.metadata import Calibration, ModelMeta
from ffdetect.cli import app
from ffdetect.inference.explain import attention_rollout
from ffdetect.inference.inputs import MediaError, expand_inputs, sniff
from ffdetect.inference.results import TrackResult, combine_tracks, results_csv
from ffdetect.models.detector import Detector
from test_detect_helpers import (
    TINY,
    photo,
    save_tiny_model,
    small_video,
    stub_pipeline,
    write_png,
)


@pytest.fixture
def model(tmp_path: Path) -> Path:
    return save_tiny_model(tmp_path / "model")


def test_expand_inputs_folders_globs_and_missing(tmp_path: Path) -> None:
    write_png(tmp_path / "a" / "x.png", photo(40))
    write_png(tmp_path / "a" / "deep" / "y.jpg", photo(40))
    (tmp_path / "a" / "notes.txt").write_text("not media")
    found = expand_inputs([str(tmp_path / "a"), str(tmp_path / "a" / "*.png"), "missing.mp4"])
    names = [p.name for p in found]
    assert names == ["y.jpg", "x.png", "missing.mp4"]  # recursive, unique, missing kept


def test_sniff_decodes_instead_of_trusting_extensions(tmp_path: Path) -> None:
    fake_jpg = tmp_path / "text.jpg"
    fake_jpg.write_text("hello")
    with pytest.raises(MediaError):
        sniff(fake_jpg)
    video = small_video(tmp_path / "clip.png", frames=3)  # a video named .png
    assert sniff(video).kind == "video"


def test_combine_tracks_rule() -> None:
    real = TrackResult(0, 0.2, 0.9, "real", 8)
    fake = TrackResult(1, 0.8, 0.9, "fake", 8)
    unsure = TrackResult(2, 0.6, 0.1, "uncertain", 8)
    assert combine_tracks([real, fake, unsure]) is fake
    assert combine_tracks([real, unsure]) is unsure
    assert combine_tracks([real, TrackResult(3, 0.3, 0.9, "real", 4)]).track == 3
    assert combine_tracks([]) is None


def test_image_with_two_faces_scores_each(model: Path, tmp_path: Path) -> None:
    pipeline = stub_pipeline(model)
    result = pipeline.run(write_png(tmp_path / "two.png", photo(120)))
    assert result.error is None and result.kind == "image"
    assert result.n_faces == 2 and len(result.tracks) == 2
    assert result.verdict in ("real", "fake", "uncertain")
    assert result.driving_track in (0, 1)
    assert result.threshold == 0.5
    doc = result.to_dict()
    assert {"verdict", "score", "confidence", "threshold", "faces", "tracks"} <= set(doc)
    assert len(doc["faces"][0]["box"]) == 4


def test_aligned_images_are_scored_whole(model: Path, tmp_path: Path) -> None:
    from ffdetect.inference.pipeline import DetectionPipeline, DetectOptions

    pipeline = DetectionPipeline.from_model(model, DetectOptions(aligned=True))
    result = pipeline.run(write_png(tmp_path / "crop.png", photo(64)))
    assert result.n_faces == 1 and result.faces[0].box[:2] == (0.0, 0.0)


def test_video_tracks_and_calibrated_decision(tmp_path: Path) -> None:
    model = save_tiny_model(tmp_path / "m", Calibration(threshold=0.0, c_min=0.0))
    pipeline = stub_pipeline(model, frames=4)
    seen = []
    result = pipeline.run(
        small_video(tmp_path / "v.mp4", frames=6), progress=lambda d, t: seen.append((d, t))
    )
    assert result.kind == "video" and result.frames_sampled == 4
    assert len(result.tracks) == 2 and all(t.n_faces == 4 for t in result.tracks)
    assert result.verdict == "fake"  # threshold 0: every face is fake
    assert seen[-1] == (4, 4)
    frames = sorted({f.frame for f in result.faces})
    assert frames == [0, 2, 3, 5]  # evenly spaced over 6 frames

    strict = save_tiny_model(tmp_path / "m2", Calibration(threshold=0.5, c_min=1.01))
    assert stub_pipeline(strict, frames=4).run(tmp_path / "v.mp4").verdict == "uncertain"


def test_attention_rollout_maps_and_restores_fused_attention() -> None:
    detector = Detector.build(TINY).eval()
    meta = ModelMeta(architecture=TINY)
    crops = [photo(40)[:32, :32].copy(), np.zeros((50, 50, 3), np.uint8)]
    fused = [b.attn.fused_attn for b in detector.backbone.blocks]
    maps = attention_rollout(detector, meta, crops)
    assert [m.shape for m in maps] == [(4, 4), (4, 4)]
    assert all(m.min() >= 0.0 and m.max() <= 1.0 for m in maps)
    assert [b.attn.fused_attn for b in detector.backbone.blocks] == fused
    with torch.inference_mode():  # the unfused pass gives the same logits
        x = torch.randn(2, 3, 32, 32)
        assert torch.allclose(detector(x), detector(x), atol=1e-6)


def test_flip_average_explanations_are_one_map_per_crop_and_mirror_with_it() -> None:
    detector = Detector.build(TINY).eval().with_flip_average(True)
    meta = ModelMeta(architecture=TINY, flip_average=True)
    crop = photo(40)[:32, :32].copy()
    maps = attention_rollout(detector, meta, [crop, crop[:, ::-1].copy()])
    assert [m.shape for m in maps] == [(4, 4), (4, 4)]
    assert np.allclose(maps[1], maps[0][:, ::-1], atol=1e-5)
    one_view = attention_rollout(detector, ModelMeta(architecture=TINY), [crop])[0]
    assert not np.allclose(one_view, maps[0], atol=1e-3)


def test_cli_detect_reports_json_csv_explanations_and_bad_files(
    model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ffdetect.inference import pipeline as pipeline_mod

    monkeypatch.setattr(
        pipeline_mod, "make_detector", lambda name: stub_pipeline(model)._face_detector
    )
    folder = tmp_path / "in"
    write_png(folder / "face.png", photo(80))
    small_video(folder / "clip.mp4", frames=4)
    (folder / "broken.mp4").write_bytes(b"\x00" * 100)
    out = tmp_path / "out"
    res = CliRunner().invoke(
        app,
        [
            "detect", str(folder), "--model", str(model), "--frames", "3",
            "--json", str(out / "r.json"), "--csv", str(out / "r.csv"),
            "--explain", str(out / "ex"), "--no-progress",
        ],
    )  # fmt: skip
    assert res.exit_code == 1, res.output  # one unreadable file: reported, others done
    doc = json.loads((out / "r.json").read_text())
    by_name = {Path(r["input"]).name: r for r in doc["results"]}
    assert by_name["broken.mp4"]["error"]
    assert by_name["clip.mp4"]["kind"] == "video" and by_name["clip.mp4"]["n_faces"] == 6
    assert by_name["face.png"]["verdict"] in ("real", "fake", "uncertain")
    assert doc["model"]["architecture"]["depth"] == 2
    rows = list(csv.DictReader((out / "r.csv").open()))
    assert len(rows) == 2 + 6 + 1
    assert (out / "ex" / "clip.mp4" / "scores.png").is_file()
    heat = out / "ex" / "face.png" / "track0_frame00000.png"
    assert Image.open(heat).size == (448, 224)
    assert "broken.mp4" in res.output


def test_cli_detect_refuses_foreign_model(tmp_path: Path) -> None:
    (tmp_path / "x.pth").write_bytes(b"junk")
    res = CliRunner().invoke(app, ["detect", "a.png", "--model", str(tmp_path)])
    assert res.exit_code == 2 and "not an ffdetect model" in res.output


def test_results_csv_has_row_for_errors() -> None:
    from ffdetect.inference.results import DetectionResult

    text = results_csv([DetectionResult(input="x.mp4", kind="unknown", error="bad")])
    assert "x.mp4,unknown,,,,,,,,,,,,,,bad" in text


def test_real_face_detector_on_a_photo(tmp_path: Path) -> None:
    """End to end with the default (MTCNN) detector: one face found in Grace Hopper."""
    from ffdetect.inference.pipeline import DetectionPipeline

    model = save_tiny_model(tmp_path / "m")
    result = DetectionPipeline.from_model(model).run(write_png(tmp_path / "g.png", photo(200)))
    assert result.error is None and result.n_faces == 1
    x1, y1, x2, y2 = result.faces[0].box
    assert 40 < x1 < x2 < 140 and 20 < y1 < y2 < 140


def _png_declaring(path: Path, width: int, height: int) -> Path:
    """A real 8x8 PNG whose IHDR is rewritten to declare ``width`` x ``height`` (CRC fixed)."""
    import struct
    import zlib

    data = bytearray(write_png(path, photo(8)).read_bytes())
    assert data[12:16] == b"IHDR"
    data[16:24] = struct.pack(">II", width, height)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))
    path.write_bytes(bytes(data))
    return path


def test_sniff_names_too_large_and_truncated_images(tmp_path: Path) -> None:
    big = _png_declaring(tmp_path / "big.png", 20000, 20000)
    with pytest.raises(MediaError, match=r"image too large \(20000 x 20000 pixels, limit "):
        sniff(big)
    whole = write_png(tmp_path / "whole.png", photo(120)).read_bytes()
    (tmp_path / "half.png").write_bytes(whole[: len(whole) // 2])
    with pytest.raises(MediaError, match="^truncated image"):
        sniff(tmp_path / "half.png")
    with pytest.raises(
        MediaError, match=r"image too large \(\d+ x 120 pixels, limit 10,000 pixels\)"
    ):
        sniff(tmp_path / "whole.png", max_image_pixels=100 * 100)


def test_cli_detect_says_image_too_large_or_truncated_and_goes_on(
    model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ffdetect.inference import pipeline as pipeline_mod

    monkeypatch.setattr(
        pipeline_mod, "make_detector", lambda name: stub_pipeline(model)._face_detector
    )
    folder = tmp_path / "in"
    good = write_png(folder / "face.png", photo(80))
    _png_declaring(folder / "huge.png", 20000, 20000)
    whole = good.read_bytes()
    (folder / "cut.png").write_bytes(whole[: len(whole) // 2])
    out = tmp_path / "r.json"
    res = CliRunner().invoke(
        app, ["detect", str(folder), "--model", str(model), "--json", str(out), "--no-progress"]
    )
    assert res.exit_code == 1, res.output  # bad inputs reported, the good one scored
    by_name = {Path(r["input"]).name: r for r in json.loads(out.read_text())["results"]}
    assert by_name["huge.png"]["error"].startswith("image too large (20000 x 20000 pixels, limit")
    assert by_name["cut.png"]["error"].startswith("truncated image")
    assert by_name["face.png"]["verdict"] in ("real", "fake", "uncertain")
    assert "decodable" not in res.output
