"""PAD metrics: hand-checked APCER/BPCER/ACER/HTER, thresholds, the metrics verb, verdict words."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from typer.testing import CliRunner

from ffdetect.checkpoint.metadata import Calibration
from ffdetect.cli import app
from ffdetect.evaluation.metrics import write_results
from ffdetect.evaluation.pad_metrics import THRESHOLD_TEST_EER, pad_metrics
from ffdetect.inference.results import DetectionResult, TrackResult, finish

runner = CliRunner()

# 4 bona fide, 4 print, 2 replay videos; P(attack) scores.
LABELS = [0, 0, 0, 0, 1, 1, 1, 1, 1, 1]
SCORES = [0.1, 0.2, 0.3, 0.7, 0.8, 0.9, 0.4, 0.6, 0.35, 0.95]
TYPES = ["bonafide"] * 4 + ["print"] * 4 + ["replay"] * 2


def test_rates_at_a_given_threshold_by_hand() -> None:
    m = pad_metrics(LABELS, SCORES, TYPES, threshold=0.5)
    # Bona fide rejected: 0.7 -> 1 of 4. Print accepted: 0.4 -> 1 of 4. Replay: 0.35 -> 1 of 2.
    assert m.bpcer == pytest.approx(0.25)
    assert m.apcer_per_type == pytest.approx({"print": 0.25, "replay": 0.5})
    assert m.apcer == pytest.approx(0.5) and m.worst_type == "replay"
    assert m.apcer_pooled == pytest.approx(2 / 6)
    assert m.acer == pytest.approx((0.5 + 0.25) / 2)
    assert m.hter == pytest.approx((2 / 6 + 0.25) / 2)
    assert m.n_per_type == {"print": 4, "replay": 2}
    assert m.threshold_source == "given"
    # AUC by counting pairs: attacks above bona fide.
    pairs = [(a > b) + 0.5 * (a == b) for a in SCORES[4:] for b in SCORES[:4]]
    assert m.auc == pytest.approx(np.mean(pairs))


def test_threshold_boundary_is_attack() -> None:
    m = pad_metrics([0, 1], [0.5, 0.5], threshold=0.5)
    assert m.bpcer == 1.0 and m.apcer == 0.0  # predict >= t is an attack


def test_without_threshold_the_test_eer_threshold_is_used_and_said() -> None:
    m = pad_metrics(LABELS, SCORES, TYPES)
    assert m.threshold_source == THRESHOLD_TEST_EER
    assert m.threshold == m.eer_threshold
    assert 0.0 <= m.eer <= 0.5
    with pytest.raises(ValueError, match="EER undefined"):
        pad_metrics([0, 0], [0.1, 0.2])
    with pytest.raises(ValueError, match="attack types"):
        pad_metrics(LABELS, SCORES, TYPES[:3], threshold=0.5)
    only_bonafide = pad_metrics([0, 0], [0.1, 0.9], threshold=0.5)
    assert math.isnan(only_bonafide.apcer) and only_bonafide.bpcer == 0.5


@pytest.fixture
def result_files(tmp_path):
    videos = [f"v{i}" for i in range(len(LABELS))]
    test = write_results(tmp_path / "msu.csv", videos, LABELS, SCORES)
    dev = write_results(
        tmp_path / "dev.csv", ["d0", "d1", "d2", "d3"], [0, 0, 1, 1], [0.1, 0.3, 0.5, 0.9]
    )
    prep = tmp_path / "prep"
    prep.mkdir()
    rows = ["video_id,dataset,method,split,label,path,frames_requested,frames_found,status,error"]
    rows += [
        f"{v},msu,{t},test,{y},x,1,1,ok," for v, t, y in zip(videos, TYPES, LABELS, strict=True)
    ]
    (prep / "videos.csv").write_text("\n".join(rows) + "\n")
    return test, dev, prep


def test_metrics_verb_pad_with_dev_threshold_and_attack_types(result_files, tmp_path) -> None:
    test, dev, prep = result_files
    out = tmp_path / "report"
    args = ["metrics", "--task", "pad", str(test), "--dev", str(dev), "--data", str(prep)]
    result = runner.invoke(app, [*args, "--out", str(out)])
    assert result.exit_code == 0, result.output
    doc = json.loads((out / "metrics.json").read_text())
    names = [r["name"] for r in doc["rows"]]
    assert names == ["msu", "msu/print", "msu/replay"]
    whole = doc["rows"][0]
    # The development EER threshold: dev scores 0.1 0.3 | 0.5 0.9 -> the first ROC point with
    # FNR <= FPR is the score 0.5 (attacks 0.5, 0.9 caught, no bona fide rejected).
    assert whole["threshold"] == pytest.approx(0.5)
    assert whole["threshold_source"] == "development EER threshold"
    # At 0.5: bona fide 0.7 rejected (1/4); print 0.4 accepted (1/4); replay 0.35 (1/2).
    assert whole["bpcer"] == pytest.approx(0.25)
    assert whole["apcer_per_type"] == pytest.approx({"print": 0.25, "replay": 0.5})
    # Field convention: the test set's own EER threshold, 0.4 here (the first score from the
    # top with FNR 1/6 <= FPR 1/4): replay 0.35 accepted (1/6), bona fide 0.7 rejected (1/4).
    assert whole["hter_test_eer"] == pytest.approx((1 / 6 + 0.25) / 2)
    md = (out / "metrics.md").read_text()
    assert "threshold 0.5 (development EER threshold)" in md
    assert "field convention (test-EER threshold, optimistic)" in md
    assert (out / "roc.png").stat().st_size > 0


def test_metrics_verb_pad_without_threshold_says_test_eer(result_files) -> None:
    test, _, _ = result_files
    result = runner.invoke(app, ["metrics", "--task", "pad", str(test)], terminal_width=200)
    assert result.exit_code == 0, result.output
    assert "test EER" in result.output and "Attack types unknown" in result.output


def test_metrics_verb_pad_errors(result_files, tmp_path) -> None:
    test, dev, prep = result_files
    r = runner.invoke(
        app, ["metrics", "--task", "pad", str(test), "--dev", str(dev), "--threshold", "0.5"]
    )
    assert r.exit_code == 2 and "not both" in r.output
    r = runner.invoke(app, ["metrics", str(test), "--data", str(prep)])
    assert r.exit_code == 2 and "--task pad" in r.output
    (prep / "videos.csv").write_text((prep / "videos.csv").read_text().replace("v9,", "w9,"))
    r = runner.invoke(app, ["metrics", "--task", "pad", str(test), "--data", str(prep)])
    assert r.exit_code == 2 and "not in" in r.output


def test_detect_verdicts_in_pad_words() -> None:
    cal = Calibration(threshold=0.5)
    tracks = [TrackResult(0, 0.2, 0.9, "real", 3), TrackResult(1, 0.8, 0.9, "fake", 3)]
    done = finish(DetectionResult("x.mp4", "video", tracks=tracks), cal, "pad")
    assert done.verdict == "attack" and done.driving_track == 1
    assert [t.verdict for t in done.tracks] == ["bona fide", "attack"]
    plain = finish(
        DetectionResult("y.png", "image", tracks=[TrackResult(0, 0.1, 1, "real", 1)]), cal
    )
    assert plain.verdict == "real"


def test_dev_threshold_reads_the_predict_column_not_the_frames(tmp_path) -> None:
    """The development threshold uses the scores the test side reads (the video column), even
    when a frame file with confidences would rescore the videos differently."""
    from ffdetect.evaluation.metrics import write_frame_results
    from ffdetect.evaluation.pad_metrics import dev_threshold

    dev = write_results(
        tmp_path / "dev.csv", ["a", "b", "c", "d"], [0, 0, 1, 1], [0.1, 0.3, 0.5, 0.9]
    )
    # Frames that would put every video at 0.2 / 0.8 and make the EER threshold 0.8.
    write_frame_results(
        tmp_path / "dev_frames.csv",
        ["a", "b", "c", "d"],
        [0, 0, 0, 0],
        [0, 0, 1, 1],
        [0.2, 0.2, 0.8, 0.8],
        [1.0, 1.0, 1.0, 1.0],
    )
    assert dev_threshold(dev) == pytest.approx(0.5)
    assert dev_threshold(dev, rule="balanced_accuracy") == pytest.approx(0.4)


def test_calibrate_eer_rule_by_hand() -> None:
    from ffdetect.evaluation.calibration import calibrate

    scores = [0.1, 0.2, 0.3, 0.65, 0.4, 0.7, 0.8, 0.9]
    labels = [0, 0, 0, 0, 1, 1, 1, 1]
    cal = calibrate(scores, [1.0] * 8, labels, rule="eer")
    # ROC from the top: 0.9, 0.8, 0.7 (TPR 3/4), then bona fide 0.65: FNR 1/4 = FPR 1/4.
    assert cal.method == "eer" and cal.threshold == pytest.approx(0.65)
    assert calibrate(scores, [1.0] * 8, labels).method == "balanced_accuracy"
    with pytest.raises(ValueError, match="threshold rule"):
        calibrate(scores, [1.0] * 8, labels, rule="hter")
    with pytest.raises(ValueError, match="not both"):
        calibrate(scores, [1.0] * 8, labels, rule="eer", target_fpr=0.1)


def test_metrics_verb_pad_folds_mean_and_std(tmp_path) -> None:
    """Six folds (OULU-NPU protocols 3 and 4) -> mean +- sample std of APCER, BPCER, ACER."""
    from ffdetect.evaluation.pad_metrics import fold_summary, pad_metrics

    files, per_fold = [], []
    for k in range(6):
        # Fold k: k of 6 attacks scored 0.2 (accepted at 0.5), bona fide all 0.1.
        scores = [0.1] * 4 + [0.2] * k + [0.9] * (6 - k)
        labels = [0] * 4 + [1] * 6
        files.append(
            write_results(
                tmp_path / f"fold{k + 1}.csv", [f"v{i}" for i in range(10)], labels, scores
            )
        )
        per_fold.append(pad_metrics(labels, scores, threshold=0.5))
    summary = fold_summary(per_fold)
    apcer = [k / 6 for k in range(6)]
    assert summary["apcer"]["mean"] == pytest.approx(np.mean(apcer))
    assert summary["apcer"]["std"] == pytest.approx(np.std(apcer, ddof=1))
    assert summary["bpcer"] == {"mean": 0.0, "std": 0.0}
    assert summary["acer"]["mean"] == pytest.approx(np.mean(apcer) / 2)
    out = tmp_path / "report"
    args = ["metrics", "--task", "pad", *map(str, files), "--folds", "--threshold", "0.5"]
    r = runner.invoke(app, [*args, "--out", str(out)], terminal_width=200)
    assert r.exit_code == 0, r.output
    assert "mean +- std over 6 folds" in r.output
    doc = json.loads((out / "folds.json").read_text())
    assert doc["n_folds"] == 6
    assert doc["figures"]["apcer"]["std"] == pytest.approx(np.std(apcer, ddof=1))
    # One --dev per fold, or none.
    r = runner.invoke(app, [*args[:-2], "--dev", str(files[0])])
    assert r.exit_code == 2 and "one per fold" in r.output
    r = runner.invoke(app, ["metrics", "--task", "pad", str(files[0]), "--folds"])
    assert r.exit_code == 2 and "at least two folds" in r.output


def test_pad_abstention_reports_coverage_and_the_confident_subset(tmp_path) -> None:
    videos = [f"v{i}" for i in range(len(LABELS))]
    # The two errors at 0.5 (bona fide 0.7, print 0.4) are the unsure ones.
    conf = [1.0, 1.0, 1.0, 0.2, 1.0, 1.0, 0.3, 1.0, 1.0, 1.0]
    res = write_results(tmp_path / "msu.csv", videos, LABELS, SCORES, conf)
    out = tmp_path / "r"
    args = ["metrics", "--task", "pad", str(res), "--threshold", "0.5", "--c-min", "0.5"]
    r = runner.invoke(app, [*args, "--out", str(out)], terminal_width=200)
    assert r.exit_code == 0, r.output
    rows = {row["name"]: row for row in json.loads((out / "metrics.json").read_text())["rows"]}
    assert rows["msu"]["coverage"] == pytest.approx(0.8)
    confident = rows["msu/confident"]
    assert confident["n_bonafide"] == 3 and confident["n_attack"] == 5
    assert confident["bpcer"] == 0.0 and confident["apcer_pooled"] == pytest.approx(1 / 5)
    assert "cov %" in (out / "metrics.md").read_text()


def test_bad_task_values_are_refused(result_files) -> None:
    test, _, _ = result_files
    r = runner.invoke(app, ["metrics", "--task", "spoof", str(test)])
    assert r.exit_code == 2 and "deepfake or pad" in r.output
    r = runner.invoke(
        app, ["evaluate", "--model", "x", "--data", "y", "--out", "z", "--task", "spoof"]
    )
    assert r.exit_code == 2 and "deepfake or pad" in r.output
