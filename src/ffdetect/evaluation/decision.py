"""Measuring decision rules on scored results (METHOD.md section 3, issue #14 part 4).

Given the per-frame results of a **validation** and a **test** set (``<dataset>_frames.csv``,
:func:`ffdetect.evaluation.metrics.read_frame_results`), :func:`analyse` fixes the decision rule
on validation and measures it on test, at one *level*:

- ``video``: the video score and confidence of :func:`~ffdetect.evaluation.calibration.
  aggregate_frames` with weights ``conf ** gamma``;
- ``frame``: every frame (face) on its own (``gamma`` plays no part).

Definitions (all fixed here, so the numbers can be checked):

- **Decision**: fake iff ``score >= t``; ``t*`` is chosen on validation by
  :func:`~ffdetect.evaluation.calibration.calibrate` (balanced-accuracy rule, ``c_min`` from
  ``c_min_quantile``); the oracle threshold is the best one *on test*
  (:func:`~ffdetect.evaluation.metrics.oracle_accuracy`).
- **Selection scores** (higher = kept first): ``confidence`` (evidential ``1 - u``, averaged
  as the video score is), ``max_prob`` ``max(p, 1 - p)``, ``temperature`` ``max(q, 1 - q)``
  with ``q = sigmoid(logit(p) / T)`` (``T`` fitted on validation; for ``T > 0`` it orders the
  items exactly as ``max_prob`` does), and ``margin`` ``|p - t*|`` (distance to the decision
  threshold).
- **Risk-coverage**: items sorted by a selection score, falling; the risk at ``k`` kept items is
  the error rate at ``t*`` of those ``k``. Ties in the selection score are broken at random *in
  expectation* (the errors of a tie group are spread evenly over it), so a constant score gives
  the full-coverage error at every coverage. **AURC** is the mean of the risk over
  ``k = 1 .. n``. Random selection has expected AURC equal to the full-coverage error; the
  optimal selection (every error kept last) gives :func:`optimal_aurc`.
- **Error at coverage c**: risk of the top ``ceil(c * n)`` items.
- **Abstention rule**: for each selection score, the cut chosen on validation with
  :func:`~ffdetect.evaluation.calibration.choose_c_min` (abstain on at most ``c_min_quantile``
  of the validation items), applied to test: coverage and error of the kept items.
- **ECE**: ``DEFAULT_BINS`` (15) equal-width bins on ``[0, 1]`` (the last bin includes 1),
  ``sum_b n_b / n * |mean(prob_b) - mean(outcome_b)|``. **Brier**: ``mean((prob - outcome)^2)``.
  Of the confidence the outcome is "the decision at ``t*`` is correct"; of ``p_fake`` (and of
  the temperature-scaled ``q``) it is the label. ``brier_*_constant`` is the Brier score of the
  best constant forecast (the observed rate ``r``: ``r * (1 - r)``), the level a predictor
  without information reaches.
- **Temperature scaling**: one ``T`` minimising the NLL of the validation labels under
  ``sigmoid(logit(p) / T)`` (L-BFGS-B on ``log T``, ``p`` clipped to
  ``[LOGLOSS_EPS, 1 - LOGLOSS_EPS]``); fitted per level on that level's validation items.
- **Bootstrap**: percentile 95% intervals over ``draws`` resamples of the test *videos* with
  replacement (fixed ``seed``; at frame level a drawn video brings all its frames). The rule
  (``t*``, ``T``, the cuts) stays the one chosen on validation. All statistics of one analysis
  share the same resamples, so differences (``delta_*``) are paired.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from scipy.optimize import minimize
from scipy.stats import rankdata

from ffdetect.evaluation.calibration import (
    DEFAULT_GAMMA,
    aggregate_frames,
    calibrate,
    choose_c_min,
    video_labels,
)
from ffdetect.evaluation.metrics import (
    LOGLOSS_EPS,
    FrameResults,
    accuracy_at,
    has_both_classes,
    oracle_accuracy,
)

DEFAULT_BINS = 15
DEFAULT_DRAWS = 1000
DEFAULT_SEED = 0
DEFAULT_C_MIN_QUANTILE = 0.1
#: Coverages at which the error of the kept items is reported (besides 1.0).
COVERAGES = (0.8, 0.9)
#: Selection scores, in report order.
SELECTIONS = ("confidence", "max_prob", "temperature", "margin")
LEVELS = ("video", "frame")


@dataclass
class Items:
    """Scored, labelled items of one level: videos, or frames grouped by their video.

    ``groups[i]`` is the index (into ``videos``) of item ``i``'s video: the unit of resampling.
    """

    level: str
    labels: np.ndarray
    scores: np.ndarray
    confs: np.ndarray
    groups: np.ndarray
    videos: list[str]

    def __len__(self) -> int:
        return int(self.labels.size)

    def subset(self, index: np.ndarray) -> Items:
        """The items at ``index`` (repeats allowed), with their groups as they are."""
        return Items(
            self.level,
            self.labels[index],
            self.scores[index],
            self.confs[index],
            self.groups[index],
            self.videos,
        )


def _frame_confidences(frames: FrameResults) -> np.ndarray:
    if frames.confidences is None:
        raise ValueError("the frame results have no confidence column")
    return np.asarray(frames.confidences, dtype=np.float64)


def video_items(frames: FrameResults, gamma: float = DEFAULT_GAMMA) -> Items:
    """Videos scored from their frames with weights ``conf ** gamma`` (``aggregate_frames``)."""
    names, scores, confs = aggregate_frames(
        frames.videos, frames.scores, _frame_confidences(frames), gamma
    )
    labels = video_labels(frames.videos, frames.labels, names)
    return Items("video", labels, scores, confs, np.arange(len(names)), names)


def frame_items(frames: FrameResults) -> Items:
    """Every frame as an item, grouped by its video (first-appearance order)."""
    index: dict[str, int] = {}
    groups = np.array([index.setdefault(str(v), len(index)) for v in frames.videos])
    return Items(
        "frame",
        np.asarray(frames.labels, dtype=np.int64),
        np.asarray(frames.scores, dtype=np.float64),
        _frame_confidences(frames),
        groups,
        list(index),
    )


def items_at(frames: FrameResults, level: str, gamma: float = DEFAULT_GAMMA) -> Items:
    """:func:`video_items` or :func:`frame_items` by ``level``."""
    if level == "video":
        return video_items(frames, gamma)
    if level == "frame":
        return frame_items(frames)
    raise ValueError(f"level must be one of {', '.join(LEVELS)}, got {level!r}")


# --------------------------------------------------------------------------------------------
# Probabilities and temperature scaling


def logit(p: Any) -> np.ndarray:
    """``log(p / (1 - p))`` with ``p`` clipped to ``[LOGLOSS_EPS, 1 - LOGLOSS_EPS]``."""
    q = np.clip(np.asarray(p, dtype=np.float64), LOGLOSS_EPS, 1.0 - LOGLOSS_EPS)
    return np.log(q) - np.log1p(-q)


def apply_temperature(p: Any, temperature: float) -> np.ndarray:
    """``sigmoid(logit(p) / temperature)``."""
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    return 1.0 / (1.0 + np.exp(-logit(p) / temperature))


def _nll(z: np.ndarray, y: np.ndarray, temperature: float) -> float:
    a = z / temperature
    return float(np.mean(np.logaddexp(0.0, a) - y * a))


def fit_temperature(labels: Any, p: Any) -> float:
    """The temperature minimising the mean NLL of ``labels`` under ``sigmoid(logit(p) / T)``.

    L-BFGS-B on ``log T`` (started at ``T = 1``, bounded to ``[1e-3, 1e3]``).
    """
    y = np.asarray(labels, dtype=np.float64).ravel()
    z = logit(p).ravel()
    if y.shape != z.shape or y.size == 0:
        raise ValueError(f"{y.size} labels but {z.size} probabilities")

    def objective(log_t: np.ndarray) -> tuple[float, np.ndarray]:
        t = math.exp(float(log_t[0]))
        a = z / t
        sig = 1.0 / (1.0 + np.exp(-a))
        # d NLL / d log T = mean((sigmoid(a) - y) * (-a))
        return _nll(z, y, t), np.array([float(np.mean((sig - y) * -a))])

    bound = math.log(1e3)
    result = minimize(objective, np.zeros(1), jac=True, method="L-BFGS-B", bounds=[(-bound, bound)])
    return float(math.exp(float(result.x[0])))


def max_probability(p: Any) -> np.ndarray:
    """``max(p, 1 - p)``: the probability of the more likely class."""
    q = np.asarray(p, dtype=np.float64)
    return np.maximum(q, 1.0 - q)


# --------------------------------------------------------------------------------------------
# Calibration of probabilities


def _binned(probs: Any, outcomes: Any, bins: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    p = np.asarray(probs, dtype=np.float64).ravel()
    o = np.asarray(outcomes, dtype=np.float64).ravel()
    if p.shape != o.shape or p.size == 0:
        raise ValueError(f"{p.size} probabilities but {o.size} outcomes")
    if bins < 1:
        raise ValueError(f"bins must be >= 1, got {bins}")
    index = np.clip(np.floor(p * bins).astype(np.int64), 0, bins - 1)
    counts = np.bincount(index, minlength=bins).astype(np.float64)
    sum_p = np.bincount(index, weights=p, minlength=bins)
    sum_o = np.bincount(index, weights=o, minlength=bins)
    return counts, sum_p, sum_o


def reliability_curve(
    probs: Any, outcomes: Any, bins: int = DEFAULT_BINS
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per non-empty equal-width bin: mean probability, observed frequency, item count."""
    counts, sum_p, sum_o = _binned(probs, outcomes, bins)
    full = counts > 0
    return sum_p[full] / counts[full], sum_o[full] / counts[full], counts[full]


