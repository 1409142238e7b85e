"""Metrics: the authors' scores.txt reproduced from their result files, hand-computed cases, CLI."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from ffdetect.cli import app
from ffdetect.evaluation.metrics import (
    ResultFormatError,
    accuracy_at,
    compute_metrics,
    confusion_at,
    equal_error_rate,
    evaluate_results,
    ffpp_manipulation,
    frame_results_path,
    is_ffpp,
    oracle_accuracy,
    per_manipulation,
    read_results,
    safe_log_loss,
    selective_accuracy,
    tpr_at_fpr,
    write_frame_results,
    write_results,
)

SCORE_LINE = re.compile(
    r"ACC=(?P<acc>[\d.]+), AUC=(?P<auc>[\d.]+), D=\[(?P<d>[\d ]+)\], "
    r"P=(?P<p>[\d.]+), R=(?P<r>[\d.]+), (?P<name>\S+)"
)

#: Per-manipulation video AUCs (%) of the authors' FF++ c23 predictions, each method's 140 fakes
#: against all 140 real videos; not in scores.txt, computed here (NeuralTextures hardest, as
#: usual; their mean 99.36 equals the overall AUC).
FFPP_METHOD_AUC = {
    "Deepfakes": 99.88,
    "Face2Face": 99.33,
    "FaceSwap": 99.65,
    "NeuralTextures": 98.57,
}


def official_scores(results_dir: Path) -> dict[str, dict[str, object]]:
    """Parse scores.txt into {dataset: {acc, auc, d, p, r}} (percent, D as ints)."""
    out: dict[str, dict[str, object]] = {}
    for line in (results_dir / "scores.txt").read_text().splitlines():
        match = SCORE_LINE.fullmatch(line.strip())
        assert match, f"unexpected scores.txt line {line!r}"
        out[match["name"]] = {
            "acc": float(match["acc"]),
            "auc": float(match["auc"]),
            "d": [int(v) for v in match["d"].split()],
            "p": float(match["p"]),
            "r": float(match["r"]),
        }
    return out


@pytest.fixture
def official(shared_fixtures: Path) -> Path:
    return shared_fixtures / "official_results"


def pct(value: float) -> float:
    return round(100 * value, 2)


# --------------------------------------------------------------------------------------------
# The authors' figures


@pytest.mark.parametrize("name", ["FaceForensics_c23", "Celeb-DF", "DFDC", "FFIW"])
def test_reproduces_scores_txt(official: Path, name: str) -> None:
    expected = official_scores(official)[name]
    results = read_results(official / f"{name}.csv")
    m = compute_metrics(results.labels, results.scores)
    assert pct(m.acc_05) == expected["acc"]
    assert pct(m.auc) == expected["auc"]
    assert list(m.confusion) == expected["d"]
    assert pct(m.precision) == expected["p"]
    assert pct(m.recall) == expected["r"]


def test_ffpp_per_manipulation(official: Path) -> None:
    results = read_results(official / "FaceForensics_c23.csv")
    assert is_ffpp(results.videos)
    methods = per_manipulation(results)
    assert {k: pct(m.auc) for k, m in methods.items()} == FFPP_METHOD_AUC
    for m in methods.values():
        assert (m.n_real, m.n_fake) == (140, 140)


def test_cli_reproduces_scores_txt(official: Path, tmp_path: Path) -> None:
    files = sorted(str(p) for p in official.glob("*.csv"))
    run = CliRunner().invoke(app, ["metrics", *files, "--out", str(tmp_path)])
    assert run.exit_code == 0, run.output
    rows = {r["name"]: r for r in json.loads((tmp_path / "metrics.json").read_text())["rows"]}
    for name, expected in official_scores(official).items():
        row = rows[name]
        got = [pct(row["acc_05"]), pct(row["auc"]), row["confusion"]]
        assert got == [expected["acc"], expected["auc"], expected["d"]]
        assert [pct(row["precision"]), pct(row["recall"])] == [expected["p"], expected["r"]]
    for method, auc in FFPP_METHOD_AUC.items():
        assert pct(rows[f"FaceForensics_c23/{method}"]["auc"]) == auc
    md = (tmp_path / "metrics.md").read_text()
    assert "| FaceForensics_c23/NeuralTextures | 280 | 98.57 |" in md
    assert "| DFDC | 5000 | 84.90 |" in md


def test_acc_counts_exact_half_as_fake(official: Path) -> None:
    """DFDC holds 29 videos scored exactly 0.5; scores.txt's 76.00 needs them called fake."""
    results = read_results(official / "DFDC.csv")
    assert int(np.sum(results.scores == 0.5)) == 29
    assert pct(accuracy_at(results.labels, results.scores, 0.5)) == 76.00
    assert pct(np.mean((results.scores > 0.5) == results.labels)) == 76.06


# --------------------------------------------------------------------------------------------
# Hand-computed cases

