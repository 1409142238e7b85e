"""Decision-rule measurements (evaluation/decision.py) on scores whose answers are known."""

from __future__ import annotations

import math

import numpy as np
import pytest

from ffdetect.evaluation.decision import (
    DEFAULT_BINS,
    analyse,
    analyse_frames,
    apply_temperature,
    aurc,
    bootstrap,
    brier_score,
    expected_calibration_error,
    fit_temperature,
    frame_items,
    optimal_aurc,
    plot_reliability,
    plot_risk_coverage,
    rank_auc,
    reliability_curve,
    risk_at_coverage,
    risk_coverage,
    selective_error,
    video_items,
)
from ffdetect.evaluation.metrics import FrameResults


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def test_risk_coverage_by_hand() -> None:
    correct = np.array([True, False, True, True])
    selection = np.array([0.9, 0.8, 0.7, 0.6])
    coverage, risk = risk_coverage(correct, selection)
    np.testing.assert_allclose(coverage, [0.25, 0.5, 0.75, 1.0])
    np.testing.assert_allclose(risk, [0.0, 0.5, 1 / 3, 0.25])
    assert aurc(correct, selection) == pytest.approx((0.5 + 1 / 3 + 0.25) / 4)
    assert risk_at_coverage(correct, selection, 0.5) == pytest.approx(0.5)
    assert risk_at_coverage(correct, selection, 0.6) == pytest.approx(1 / 3)  # ceil(2.4) = 3
    assert selective_error(correct, selection, 0.75) == (0.5, 0.5)
    cov, err = selective_error(correct, selection, 0.95)
    assert cov == 0.0 and math.isnan(err)


def test_rank_auc_matches_sklearn() -> None:
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 300)
    s = np.round(rng.random(300) + 0.3 * y, 1)  # many ties
    assert rank_auc(y, s) == pytest.approx(roc_auc_score(y, s), abs=1e-12)
    assert math.isnan(rank_auc([1, 1], [0.2, 0.3]))


def test_ties_are_spread_evenly() -> None:
    correct = np.array([True, False, True, False])
    # all tied: the expected risk at every coverage is the overall error rate
    np.testing.assert_allclose(risk_coverage(correct, np.ones(4))[1], 0.5)
    # a tie group in the middle: its one error is spread over its two places
    _, risk = risk_coverage(correct, np.array([0.9, 0.5, 0.5, 0.1]))
    np.testing.assert_allclose(risk, [0.0, 0.25, 1 / 3, 0.5])


def test_informative_confidence_has_lower_aurc() -> None:
    rng = np.random.default_rng(1)
    correct = rng.random(2000) < 0.7
    error = 1.0 - correct.mean()
    informative = correct + 0.1 * rng.random(2000)  # every correct item above every error
    uninformative = rng.random(2000)
    constant = np.full(2000, 0.5)
    assert aurc(correct, informative) == pytest.approx(optimal_aurc(correct))
    assert aurc(correct, constant) == pytest.approx(error)
    assert abs(aurc(correct, uninformative) - error) < 0.03
    assert aurc(correct, informative) < 0.5 * aurc(correct, uninformative)
    assert aurc(correct, -informative) > aurc(correct, uninformative) + 0.2
    # an informative score keeps fewer errors at 80% coverage
    assert risk_at_coverage(correct, informative, 0.8) < error - 0.1


def test_ece_and_brier_of_calibrated_and_overconfident_draws() -> None:
    rng = np.random.default_rng(2)
    p = rng.random(40_000)
    y = (rng.random(p.size) < p).astype(float)
    assert expected_calibration_error(p, y, DEFAULT_BINS) < 0.015
    assert brier_score(p, y) == pytest.approx(1 / 6, abs=0.01)  # E[p(1-p)], p ~ U(0, 1)
    overconfident = _sigmoid(4.0 * np.log(p / (1 - p)))
    assert expected_calibration_error(overconfident, y, DEFAULT_BINS) > 0.1
    assert brier_score(overconfident, y) > brier_score(p, y) + 0.02
    mean_p, freq, counts = reliability_curve(p, y, 10)
    assert counts.sum() == p.size and mean_p.size == 10
    np.testing.assert_allclose(freq, mean_p, atol=0.03)
    # a probability of exactly 1 lands in the last bin, not past it
    assert expected_calibration_error([1.0, 1.0], [1.0, 1.0]) == 0.0