def expected_calibration_error(probs: Any, outcomes: Any, bins: int = DEFAULT_BINS) -> float:
    """ECE with ``bins`` equal-width bins: ``sum_b n_b / n * |mean(p_b) - mean(outcome_b)|``."""
    counts, sum_p, sum_o = _binned(probs, outcomes, bins)
    return float(np.sum(np.abs(sum_p - sum_o)) / counts.sum())


def brier_score(probs: Any, outcomes: Any) -> float:
    """``mean((prob - outcome) ** 2)``."""
    p = np.asarray(probs, dtype=np.float64).ravel()
    o = np.asarray(outcomes, dtype=np.float64).ravel()
    if p.shape != o.shape or p.size == 0:
        raise ValueError(f"{p.size} probabilities but {o.size} outcomes")
    return float(np.mean((p - o) ** 2))


# --------------------------------------------------------------------------------------------
# Selective prediction


def _expected_errors(correct: Any, selection: Any) -> np.ndarray:
    """Expected errors among the top ``k`` items, ``k = 0 .. n`` (ties spread evenly)."""
    ok = np.asarray(correct, dtype=bool).ravel()
    sel = np.asarray(selection, dtype=np.float64).ravel()
    if ok.shape != sel.shape or ok.size == 0:
        raise ValueError(f"{ok.size} outcomes but {sel.size} selection scores")
    n = sel.size
    order = np.argsort(-sel, kind="stable")
    cum = np.r_[0.0, np.cumsum(~ok[order])]  # errors among the first k in sorted order
    ends = np.r_[np.flatnonzero(np.diff(sel[order]) != 0) + 1, n]  # tie groups [start, end)
    starts = np.r_[0, ends[:-1]]
    k = np.arange(1, n + 1)
    g = np.searchsorted(ends, k, side="left")  # the tie group of the k-th kept item
    start, end = starts[g], ends[g]
    errs = cum[start] + (k - start) * (cum[end] - cum[start]) / (end - start)
    return np.r_[0.0, errs]