# Sorted by score: .95F .9F .8F .7R .6F .3R .2R .1R
EIGHT_LABELS = [0, 0, 0, 0, 1, 1, 1, 1]
EIGHT_SCORES = [0.1, 0.2, 0.3, 0.7, 0.6, 0.8, 0.9, 0.95]


def test_eer_on_a_roc_point() -> None:
    # ROC: (0,.75) at t=.8, (.25,.75) at t=.7 where FNR = FPR = .25.
    assert equal_error_rate(EIGHT_LABELS, EIGHT_SCORES) == (0.25, 0.7)


def test_eer_interpolated_on_a_tie() -> None:
    # Reals .2 .5, fakes .5 .8: the tie at .5 joins (0, .5) to (.5, 1); FPR = FNR at .25.
    eer, threshold = equal_error_rate([0, 0, 1, 1], [0.2, 0.5, 0.5, 0.8])
    assert eer == pytest.approx(0.25)
    assert threshold == 0.5


def test_tpr_at_fpr() -> None:
    assert tpr_at_fpr(EIGHT_LABELS, EIGHT_SCORES, 0.0) == 0.75
    assert tpr_at_fpr(EIGHT_LABELS, EIGHT_SCORES, 0.2) == 0.75
    assert tpr_at_fpr(EIGHT_LABELS, EIGHT_SCORES, 0.25) == 1.0
    # 100 reals at 0.00 .. 0.99; 5 fakes at .995 (FPR 0) and 5 at .965 (FPR 3%).
    labels = [0] * 100 + [1] * 10
    scores = list(np.arange(100) / 100) + [0.995] * 5 + [0.965] * 5
    m = compute_metrics(labels, scores)
    assert (m.tpr_at_fpr_1, m.tpr_at_fpr_5) == (0.5, 1.0)


# Sorted: .8F .7R .6F .35F .3R .1R; best cut .35 gives 5/6, 0.5 gives 4/6.
SIX_LABELS = [0, 0, 1, 1, 0, 1]
SIX_SCORES = [0.1, 0.3, 0.35, 0.6, 0.7, 0.8]


def test_oracle_accuracy_and_accuracy_at_half() -> None:
    assert oracle_accuracy(SIX_LABELS, SIX_SCORES) == (pytest.approx(5 / 6), 0.35)
    assert accuracy_at(SIX_LABELS, SIX_SCORES, 0.5) == pytest.approx(4 / 6)
    assert oracle_accuracy([1, 1, 0], [0.1, 0.1, 0.9]) == (pytest.approx(2 / 3), 0.1)
    assert oracle_accuracy([0, 0, 1], [0.9, 0.8, 0.1]) == (pytest.approx(2 / 3), math.inf)


def test_confusion_precision_recall() -> None:
    assert confusion_at(SIX_LABELS, SIX_SCORES) == (2, 1, 1, 2)
    m = compute_metrics(SIX_LABELS, SIX_SCORES, threshold=0.35)
    assert m.confusion == (2, 1, 1, 2)
    assert (m.precision, m.recall) == (pytest.approx(2 / 3), pytest.approx(2 / 3))
    assert m.acc_threshold == pytest.approx(5 / 6)
    assert m.acc_oracle == pytest.approx(5 / 6)


def test_threshold_is_inclusive() -> None:
    assert accuracy_at([1, 0], [0.5, 0.4999]) == 1.0
    assert confusion_at([1], [0.5]) == (0, 0, 0, 1)


def test_log_loss_is_clipped() -> None:
    assert safe_log_loss([0, 1], [1.0, 0.0]) == pytest.approx(-math.log(1e-7), rel=1e-6)
    assert safe_log_loss([0, 1], [0.2, 0.9]) == pytest.approx(-(math.log(0.8) + math.log(0.9)) / 2)


def test_selective_accuracy() -> None:
    conf = [0.9, 0.2, 0.8, 0.95, 0.1, 0.99]  # drops the .3R (right) and .7R (wrong) videos
    coverage, acc = selective_accuracy(SIX_LABELS, SIX_SCORES, conf, c_min=0.5)
    assert coverage == pytest.approx(4 / 6)
    assert acc == pytest.approx(3 / 4)
    coverage, acc = selective_accuracy(SIX_LABELS, SIX_SCORES, conf, c_min=1.0)
    assert coverage == 0.0 and math.isnan(acc)
    m = compute_metrics(SIX_LABELS, SIX_SCORES, conf, c_min=0.5, threshold=0.35)
    assert (m.coverage, m.confident_acc) == (pytest.approx(4 / 6), 1.0)


def test_single_class_gives_nan_ranking_metrics() -> None:
    m = compute_metrics([1, 1, 1], [0.2, 0.7, 0.9])
    assert math.isnan(m.auc) and math.isnan(m.eer) and math.isnan(m.log_loss)
    assert m.acc_05 == pytest.approx(2 / 3)
    assert m.to_dict()["auc"] is None


# --------------------------------------------------------------------------------------------
# FF++ paths, files


