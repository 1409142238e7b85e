"""Confidence-based decisions (METHOD.md section 3, ffdetect's definition)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from ffdetect.checkpoint.metadata import Calibration
from ffdetect.evaluation.calibration import (
    aggregate_frames,
    calibrate,
    calibrate_from_results,
    choose_c_min,
    decide,
    video_score,
)
from ffdetect.evaluation.metrics import write_frame_results, write_results

# Sorted by score: .99F .98F .97F .95F .9F .8F .7F | .6R .5F .4F .3R .2R .1R
# Balanced accuracy: cut at .7 -> (7/9 + 4/4) / 2 = .889 (best); cut at .4 -> (9/9 + 3/4) / 2
# = .875 although plain accuracy prefers .4 (12/13 against 11/13).
REAL = [0.1, 0.2, 0.3, 0.6]
FAKE = [0.4, 0.5, 0.7, 0.8, 0.9, 0.95, 0.97, 0.98, 0.99]
SCORES = np.array(REAL + FAKE)
LABELS = np.array([0] * len(REAL) + [1] * len(FAKE))
CONFIDENT = np.ones_like(SCORES)


def test_video_score_by_hand() -> None:
    # weights .5, 1: score (.5*.2 + .8) / 1.5 = .6; confidence (.5*.5 + 1) / 1.5 = 5/6
    assert video_score([0.2, 0.8], [0.5, 1.0], gamma=1) == (
        pytest.approx(0.6),
        pytest.approx(5 / 6),
    )
    # weights .25, 1: score (.05 + .8) / 1.25 = .68; confidence (.125 + 1) / 1.25 = .9
    assert video_score([0.2, 0.8], [0.5, 1.0], gamma=2) == (pytest.approx(0.68), pytest.approx(0.9))


def test_gamma_zero_is_the_plain_mean() -> None:
    rng = np.random.default_rng(0)
    p, conf = rng.random(8), rng.random(8)
    conf[0] = 0.0
    assert video_score(p, conf, gamma=0) == (pytest.approx(p.mean()), pytest.approx(conf.mean()))


def test_all_zero_weights_fall_back_to_the_mean() -> None:
    assert video_score([0.2, 0.6], [0.0, 0.0], gamma=1) == (pytest.approx(0.4), 0.0)


@pytest.mark.parametrize(
    ("p", "conf", "gamma"),
    [([], [], 1.0), ([0.5], [0.5, 0.5], 1.0), ([0.5], [1.5], 1.0), ([0.5], [0.5], -1.0)],
)
def test_video_score_rejects_bad_input(p: list, conf: list, gamma: float) -> None:
    with pytest.raises(ValueError):
        video_score(p, conf, gamma)


def test_aggregate_frames_groups_by_video() -> None:
    names, scores, confs = aggregate_frames(
        ["a", "b", "a", "b"], [0.2, 0.1, 0.8, 0.3], [0.5, 1.0, 1.0, 1.0], gamma=1
    )
    assert names == ["a", "b"]
    np.testing.assert_allclose(scores, [0.6, 0.2])
    np.testing.assert_allclose(confs, [5 / 6, 1.0])


def test_threshold_maximises_balanced_accuracy() -> None:
    cal = calibrate(SCORES, CONFIDENT, LABELS, chosen_on="val")
    assert cal.method == "balanced_accuracy"
    assert cal.threshold == pytest.approx(0.65)  # midway between .7 (fake) and .6 (real)
    assert (cal.c_min, cal.gamma, cal.chosen_on) == (0.0, 1.0, "val")
    assert cal.stats["balanced_accuracy"] == pytest.approx((7 / 9 + 1) / 2)
    assert cal.stats["accuracy"] == pytest.approx(11 / 13)
    assert (cal.stats["n_videos"], cal.stats["coverage"]) == (13, 1.0)


def test_separable_threshold_sits_in_the_gap() -> None:
    cal = calibrate([0.1, 0.2, 0.3, 0.6, 0.7], [1.0] * 5, [0, 0, 0, 1, 1])
    assert cal.threshold == pytest.approx(0.45)
    assert cal.stats["balanced_accuracy"] == 1.0


def test_target_fpr_rule() -> None:
    cal = calibrate(SCORES, CONFIDENT, LABELS, target_fpr=0.25)
    assert (cal.method, cal.target_fpr) == ("target_fpr", 0.25)
    assert cal.threshold == 0.4  # the smallest score with one of four reals (.6) above it
    assert (cal.stats["fpr"], cal.stats["tpr"]) == (0.25, 1.0)
    strict = calibrate(SCORES, CONFIDENT, LABELS, target_fpr=0.0)
    assert strict.threshold == 0.7
    assert (strict.stats["fpr"], strict.stats["tpr"]) == (0.0, pytest.approx(7 / 9))


def test_abstention_excludes_unconfident_videos() -> None:
    # A confident-looking .6 real is actually unsure: without it, every cut in (.5, .6] is perfect
    conf = np.ones_like(SCORES)
    conf[3] = 0.2  # the .6 real
    conf[4] = 0.3  # the .4 fake
    cal = calibrate(SCORES, conf, LABELS, c_min=0.5)
    assert cal.stats["c_min_rule"] == "given"
    assert cal.stats["coverage"] == pytest.approx(11 / 13)
    assert cal.stats["balanced_accuracy"] == 1.0
    assert cal.threshold == pytest.approx(0.4)  # midway between .5 (fake) and .3 (real)
    assert decide(0.99, 0.2, cal) == "uncertain"
    assert decide(0.45, 0.5, cal) == "fake"  # conf == c_min is confident
    assert decide(0.35, 0.9, cal) == "real"
    assert decide(cal.threshold, 1.0, cal) == "fake"  # score == threshold is fake
    assert decide(0.9, float("nan"), cal) == "uncertain"


def test_c_min_from_abstention_quantile() -> None:
    confs = np.array([0.9, 0.1, 0.8, 0.3, 0.7, 0.95, 0.6, 0.5, 0.4, 0.2])
    assert choose_c_min(confs, 0.0) == 0.0
    assert choose_c_min(confs, 0.2) == 0.3  # abstains on .1 and .2: 20 %
    assert choose_c_min(confs, 0.25) == 0.3  # never more than asked
    labels = np.array([0, 1] * 5)
    cal = calibrate(np.linspace(0.05, 0.95, 10), confs, labels, c_min_quantile=0.2)
    assert cal.c_min == 0.3
    assert cal.stats["c_min_rule"] == "quantile 0.2"
    assert cal.stats["n_confident"] == 8


def test_calibration_needs_both_classes_among_confident() -> None:
    with pytest.raises(ValueError, match="real and fake"):
        calibrate([0.1, 0.9], [0.2, 1.0], [0, 1], c_min=0.5)


def test_calibration_round_trips_through_json() -> None:
    cal = calibrate(SCORES, CONFIDENT, LABELS, chosen_on="val.csv")
    again = Calibration.from_dict(json.loads(json.dumps(cal.to_dict())))
    assert again == cal


def test_calibrate_from_results_uses_frames(tmp_path: Path) -> None:
    path = tmp_path / "val.csv"
    videos = ["r1", "r2", "f1", "f2"]
    write_results(path, videos, [0, 0, 1, 1], [0.5, 0.5, 0.5, 0.5])  # ignored: frames win
    write_frame_results(
        path,
        ["r1", "r1", "r2", "r2", "f1", "f1", "f2", "f2"],
        [0, 1] * 4,
        [0, 0, 0, 0, 1, 1, 1, 1],
        [0.1, 0.9, 0.2, 0.2, 0.6, 0.8, 0.7, 0.7],
        [1.0, 0.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0],
    )
    # gamma=1 ignores r1's unconfident .9 frame: videos .1, .2 | .7, .7 -> threshold .45
    cal = calibrate_from_results(path, gamma=1.0)
    assert cal.stats["scores_from"] == "frames"
    assert cal.threshold == pytest.approx(0.45)
    assert cal.chosen_on == str(path)
    # gamma=0: r1 scores .5, so the threshold moves up to midway between .7 and .5
    plain = calibrate_from_results(path, gamma=0.0)
    assert plain.threshold == pytest.approx(0.6)


def test_calibrate_from_official_results(shared_fixtures: Path) -> None:
    csv = shared_fixtures / "official_results" / "FaceForensics_c23.csv"
    cal = calibrate_from_results(csv)
    assert cal.stats["scores_from"] == "videos (no confidence)"
    assert (cal.c_min, cal.stats["coverage"], cal.stats["n_videos"]) == (0.0, 1.0, 700)
    assert 0.0 < cal.threshold < 1.0
    assert cal.stats["balanced_accuracy"] > 0.96


def test_faces_per_image_holds_the_target_for_an_image_of_n_real_faces() -> None:
    """An image's verdict is its highest face: N real faces at a per-face FPR f flag it with
    1 - (1 - f)^N, so the per-face target is tightened until that equals the image target."""
    rng = np.random.default_rng(0)
    real, fake = rng.uniform(0.0, 0.8, 4000), rng.uniform(0.5, 1.0, 4000)
    scores = np.r_[real, fake]
    labels = np.r_[np.zeros(4000), np.ones(4000)]
    ones = np.ones_like(scores)
    plain = calibrate(scores, ones, labels, target_fpr=0.05)
    per_image = calibrate(scores, ones, labels, target_fpr=0.05, faces_per_image=6)
    assert per_image.threshold > plain.threshold
    f = per_image.stats["per_face_target_fpr"]
    assert f == pytest.approx(1 - 0.95 ** (1 / 6)) and per_image.stats["faces_per_image"] == 6
    assert per_image.stats["fpr"] <= f
    images = rng.choice(real, size=(20000, 6)).max(axis=1)  # six-face real images
    assert np.mean(images >= per_image.threshold) == pytest.approx(0.05, abs=0.01)
    assert np.mean(images >= plain.threshold) > 0.2
    with pytest.raises(ValueError, match="faces per image"):
        calibrate(scores, ones, labels, faces_per_image=6)