def risk_coverage(correct: Any, selection: Any) -> tuple[np.ndarray, np.ndarray]:
    """Coverage ``k / n`` and risk (error rate of the top ``k``) for ``k = 1 .. n``."""
    errs = _expected_errors(correct, selection)[1:]
    k = np.arange(1, errs.size + 1, dtype=np.float64)
    return k / errs.size, errs / k


def aurc(correct: Any, selection: Any) -> float:
    """Area under the risk-coverage curve: the mean risk over ``k = 1 .. n``."""
    return float(np.mean(risk_coverage(correct, selection)[1]))


def optimal_aurc(correct: Any) -> float:
    """AURC of the best possible selection: every correct item kept before every error."""
    ok = np.asarray(correct, dtype=bool).ravel()
    return aurc(ok, ok.astype(np.float64))


def risk_at_coverage(correct: Any, selection: Any, coverage: float) -> float:
    """Error rate of the top ``ceil(coverage * n)`` items by ``selection``."""
    if not 0.0 < coverage <= 1.0:
        raise ValueError(f"coverage must be in (0, 1], got {coverage}")
    errs = _expected_errors(correct, selection)
    k = max(1, math.ceil(coverage * (errs.size - 1) - 1e-9))
    return float(errs[k] / k)


def selective_error(correct: Any, selection: Any, cut: float) -> tuple[float, float]:
    """Coverage (fraction with ``selection >= cut``) and error rate of those kept.

    The error is ``nan`` when nothing is kept.
    """
    ok = np.asarray(correct, dtype=bool).ravel()
    keep = np.asarray(selection, dtype=np.float64).ravel() >= cut
    if not keep.any():
        return 0.0, math.nan
    return float(keep.mean()), float(1.0 - ok[keep].mean())


