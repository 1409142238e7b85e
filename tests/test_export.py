"""``ffdetect export`` and ``detect --backend onnx``: same answers as PyTorch on real faces."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from ffdetect.checkpoint.model_format import load_detector
from ffdetect.cli import app
from ffdetect.inference.scoring import score_crops
from ffdetect.synthesis.sources import astronaut, center_square, grace_hopper, lfw_faces
from test_detect_helpers import photo, save_tiny_model, write_png

pytest.importorskip("onnxruntime")


def real_face_crops() -> list[np.ndarray]:
    """Face photos that installed packages ship: two portraits and LFW faces."""
    crops = [center_square(grace_hopper()), astronaut()[30:230, 150:300]]
    crops += [cv2.resize(f, (64, 64)) for f in lfw_faces()[:6]]
    return crops


def check_onnx_matches(model: Path, tmp_path: Path) -> None:
    from ffdetect.inference.onnx_backend import OnnxScorer

    res = CliRunner().invoke(
        app, ["export", "--model", str(model), "--onnx", str(tmp_path / "m.onnx")]
    )
    assert res.exit_code == 0, res.output
    assert "max |p_fake difference|" in res.output
    detector, meta = load_detector(model)
    crops = real_face_crops()
    ref = score_crops(detector, meta, crops, batch_size=3)
    got = OnnxScorer(tmp_path / "m.onnx", meta, batch_size=5)(crops)  # other batch sizes
    diff = max(abs(a.p_fake - b.p_fake) for a, b in zip(ref, got, strict=True))
    assert diff < 1e-4
    assert max(abs(a.confidence - b.confidence) for a, b in zip(ref, got, strict=True)) < 1e-4


def test_export_matches_pytorch_on_real_faces(tmp_path: Path) -> None:
    check_onnx_matches(save_tiny_model(tmp_path / "model"), tmp_path)


def test_export_with_flip_average_matches_pytorch(tmp_path: Path) -> None:
    """The mirror image is part of the exported graph: ONNX scores both views too."""
    from ffdetect.checkpoint.model_format import read_meta, write_meta
    from ffdetect.inference.onnx_backend import OnnxScorer

    model = save_tiny_model(tmp_path / "model", flip_average=True)
    assert load_detector(model)[0].flip_average
    check_onnx_matches(model, tmp_path)
    one_view = read_meta(model)
    one_view.flip_average = False
    write_meta(model, one_view)  # the export no longer matches the model: refused
    with pytest.raises(ValueError, match="export it again"):
        OnnxScorer(tmp_path / "m.onnx", one_view)


def test_export_of_a_fused_model_scores_both_branches(tmp_path: Path) -> None:
    """Both branches and their fusion are in the graph; a main-branch reading is refused."""
    import torch

    from ffdetect.checkpoint.metadata import ModelMeta
    from ffdetect.checkpoint.model_format import read_meta, save_model, write_meta
    from ffdetect.inference.onnx_backend import OnnxScorer
    from ffdetect.models import CompetitiveDetector
    from test_detect_helpers import TINY

    model = CompetitiveDetector.build(TINY).eval()
    with torch.no_grad():
        for p in model.competitor.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    meta = ModelMeta(kind="competitive", architecture=TINY, flip_average=True, fused=True)
    path = save_model(model, meta, tmp_path / "model")
    check_onnx_matches(path, tmp_path)
    crops = real_face_crops()
    got = [s.p_fake for s in OnnxScorer(tmp_path / "m.onnx", meta)(crops)]
    main = score_crops(model.main_branch(), replace(meta, fused=False), crops)
    assert max(abs(a - b.p_fake) for a, b in zip(got, main, strict=True)) > 1e-3  # the fusion
    with pytest.raises(ValueError, match="fused prediction"):
        score_crops(model.main_branch(), meta, crops)  # a main branch under a fused model's meta
    main_only = read_meta(path)
    main_only.fused = False
    write_meta(path, main_only)
    with pytest.raises(ValueError, match="fused true but the model says false"):
        OnnxScorer(tmp_path / "m.onnx", main_only)


@pytest.mark.slow
def test_export_tiny_224_matches_pytorch(tmp_path: Path) -> None:
    """The registered tiny size at 224 px (12 blocks): the architecture users deploy."""
    from ffdetect.checkpoint.metadata import ModelMeta
    from ffdetect.checkpoint.model_format import save_model
    from ffdetect.models.backbone import architecture_for
    from ffdetect.models.detector import Detector

    arch = architecture_for("tiny")
    save_model(Detector.build(arch).eval(), ModelMeta(architecture=arch), tmp_path / "model")
    check_onnx_matches(tmp_path / "model", tmp_path)


def test_detect_with_onnx_backend_equals_torch(tmp_path: Path) -> None:
    model = save_tiny_model(tmp_path / "model")
    assert (
        CliRunner()
        .invoke(app, ["export", "--model", str(model), "--onnx", str(model / "model.onnx")])
        .exit_code
        == 0
    )
    crops = tmp_path / "crops"
    for i, crop in enumerate(real_face_crops()[:3]):
        write_png(crops / f"{i}.png", crop)
    out = {}
    for backend in ("torch", "onnx"):
        res = CliRunner().invoke(
            app,
            ["detect", str(crops), "--model", str(model), "--aligned", "--backend", backend,
             "--json", str(tmp_path / f"{backend}.json"), "--no-progress"],
        )  # fmt: skip
        assert res.exit_code == 0, res.output
        out[backend] = json.loads((tmp_path / f"{backend}.json").read_text())["results"]
    for a, b in zip(out["torch"], out["onnx"], strict=True):
        assert a["verdict"] == b["verdict"] and abs(a["score"] - b["score"]) < 1e-4


def test_onnx_backend_without_export_is_a_clear_error(tmp_path: Path) -> None:
    model = save_tiny_model(tmp_path / "model")
    image = write_png(tmp_path / "a.png", photo(40))
    res = CliRunner().invoke(
        app, ["detect", str(image), "--model", str(model), "--backend", "onnx", "--aligned"]
    )
    assert res.exit_code == 2 and "ffdetect export" in res.output