def test_temperature_scaling_recovers_a_known_temperature() -> None:
    rng = np.random.default_rng(3)
    z = rng.normal(0.0, 2.0, 20_000)
    y = (rng.random(z.size) < _sigmoid(z)).astype(int)
    for true_t in (0.5, 2.5):
        observed = _sigmoid(z * true_t)  # logit(observed) / true_t is the calibrated logit
        fitted = fit_temperature(y, observed)
        assert fitted == pytest.approx(true_t, rel=0.08)
        scaled = apply_temperature(observed, fitted)
        assert expected_calibration_error(scaled, y) < expected_calibration_error(observed, y)
        assert expected_calibration_error(scaled, y) < 0.02
    with pytest.raises(ValueError):
        apply_temperature([0.5], 0.0)


def test_bootstrap_contains_the_estimate_and_narrows_with_n() -> None:
    rng = np.random.default_rng(4)
    widths = []
    for n in (200, 3200):
        x = rng.normal(1.0, 1.0, n)
        lo, hi = bootstrap(lambda idx, x=x: {"mean": x[idx].mean()}, np.arange(n), 400)["mean"]
        assert lo <= x.mean() <= hi
        widths.append(hi - lo)
    assert widths[1] < 0.4 * widths[0]  # ~1/4 expected (sqrt(16))
    # same seed, same interval
    x = rng.normal(size=50)
    stat = lambda idx: {"mean": x[idx].mean()}  # noqa: E731
    assert bootstrap(stat, np.arange(50), 50, seed=7) == bootstrap(stat, np.arange(50), 50, seed=7)


def test_bootstrap_resamples_whole_groups() -> None:
    groups = np.repeat(np.arange(10), 3)
    seen = []

    def stat(index: np.ndarray) -> dict[str, float]:
        seen.append(index)
        return {"n": float(index.size), "nan": math.nan}

    out = bootstrap(stat, groups, 20)
    assert all(idx.size == 30 for idx in seen)
    for idx in seen:  # every drawn group comes with all three of its items
        counts = np.bincount(groups[idx], minlength=10)
        assert np.all(counts % 3 == 0)
    assert out["n"] == (30.0, 30.0)
    assert all(math.isnan(v) for v in out["nan"])


def _frames(n_videos: int, seed: int, informative: bool) -> FrameResults:
    """Videos of 4 frames; a video's frames share its difficulty, which sets p and conf."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n_videos) % 2
    hard = rng.random(n_videos) < 0.3  # hard videos are scored on the wrong side
    videos, frames, frame_labels, p, conf = [], [], [], [], []
    for v in range(n_videos):
        for f in range(4):
            side = labels[v] if not hard[v] else 1 - labels[v]
            q = 0.6 + 0.3 * rng.random()
            videos.append(f"v{v}")
            frames.append(str(f))
            frame_labels.append(labels[v])
            p.append(q if side == 1 else 1 - q)
            if informative:
                conf.append(0.2 + 0.1 * rng.random() if hard[v] else 0.7 + 0.1 * rng.random())
            else:
                conf.append(rng.random())
    return FrameResults(
        videos=np.array(videos, dtype=object),
        frames=np.array(frames, dtype=object),
        labels=np.array(frame_labels),
        scores=np.array(p),
        confidences=np.array(conf),
    )


def test_analyse_measures_an_informative_confidence() -> None:
    val, test = _frames(120, 5, True), _frames(160, 6, True)
    result = analyse(video_items(val, 1.0), video_items(test, 1.0), gamma=1.0, draws=60)
    point, ci = result.point, result.intervals
    assert result.n_items == result.n_videos == 160
    assert point["error"] > 0.2  # the hard videos are wrong at any threshold
    assert point["aurc_confidence"] < 0.5 * point["error"]
    assert point["aurc_confidence"] < point["aurc_max_prob"]
    assert point["aurc_temperature"] == pytest.approx(point["aurc_max_prob"])  # same order
    assert point["error_confidence@0.8"] < point["error"]
    assert point["abstain_coverage_confidence"] < 1.0
    for key in ("auc", "acc_t", "aurc_confidence", "ece_conf", "brier_p"):
        lo, hi = ci[key]
        assert lo <= point[key] <= hi
    assert ci["delta_aurc_confidence_vs_max_prob"][1] < 0  # paired difference, whole CI below 0
    frame = frame_items(test)
    assert len(frame) == 640 and len(frame.videos) == 160


def test_analyse_frames_and_uninformative_confidence(tmp_path) -> None:
    val, test = _frames(80, 7, False), _frames(80, 8, False)
    out = analyse_frames(val, test, draws=10)
    assert list(out) == ["video, gamma 0", "video, gamma 1", "frame"]
    frame = out["frame"]
    assert frame.n_items == 320 and frame.n_videos == 80
    assert abs(frame.point["aurc_confidence"] - frame.point["error"]) < 0.1
    rc = plot_risk_coverage(frame.curves, tmp_path / "rc.png", "test", frame.point["error"])
    rel = plot_reliability(frame.reliability, tmp_path / "rel.png", "test")
    for path in (rc, rel):
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