# --------------------------------------------------------------------------------------------
# Bootstrap


def bootstrap(
    statistic: Callable[[np.ndarray], Mapping[str, float]],
    groups: Any,
    draws: int = DEFAULT_DRAWS,
    seed: int = DEFAULT_SEED,
    level: float = 0.95,
) -> dict[str, tuple[float, float]]:
    """Percentile intervals of ``statistic(index)`` over resamples of the groups.

    Each draw picks ``n_groups`` groups with replacement and passes the indices of all their
    items (repeats included) to ``statistic``. Draws where a statistic is ``nan`` are left out
    of that statistic's interval (``(nan, nan)`` when all are).
    """
    g = np.asarray(groups).ravel()
    ids, inverse = np.unique(g, return_inverse=True)
    members = [np.flatnonzero(inverse == i) for i in range(ids.size)]
    rng = np.random.default_rng(seed)
    samples: dict[str, list[float]] = {}
    for _ in range(draws):
        picked = rng.integers(0, ids.size, ids.size)
        index = np.concatenate([members[i] for i in picked])
        for key, value in statistic(index).items():
            samples.setdefault(key, []).append(float(value))
    alpha = (1.0 - level) / 2.0
    out: dict[str, tuple[float, float]] = {}
    for key, values in samples.items():
        v = np.asarray(values)
        v = v[np.isfinite(v)]
        if v.size == 0:
            out[key] = (math.nan, math.nan)
        else:
            lo, hi = np.quantile(v, [alpha, 1.0 - alpha])
            out[key] = (float(lo), float(hi))
    return out


# --------------------------------------------------------------------------------------------
# One analysis: a rule fixed on validation, measured on test


@dataclass
class Rule:
    """What is chosen on validation: threshold, temperature, one abstention cut per selection."""

    threshold: float
    temperature: float
    cuts: dict[str, float]
    gamma: float
    c_min_quantile: float


@dataclass
class Analysis:
    """Point estimates, bootstrap intervals and curves of one (level, gamma) on test."""

    level: str
    gamma: float
    n_items: int
    n_videos: int
    rule: Rule
    point: dict[str, float]
    intervals: dict[str, tuple[float, float]]
    curves: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    reliability: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = field(default_factory=dict)
    oracle_threshold: float = math.nan
    bins: int = DEFAULT_BINS
    draws: int = DEFAULT_DRAWS
    seed: int = DEFAULT_SEED


def selection_scores(items: Items, rule: Rule) -> dict[str, np.ndarray]:
    """Every selection score of :data:`SELECTIONS` for ``items`` under ``rule``."""
    return {
        "confidence": items.confs,
        "max_prob": max_probability(items.scores),
        "temperature": max_probability(apply_temperature(items.scores, rule.temperature)),
        "margin": np.abs(items.scores - rule.threshold),
    }


def fit_rule(
    val: Items, gamma: float = DEFAULT_GAMMA, c_min_quantile: float = DEFAULT_C_MIN_QUANTILE
) -> Rule:
    """Choose ``t*`` (``calibrate``), ``T`` and the abstention cuts on validation items.

    ``t*`` is :func:`~ffdetect.evaluation.calibration.calibrate`'s balanced-accuracy threshold
    over the validation items with confidence at least its ``c_min`` (``c_min_quantile``), as
    ``ffdetect calibrate`` chooses it.
    """
    calibration = calibrate(
        val.scores, val.confs, val.labels, gamma=gamma, c_min_quantile=c_min_quantile
    )
    rule = Rule(
        threshold=calibration.threshold,
        temperature=fit_temperature(val.labels, val.scores),
        cuts={},
        gamma=gamma,
        c_min_quantile=c_min_quantile,
    )
    for name, values in selection_scores(val, rule).items():
        rule.cuts[name] = choose_c_min(np.clip(values, 0.0, 1.0), c_min_quantile)
    return rule


