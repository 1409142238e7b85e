"""A model whose weights give NaN (issue 28 row 8): ``detect`` and ``serve`` say the model
produced NaN instead of "frame_p must lie in [0, 1]"; ``serve`` answers 500 (the server's
model is broken, the upload is fine)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from ffdetect.checkpoint.metadata import ModelMeta
from ffdetect.checkpoint.model_format import save_model
from ffdetect.cli import app as cli_app
from ffdetect.inference.scoring import FaceScore, NonFiniteScoresError, check_finite
from ffdetect.models.detector import Detector
from test_detect_helpers import TINY, photo, stub_pipeline, write_png
from test_serve import png_bytes


@pytest.fixture
def nan_model(tmp_path: Path) -> Path:
    """A tiny detector saved with every weight set to NaN."""
    detector = Detector.build(TINY).eval()
    with torch.no_grad():
        for parameter in detector.parameters():
            parameter.fill_(math.nan)
    return save_model(detector, ModelMeta(architecture=TINY), tmp_path / "nan-model")


def test_pipeline_names_nan_outputs(nan_model: Path, tmp_path: Path) -> None:
    image = write_png(tmp_path / "face.png", photo(100))
    result = stub_pipeline(nan_model).run(image)
    assert result.model_failed and result.verdict is None
    assert "the model produced NaN" in result.error and "2 faces" in result.error
    assert "must lie in" not in result.error


def test_detect_verb_names_nan_outputs(nan_model: Path, tmp_path: Path) -> None:
    image = write_png(tmp_path / "face.png", photo(100))
    out = tmp_path / "results.json"
    args = ["detect", str(image), "--model", str(nan_model), "--aligned", "--no-progress",
            "--json", str(out)]  # fmt: skip
    r = CliRunner().invoke(cli_app, args, env={"COLUMNS": "400"})
    assert r.exit_code == 1 and "Traceback" not in r.output
    assert "the model produced NaN" in r.output
    (result,) = json.loads(out.read_text())["results"]
    assert result["input"].endswith("face.png") and "1 of 1 faces" in result["error"]


def test_serve_answers_500_for_nan_outputs(nan_model: Path) -> None:
    pytest.importorskip("fastapi")
    from fastapi.testclient import TestClient

    from ffdetect.serve.app import create_app
    from ffdetect.serve.limits import ServeLimits

    app = create_app(stub_pipeline(nan_model), ServeLimits(frames=3))
    client = TestClient(app, base_url="http://localhost")
    r = client.post("/v1/detect", files={"file": ("face.png", png_bytes())})
    assert r.status_code == 500 and "the model produced NaN" in r.json()["detail"]


def test_check_finite() -> None:
    check_finite([FaceScore(0.2, 0.9), FaceScore(1.0, 0.0)])
    for bad in (FaceScore(math.nan, 0.5), FaceScore(0.5, math.inf)):
        with pytest.raises(NonFiniteScoresError, match="1 of 2 faces"):
            check_finite([FaceScore(0.2, 0.9), bad])