def test_ffpp_manipulation_from_path() -> None:
    fake = "FF_frames/face_v1/manipulated_sequences/Face2Face/c23/videos/036_035"
    real = "FF_frames/face_v1/original_sequences/youtube/c23/videos/974"
    assert ffpp_manipulation(fake) == "Face2Face"
    assert ffpp_manipulation(real) is None
    assert ffpp_manipulation("manipulated_sequences\\FaceSwap\\c23\\videos\\000_003") == "FaceSwap"
    assert is_ffpp([fake, real])
    assert not is_ffpp(["Celeb-real/id0_0001", "Celeb-synthesis/id0_id1_0000"])


def write_ffpp_like(path: Path) -> Path:
    videos = [f"original_sequences/youtube/c23/videos/{i:03d}" for i in range(4)]
    videos += [f"manipulated_sequences/Deepfakes/c23/videos/{i:03d}_x" for i in range(2)]
    videos += [f"manipulated_sequences/FaceSwap/c23/videos/{i:03d}_x" for i in range(2)]
    labels = [0, 0, 0, 0, 1, 1, 1, 1]
    scores = [0.1, 0.2, 0.3, 0.6, 0.9, 0.8, 0.5, 0.25]
    confs = [0.9, 0.9, 0.4, 0.9, 0.8, 0.7, 0.3, 0.9]
    write_results(path, videos, labels, scores, confs)
    frame_labels = [lab for lab in labels for _ in range(2)]
    frame_scores = [s for s in scores for _ in range(2)]
    write_frame_results(
        path, [v for v in videos for _ in range(2)], [0, 1] * 8, frame_labels, frame_scores
    )
    return path


def test_read_write_round_trip_with_frames(tmp_path: Path) -> None:
    path = write_ffpp_like(tmp_path / "ffpp.csv")
    assert frame_results_path(path).name == "ffpp_frames.csv"
    results = read_results(path)
    assert results.name == "ffpp" and len(results) == 8
    assert results.confidences is not None and results.confidences[2] == 0.4
    assert results.frames is not None and len(results.frames.labels) == 16
    rows = evaluate_results(results, c_min=0.5)
    assert [r.name for r in rows] == ["ffpp", "ffpp/Deepfakes", "ffpp/FaceSwap"]
    assert rows[0].metrics.frame_auc == rows[0].metrics.auc
    assert rows[1].metrics.auc == 1.0
    assert rows[2].metrics.auc == pytest.approx(5 / 8)  # .5 beats 3 of 4 reals, .25 beats 2


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("video,label,pred\na,0,0.1\n", "expected video,label,predict"),
        ("video,label,predict\na,2,0.1\n", "label 2"),
        ("video,label,predict\na,0,1.5\n", "not in [0, 1]"),
        ("video,label,predict\na,0,x\n", "must be a number"),
        ("video,label,predict\na,0\n", "2 fields"),
        ("video,label,predict\n", "no rows"),
        ("", "empty file"),
    ],
)
def test_malformed_files(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(content)
    with pytest.raises(ResultFormatError, match=re.escape(message)):
        read_results(path)


def test_missing_and_frame_files_are_errors(tmp_path: Path) -> None:
    with pytest.raises(ResultFormatError, match="no such file"):
        read_results(tmp_path / "absent.csv")
    with pytest.raises(ResultFormatError, match="frame-level"):
        read_results(tmp_path / "x_frames.csv")


# --------------------------------------------------------------------------------------------
# CLI


def test_cli_writes_report(tmp_path: Path) -> None:
    path = write_ffpp_like(tmp_path / "ffpp.csv")
    out = tmp_path / "report"
    args = ["metrics", str(path), str(frame_results_path(path)), "--out", str(out)]
    run = CliRunner().invoke(app, [*args, "--threshold", "0.55", "--c-min", "0.5"])
    assert run.exit_code == 0, run.output
    assert "ffpp/FaceSwap" in run.output
    assert {p.name for p in out.iterdir()} == {"metrics.md", "metrics.json", "roc.png"}
    assert (out / "roc.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    doc = json.loads((out / "metrics.json").read_text())
    assert (doc["threshold"], doc["c_min"]) == (0.55, 0.5)
    assert [r["name"] for r in doc["rows"]] == ["ffpp", "ffpp/Deepfakes", "ffpp/FaceSwap"]
    top = doc["rows"][0]
    assert top["coverage"] == pytest.approx(6 / 8)
    assert top["acc_threshold"] == pytest.approx(5 / 8)
    assert top["n_frames"] == 16
    md = (out / "metrics.md").read_text()
    assert "coverage %" in md and "frame AUC %" in md and "ACC@t %" in md


@pytest.mark.parametrize("content", [None, "video,label\na,0\n"])
def test_cli_fails_clearly(tmp_path: Path, content: str | None) -> None:
    path = tmp_path / "r.csv"
    if content is not None:
        path.write_text(content)
    run = CliRunner().invoke(app, ["metrics", str(path)])
    assert run.exit_code != 0
    assert str(path) in run.output and "error:" in run.output