def rank_auc(labels: Any, scores: Any) -> float:
    """ROC AUC as the Mann-Whitney statistic (ties count one half); ``nan`` for one class.

    Equal to ``sklearn.metrics.roc_auc_score`` and much faster on small arrays, which matters
    inside the bootstrap.
    """
    y = np.asarray(labels).ravel()
    if not has_both_classes(y):
        return math.nan
    ranks = rankdata(np.asarray(scores, dtype=np.float64).ravel())
    fake = y == 1
    n_fake, n_real = int(fake.sum()), int((~fake).sum())
    return float((ranks[fake].sum() - n_fake * (n_fake + 1) / 2.0) / (n_fake * n_real))


def statistics_of(items: Items, rule: Rule, bins: int = DEFAULT_BINS) -> dict[str, float]:
    """Every figure of one analysis on ``items`` (the full test set or one resample)."""
    y, s = items.labels, items.scores
    correct = (s >= rule.threshold) == (y == 1)
    q = apply_temperature(s, rule.temperature)
    err_full = float(1.0 - correct.mean())
    stats: dict[str, float] = {
        "auc": rank_auc(y, s),
        "acc_05": accuracy_at(y, s, 0.5),
        "acc_t": accuracy_at(y, s, rule.threshold),
        "acc_oracle": oracle_accuracy(y, s)[0],
        "error": err_full,
        "aurc_optimal": optimal_aurc(correct),
        "conf_mean": float(items.confs.mean()),
        "conf_sd": float(items.confs.std()),
        "ece_conf": expected_calibration_error(items.confs, correct, bins),
        "brier_conf": brier_score(items.confs, correct),
        # reference: the best constant forecast (the observed rate) has Brier rate * (1 - rate)
        "brier_conf_constant": err_full * (1.0 - err_full),
        "brier_p_constant": float(y.mean() * (1.0 - y.mean())),
        "ece_p": expected_calibration_error(s, y, bins),
        "brier_p": brier_score(s, y),
        "ece_temp": expected_calibration_error(q, y, bins),
        "brier_temp": brier_score(q, y),
    }
    for name, sel in selection_scores(items, rule).items():
        area = aurc(correct, sel)
        stats[f"aurc_{name}"] = area
        stats[f"delta_aurc_{name}_vs_random"] = area - err_full
        for c in COVERAGES:
            risk = risk_at_coverage(correct, sel, c)
            stats[f"error_{name}@{c:g}"] = risk
            stats[f"delta_error_{name}@{c:g}"] = risk - err_full
        coverage, kept_error = selective_error(correct, sel, rule.cuts[name])
        stats[f"abstain_coverage_{name}"] = coverage
        stats[f"abstain_error_{name}"] = kept_error
        stats[f"delta_abstain_error_{name}"] = kept_error - err_full
    stats["delta_aurc_confidence_vs_max_prob"] = stats["aurc_confidence"] - stats["aurc_max_prob"]
    return stats


