"""Odd files and values (issue #13): every one is refused at the command line with one line
``error: <file>: <what is wrong>`` and exit status 2, or read correctly (16-bit images)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from cli_helpers import assert_one_line_error, run_cli
from ffdetect.checkpoint.metadata import Calibration, ModelMeta
from ffdetect.checkpoint.model_format import (
    META_NAME,
    WEIGHTS_NAME,
    ModelFormatError,
    load_detector,
    read_meta,
)
from ffdetect.data.manifest import MANIFEST_COLUMNS, write_csv
from ffdetect.data.torch_datasets import read_rgb
from ffdetect.evaluation.calibration import calibrate, calibrate_from_results
from ffdetect.evaluation.metrics import ResultFormatError, read_results, write_results
from ffdetect.inference.inputs import load_image
from test_detect_helpers import photo, save_tiny_model, stub_pipeline, write_png


@pytest.fixture
def model(tmp_path: Path) -> Path:
    return save_tiny_model(tmp_path / "model")


@pytest.fixture
def val_results(tmp_path: Path) -> Path:
    rng = np.random.default_rng(0)
    labels = [0, 1] * 10
    scores = [float(np.clip(0.3 + 0.4 * y + rng.normal(0, 0.1), 0, 1)) for y in labels]
    videos = [f"v{i:02d}" for i in range(len(labels))]
    return write_results(tmp_path / "val.csv", videos, labels, scores, [0.9] * len(labels))


# -- calibration values -------------------------------------------------------------------------


# (--gamma nan and -1 never get this far: typer's own min=0 check refuses them.)
@pytest.mark.parametrize(
    ("option", "value", "message"),
    [("--gamma", "inf", "gamma must be a finite number"),
     ("--c-min", "-1", "c_min must be in [0, 1]"), ("--c-min", "nan", "c_min")],
)  # fmt: skip
def test_calibrate_refuses_bad_values(model, val_results, option, value, message) -> None:
    before = (model / META_NAME).read_text()
    code, out = run_cli("calibrate", "--model", str(model), "--results", str(val_results),
                        option, value)  # fmt: skip
    assert_one_line_error(code, out, message)
    assert (model / META_NAME).read_text() == before  # nothing written


def test_calibration_values_checked_in_the_library(val_results) -> None:
    assert calibrate_from_results(val_results).threshold > 0  # the good case works
    with pytest.raises(ValueError, match="gamma"):
        calibrate_from_results(val_results, gamma=math.inf)
    with pytest.raises(ValueError, match="c_min"):
        calibrate([0.2, 0.8], [1, 1], [0, 1], c_min=-1.0)
    for bad in ({"threshold": math.nan}, {"c_min": -1.0}, {"gamma": math.inf}, {"gamma": "1"}):
        with pytest.raises(ValueError):
            Calibration(**bad)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [("threshold", math.nan, "threshold: expected a finite number"),
     ("gamma", math.inf, "gamma: expected a finite number"),
     ("c_min", -1.0, "c_min must be a finite number >= 0"),
     ("threshold", "high", "expected float")],
)  # fmt: skip
def test_model_with_bad_calibration_is_refused_at_load(model, field, value, message) -> None:
    meta_file = model / META_NAME
    data = json.loads(meta_file.read_text())
    data["calibration"][field] = value
    meta_file.write_text(json.dumps(data))  # json writes NaN / Infinity as Python reads them
    with pytest.raises(ModelFormatError, match=message):
        load_detector(model)
    assert_one_line_error(*run_cli("info", str(model)), str(meta_file), message)


# -- damaged model files, bad YAML --------------------------------------------------------------


@pytest.mark.parametrize(
    ("edit", "message"),
    [(lambda d: d["architecture"].update(depth="two"), "architecture.depth: expected int"),
     (lambda d: d.update(kind=3), "kind must be a string"),
     (lambda d: d["input"].update(mean=[0.5]), "input mean must be a list of 3 numbers"),
     (lambda d: d["input"].update(flip_average="yes"), "flip_average must be true or false"),
     (lambda d: d.pop("architecture"), "no 'architecture' field"),
     (lambda d: d.update(provenance="me"), "provenance must be a mapping")],
)  # fmt: skip
def test_metadata_with_wrong_types(model, edit, message) -> None:
    meta_file = model / META_NAME
    data = json.loads(meta_file.read_text())
    edit(data)
    meta_file.write_text(json.dumps(data))
    assert_one_line_error(*run_cli("info", str(model)), str(meta_file), message)


def test_unreadable_metadata_json(model) -> None:
    (model / META_NAME).write_text('{"format_version": 1, "kind": ')
    assert_one_line_error(*run_cli("info", str(model)), str(model / META_NAME), "not readable")


def test_corrupt_safetensors(model, tmp_path) -> None:
    weights = model / WEIGHTS_NAME
    weights.write_bytes(weights.read_bytes()[:100])
    with pytest.raises(ModelFormatError, match="not a readable safetensors file"):
        load_detector(model)
    assert_one_line_error(*run_cli("info", str(model)), str(weights), "safetensors")
    code, out = run_cli("detect", str(write_png(tmp_path / "a.png", photo(60))),
                        "--model", str(model))  # fmt: skip
    assert_one_line_error(code, out, str(weights))


def test_bad_yaml_config(tmp_path: Path) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text("model:\n  size: [tiny\n  depth: 2\n")
    code, out = run_cli("train", "--config", str(config), "--data", str(tmp_path),
                        "--out", str(tmp_path / "run"))  # fmt: skip
    assert_one_line_error(code, out, f"{config}:3", "not valid YAML")


# -- evaluate: manifest column, missing crop ----------------------------------------------------


def _prepared(root: Path) -> Path:
    rows = []
    for v in range(4):
        for frame in range(2):
            crop = Path("faces") / f"v{v}" / f"{frame:04d}.png"
            write_png(root / crop, photo(40)[:32, :32])
            rows.append({"video_id": f"v{v}", "dataset": "toy", "method": "m" if v % 2 else
                         "real", "split": "test", "label": v % 2, "frame": frame,
                         "crop_path": crop.as_posix(), "det_score": 1.0})  # fmt: skip
    write_csv(root / "manifest.csv", MANIFEST_COLUMNS, rows)
    return root


def _evaluate(model: Path, data: Path, out: Path) -> tuple[int, str]:
    return run_cli("evaluate", "--model", str(model), "--data", str(data), "--out", str(out),
                   "--workers", "0")  # fmt: skip


@pytest.mark.parametrize("column", ["split", "crop_path", "label"])
def test_evaluate_manifest_without_a_column(model, tmp_path, column) -> None:
    data = _prepared(tmp_path / "data")
    manifest = data / "manifest.csv"
    kept = [c for c in MANIFEST_COLUMNS if c != column]
    rows = [{k: v for k, v in r.items() if k != column} for r in _rows(manifest)]
    write_csv(manifest, kept, rows)
    code, out = _evaluate(model, data, tmp_path / "out")
    assert_one_line_error(code, out, str(manifest), f"missing column(s) {column}")


def _rows(path: Path) -> list[dict]:
    from ffdetect.data.manifest import read_csv

    return read_csv(path)


def test_evaluate_with_a_missing_crop(model, tmp_path) -> None:
    data = _prepared(tmp_path / "data")
    assert _evaluate(model, data, tmp_path / "ok")[0] == 0  # complete: evaluates
    (data / "faces" / "v2" / "0001.png").unlink()
    code, out = _evaluate(model, data, tmp_path / "out")
    assert_one_line_error(code, out, "v2/0001.png", "not on disk")


# -- repeated video ids -------------------------------------------------------------------------


def test_contradicting_video_ids_are_refused_and_consistent_repeats_kept(tmp_path) -> None:
    path = tmp_path / "r.csv"
    path.write_text("video,label,predict\na,0,0.1\nb,1,0.9\na,1,0.8\nc,0,0.2\nc,1,0.6\n")
    with pytest.raises(ResultFormatError, match=r"2 video id\(s\) with contradicting labels: "
                       r"'a' on lines 2, 4; 'c' on lines 5, 6"):  # fmt: skip
        read_results(path)
    assert_one_line_error(*run_cli("metrics", str(path)), str(path), "'a'")
    model = save_tiny_model(tmp_path / "model")
    code, out = run_cli("calibrate", "--model", str(model), "--results", str(path))
    assert_one_line_error(code, out, "contradicting labels")
    same = tmp_path / "s.csv"  # FFIW's released file: ids repeated, one label each
    same.write_text("video,label,predict\nsource,0,0.1\nsource,0,0.3\ntarget,1,0.9\n")
    assert len(read_results(same)) == 3


# -- 16-bit images ------------------------------------------------------------------------------


def _grey(rgb: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)


def _save16(path: Path, grey16: np.ndarray, mode: str) -> Path:
    if mode == "I":
        Image.fromarray(grey16.astype(np.int32)).save(path)
    else:
        dtype = ">u2" if mode == "I;16B" else "<u2"
        h, w = grey16.shape
        Image.frombytes(mode, (w, h), grey16.astype(dtype).tobytes()).save(path)
    return path


@pytest.mark.parametrize(("mode", "name"), [("I;16", "g.png"), ("I;16B", "g.tif"),
                                            ("I", "g.tif")])  # fmt: skip
def test_16_bit_greyscale_is_scaled_not_clipped(model, tmp_path, mode, name) -> None:
    grey8 = _grey(photo(120))
    grey16 = grey8.astype(np.uint16) * 257  # the same picture at 16 bits
    path = _save16(tmp_path / name, grey16, mode)
    assert Image.open(path).mode == ("I;16" if name.endswith(".png") else mode)
    image = load_image(path)
    assert image.dtype == np.uint8 and image.shape == (*grey8.shape, 3)
    assert np.abs(image[..., 0].astype(int) - grey8).max() <= 1
    as8 = stub_pipeline(model).run(write_png(tmp_path / "g8.png", np.dstack([grey8] * 3)))
    as16 = stub_pipeline(model).run(path)
    assert as16.error is None and as16.n_faces == 2
    for a, b in zip(as16.faces, as8.faces, strict=True):
        assert abs(a.p_fake - b.p_fake) < 1e-3


def test_16_bit_rgb_png_and_the_training_reader(tmp_path: Path) -> None:
    rgb8 = photo(80)
    path = tmp_path / "rgb16.png"
    cv2.imwrite(str(path), cv2.cvtColor(rgb8, cv2.COLOR_RGB2BGR).astype(np.uint16) * 257)
    assert np.abs(load_image(path).astype(int) - rgb8).max() <= 1
    assert np.abs(read_rgb(path).astype(int) - rgb8).max() <= 1
    grey = _save16(tmp_path / "g.png", _grey(rgb8).astype(np.uint16) * 257, "I;16")
    assert np.abs(read_rgb(grey)[..., 0].astype(int) - _grey(rgb8)).max() <= 1


def test_meta_round_trip_still_reads(model) -> None:
    meta = read_meta(model)
    assert ModelMeta.from_dict(json.loads(json.dumps(meta.to_dict()))) == meta