def analyse(
    val: Items,
    test: Items,
    *,
    gamma: float = DEFAULT_GAMMA,
    c_min_quantile: float = DEFAULT_C_MIN_QUANTILE,
    bins: int = DEFAULT_BINS,
    draws: int = DEFAULT_DRAWS,
    seed: int = DEFAULT_SEED,
) -> Analysis:
    """Fix the rule on ``val`` (:func:`fit_rule`), measure it on ``test`` with intervals.

    ``gamma`` is the one the video items were scored with (recorded; ``t*`` is stored with it).
    """
    if val.level != test.level:
        raise ValueError(f"validation is {val.level}-level but test is {test.level}-level")
    rule = fit_rule(val, gamma, c_min_quantile)
    point = statistics_of(test, rule, bins)
    intervals = bootstrap(
        lambda index: statistics_of(test.subset(index), rule, bins), test.groups, draws, seed
    )
    correct = (test.scores >= rule.threshold) == (test.labels == 1)
    curves = {
        name: risk_coverage(correct, sel) for name, sel in selection_scores(test, rule).items()
    }
    curves["optimal"] = risk_coverage(correct, correct.astype(np.float64))
    reliability = {
        "confidence vs correct": reliability_curve(test.confs, correct, bins),
        "p_fake vs label": reliability_curve(test.scores, test.labels, bins),
        "temperature-scaled p_fake vs label": reliability_curve(
            apply_temperature(test.scores, rule.temperature), test.labels, bins
        ),
    }
    return Analysis(
        level=test.level,
        gamma=gamma,
        n_items=len(test),
        n_videos=len(test.videos),
        rule=rule,
        point=point,
        intervals=intervals,
        curves=curves,
        reliability=reliability,
        oracle_threshold=oracle_accuracy(test.labels, test.scores)[1],
        bins=bins,
        draws=draws,
        seed=seed,
    )


def analyse_frames(
    val_frames: FrameResults,
    test_frames: FrameResults,
    *,
    gammas: Sequence[float] = (0.0, 1.0),
    c_min_quantile: float = DEFAULT_C_MIN_QUANTILE,
    bins: int = DEFAULT_BINS,
    draws: int = DEFAULT_DRAWS,
    seed: int = DEFAULT_SEED,
) -> dict[str, Analysis]:
    """Video-level analyses for each gamma (``"video, gamma 0"`` ...) and a frame-level one."""
    out: dict[str, Analysis] = {}
    options = {"c_min_quantile": c_min_quantile, "bins": bins, "draws": draws, "seed": seed}
    for gamma in gammas:
        out[f"video, gamma {gamma:g}"] = analyse(
            video_items(val_frames, gamma), video_items(test_frames, gamma), gamma=gamma, **options
        )
    out["frame"] = analyse(frame_items(val_frames), frame_items(test_frames), **options)
    return out


# --------------------------------------------------------------------------------------------
# Plots


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig: Any, path: str | Path) -> Path:
    """Write a finished figure as a PNG (folders made as needed) and close it."""
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    _pyplot().close(fig)
    return path


def plot_risk_coverage(
    curves: Mapping[str, tuple[np.ndarray, np.ndarray]],
    path: str | Path,
    title: str = "",
    full_error: float | None = None,
) -> Path:
    """Risk-coverage curves (one line per selection score) as a PNG at ``path``.

    ``full_error`` draws random selection's expected risk (the full-coverage error) as a
    dashed line.
    """
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5.5, 4.0), dpi=120)
    dashed = {"optimal": ":", "temperature": "--"}  # temperature retraces max_prob exactly
    for name, (coverage, risk) in curves.items():
        ax.plot(coverage, risk, dashed.get(name, "-"), label=name, linewidth=1.4)
    if full_error is not None:
        ax.axhline(full_error, color="grey", linestyle="--", linewidth=1, label="random")
    ax.set_xlabel("coverage (fraction of items kept)")
    ax.set_ylabel("risk (error rate of kept items)")
    ax.set_xlim(0, 1)
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title(title, fontsize=9)
    return _save(fig, path)


def plot_reliability(
    curves: Mapping[str, tuple[np.ndarray, np.ndarray, np.ndarray]],
    path: str | Path,
    title: str = "",
) -> Path:
    """Reliability diagrams (mean probability vs observed frequency per bin) as a PNG.

    One panel per curve of :func:`reliability_curve`; marker area grows with the bin's count.
    """
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(curves), figsize=(3.6 * len(curves), 3.6), dpi=120)
    axes = np.atleast_1d(axes)
    for ax, (name, (mean_p, freq, counts)) in zip(axes, curves.items(), strict=True):
        ax.plot([0, 1], [0, 1], color="grey", linestyle="--", linewidth=1)
        ax.plot(mean_p, freq, "-", linewidth=1)
        ax.scatter(mean_p, freq, s=10 + 200 * counts / max(counts.sum(), 1), zorder=3)
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.set_xlabel("mean predicted probability in bin")
        ax.set_ylabel("observed frequency")
        ax.set_title(name, fontsize=9)
        ax.grid(alpha=0.3)
    if title:
        fig.suptitle(title, fontsize=9)
    return _save(fig, path)
