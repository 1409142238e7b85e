"""Confidence-based decisions (METHOD.md section 3).

The paper's third stage uses prediction confidence to make the final real/fake decision; its
exact formula is not available, so **everything here is ffdetect's own definition**:

- Every frame prediction carries ``p_fake`` and a confidence ``conf = 1 - u`` (evidential
  uncertainty, computed by the model code, not here).
- Video score: the mean of frame ``p_fake`` weighted by ``w = conf ** gamma`` (``gamma = 0`` is
  the plain mean; default 1). Video confidence: the mean of frame ``conf`` with the *same*
  weights, ``sum(w * conf) / sum(w)`` (for ``gamma = 0`` the plain mean of the confidences).
  When every weight is zero (all frames have ``conf = 0`` and ``gamma > 0``) both fall back to
  plain means.
- Decision: ``uncertain`` when the video confidence is below ``c_min``; otherwise ``fake`` when
  ``score >= threshold`` and ``real`` below.
- Calibration on scored, labelled validation videos:

  * ``c_min``: given, or chosen as the lowest confidence that abstains on at most a fraction
    ``c_min_quantile`` of the validation videos (the sorted confidence at index
    ``floor(c_min_quantile * n)``); ``c_min_quantile = 0`` (the default) gives ``c_min = 0``,
    which never abstains.
  * ``method="balanced_accuracy"`` (default): over the videos with ``conf >= c_min``, the
    threshold maximising balanced accuracy (TPR + TNR) / 2. Among equally good cut points the
    one with the widest gap between adjacent validation scores wins (then the highest), and the
    threshold is placed midway in that gap, so it does not sit on a validation video.
  * ``method="target_fpr"`` (when ``target_fpr`` is given): the smallest validation score ``t``
    whose false-positive rate on the confident real videos is at most ``target_fpr`` (the
    largest TPR meeting the target). With ``faces_per_image = N > 1`` the target holds for an
    image (or a video) of N real faces, whose verdict is its highest face: each face is held to
    ``1 - (1 - target_fpr) ** (1 / N)``, so that N independent real faces raise a false alarm
    with probability ``target_fpr`` (a group photo of six at 5% needs 0.85% per face).
  * ``method="eer"`` (``rule="eer"``; the default of ``ffdetect calibrate`` for presentation
    attack detection models, the OULU-NPU / Replay-Attack convention): the equal error rate
    threshold of the confident validation videos
    (:func:`ffdetect.evaluation.metrics.equal_error_rate`), "the development EER threshold".
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
from sklearn.metrics import roc_curve

from ffdetect.checkpoint.metadata import Calibration

Decision = Literal["real", "fake", "uncertain"]

DEFAULT_GAMMA = 1.0
METHOD_BALANCED = "balanced_accuracy"
METHOD_TARGET_FPR = "target_fpr"
METHOD_EER = "eer"
#: Threshold rules ``calibrate(rule=...)`` accepts (``target_fpr`` comes with its value).
RULES = (METHOD_BALANCED, METHOD_EER)


def _unit_array(name: str, values: Any) -> np.ndarray:
    array = np.asarray(values, dtype=np.float64).ravel()
    if not np.all((array >= 0.0) & (array <= 1.0)):
        raise ValueError(f"{name} must lie in [0, 1]")
    return array


def _check_gamma(gamma: float) -> None:
    if not (math.isfinite(gamma) and gamma >= 0):
        raise ValueError(f"gamma must be a finite number >= 0, got {gamma}")


def video_score(frame_p: Any, frame_conf: Any, gamma: float = DEFAULT_GAMMA) -> tuple[float, float]:
    """Confidence-weighted video score and video confidence from its frames.

    Weights are ``conf ** gamma``; score ``sum(w * p) / sum(w)``, confidence
    ``sum(w * conf) / sum(w)``. All-zero weights fall back to plain means.
    """
    p = _unit_array("frame_p", frame_p)
    conf = _unit_array("frame_conf", frame_conf)
    if p.size == 0:
        raise ValueError("a video needs at least one frame")
    if p.shape != conf.shape:
        raise ValueError(f"{p.size} frame scores but {conf.size} confidences")
    _check_gamma(gamma)
    weights = np.power(conf, gamma)  # 0 ** 0 == 1: gamma = 0 is the plain mean
    total = float(weights.sum())
    if total <= 0.0:
        return float(p.mean()), float(conf.mean())
    return float(weights @ p / total), float(weights @ conf / total)


def aggregate_frames(
    videos: Sequence[str] | np.ndarray,
    frame_p: Any,
    frame_conf: Any,
    gamma: float = DEFAULT_GAMMA,
) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Group frames by video (first-appearance order) and apply :func:`video_score` to each.

    Returns the video names, their scores and their confidences.
    """
    p = np.asarray(frame_p, dtype=np.float64).ravel()
    conf = np.asarray(frame_conf, dtype=np.float64).ravel()
    groups: dict[str, list[int]] = {}
    for i, video in enumerate(videos):
        groups.setdefault(str(video), []).append(i)
    if len(p) != sum(map(len, groups.values())) or p.shape != conf.shape:
        raise ValueError("videos, frame_p and frame_conf must have the same length")
    pairs = [video_score(p[idx], conf[idx], gamma) for idx in groups.values()]
    scores = np.array([s for s, _ in pairs], dtype=np.float64)
    confs = np.array([c for _, c in pairs], dtype=np.float64)
    return list(groups), scores, confs


def choose_c_min(confs: Any, c_min_quantile: float = 0.0) -> float:
    """Lowest confidence that abstains on at most ``c_min_quantile`` of the videos.

    ``0`` gives ``c_min = 0`` (never abstain); otherwise the sorted confidence at index
    ``floor(c_min_quantile * n)``: fewer than that many videos lie strictly below it.
    """
    if not 0.0 <= c_min_quantile < 1.0:
        raise ValueError(f"c_min_quantile must be in [0, 1), got {c_min_quantile}")
    c = np.sort(_unit_array("confs", confs))
    if c_min_quantile == 0.0 or c.size == 0:
        return 0.0
    return float(c[int(math.floor(c_min_quantile * c.size))])


def _rates_at(labels: np.ndarray, scores: np.ndarray, threshold: float) -> tuple[float, float]:
    pred = scores >= threshold
    tpr = float(np.mean(pred[labels == 1]))
    fpr = float(np.mean(pred[labels == 0]))
    return tpr, fpr


def _best_balanced_threshold(labels: np.ndarray, scores: np.ndarray) -> float:
    """Midpoint of the widest score gap among the cut points of maximal balanced accuracy."""
    fpr, tpr, thresholds = roc_curve(labels, scores, drop_intermediate=False)
    # thresholds[0] is +inf (call nothing fake); thresholds[1:] are the distinct scores, falling.
    below = np.r_[thresholds[1:], -np.inf]  # the next lower score of each cut point
    balanced = np.round((tpr + 1.0 - fpr) / 2.0, 12)
    best = np.flatnonzero(balanced == balanced.max())
    finite = best[np.isfinite(thresholds[best])]
    if finite.size == 0:  # only "all real" is optimal: stay above every score
        return float(np.nextafter(scores.max(), math.inf))
    gaps = np.where(np.isfinite(below[finite]), thresholds[finite] - below[finite], 0.0)
    i = finite[int(np.argmax(gaps))]  # argmax takes the first: the highest threshold on ties
    if not np.isfinite(below[i]):  # lowest cut point: everything is fake
        return float(thresholds[i])
    return float((thresholds[i] + below[i]) / 2.0)


def _target_fpr_threshold(labels: np.ndarray, scores: np.ndarray, target_fpr: float) -> float:
    """Smallest validation score whose FPR on real videos is at most ``target_fpr``."""
    fpr, _, thresholds = roc_curve(labels, scores, drop_intermediate=False)
    ok = np.flatnonzero((fpr <= target_fpr + 1e-12) & np.isfinite(thresholds))
    if ok.size == 0:  # even the highest score exceeds the target: call nothing fake
        return float(np.nextafter(scores.max(), math.inf))
    return float(thresholds[ok[-1]])


def calibrate(
    scores: Any,
    confs: Any,
    labels: Any,
    c_min: float | None = None,
    target_fpr: float | None = None,
    gamma: float = DEFAULT_GAMMA,
    c_min_quantile: float = 0.0,
    chosen_on: str | None = None,
    rule: str = METHOD_BALANCED,
    faces_per_image: int = 1,
) -> Calibration:
    """Choose the decision rule on validation videos (see the module docstring).

    ``scores`` and ``confs`` are video scores and confidences computed with ``gamma``, which is
    stored with the rule so that ``detect`` scores videos the same way. ``c_min`` is chosen by
    :func:`choose_c_min` with ``c_min_quantile`` when not given. Raises ``ValueError`` when the
    confident videos do not contain both classes.
    """
    s = _unit_array("scores", scores)
    c = _unit_array("confs", confs)
    y = np.asarray(labels, dtype=np.int64).ravel()
    if not (s.shape == c.shape == y.shape):
        raise ValueError(f"{s.size} scores, {c.size} confidences and {y.size} labels")
    if not np.all((y == 0) | (y == 1)):
        raise ValueError("labels must be 0 (real) or 1 (fake)")
    _check_gamma(gamma)
    if c_min is not None and not 0.0 <= c_min <= 1.0:  # also refuses nan
        raise ValueError(f"c_min must be in [0, 1] (confidences lie there), got {c_min}")
    if target_fpr is not None and not 0.0 <= target_fpr <= 1.0:
        raise ValueError(f"target_fpr must be in [0, 1], got {target_fpr}")
    if rule not in RULES:
        raise ValueError(f"threshold rule must be one of {', '.join(RULES)}, got {rule!r}")
    if target_fpr is not None and rule != METHOD_BALANCED:
        raise ValueError(f"give a target FPR or the {rule} rule, not both")
    if faces_per_image < 1 or (faces_per_image > 1 and target_fpr is None):
        raise ValueError(
            f"faces per image must be 1 or more, and more than 1 only with a target FPR; "
            f"got {faces_per_image}"
        )
    c_min_rule = "given" if c_min is not None else f"quantile {c_min_quantile:g}"
    c_min = choose_c_min(c, c_min_quantile) if c_min is None else float(c_min)

    keep = c >= c_min
    ys, ss = y[keep], s[keep]
    if not (np.any(ys == 0) and np.any(ys == 1)):
        raise ValueError(
            f"{int(keep.sum())} of {y.size} videos have confidence >= c_min = {c_min:g}; "
            "calibration needs real and fake ones among them"
        )
    if target_fpr is None and rule == METHOD_EER:
        from ffdetect.evaluation.metrics import equal_error_rate

        method, threshold = METHOD_EER, equal_error_rate(ys, ss)[1]
    elif target_fpr is None:
        method, threshold = METHOD_BALANCED, _best_balanced_threshold(ys, ss)
    else:
        per_face = per_face_fpr(target_fpr, faces_per_image)
        method, threshold = METHOD_TARGET_FPR, _target_fpr_threshold(ys, ss, per_face)
    tpr, fpr = _rates_at(ys, ss, threshold)
    stats = {
        "n_videos": int(y.size),
        "n_real": int(np.sum(y == 0)),
        "n_fake": int(np.sum(y == 1)),
        "n_confident": int(keep.sum()),
        "coverage": float(keep.mean()),
        "balanced_accuracy": (tpr + 1.0 - fpr) / 2.0,
        "accuracy": float(np.mean((ss >= threshold) == (ys == 1))),
        "tpr": tpr,
        "fpr": fpr,
        "c_min_rule": c_min_rule,
    }
    if faces_per_image > 1:
        stats["faces_per_image"] = int(faces_per_image)
        stats["per_face_target_fpr"] = per_face
    return Calibration(
        threshold=threshold,
        c_min=c_min,
        gamma=float(gamma),
        method=method,
        target_fpr=None if target_fpr is None else float(target_fpr),
        chosen_on=chosen_on,
        stats=stats,
    )


def per_face_fpr(target_fpr: float, faces_per_image: int) -> float:
    """The false-positive rate per face at which an image of ``faces_per_image`` independent real
    faces is flagged with probability ``target_fpr``: ``1 - (1 - target_fpr) ** (1 / N)``."""
    return float(1.0 - (1.0 - target_fpr) ** (1.0 / faces_per_image))


def decide(score: float, conf: float, calibration: Calibration) -> Decision:
    """``uncertain`` if ``conf < c_min``, else ``fake`` if ``score >= threshold``, else ``real``."""
    if not conf >= calibration.c_min:  # a nan confidence is uncertain too
        return "uncertain"
    return "fake" if score >= calibration.threshold else "real"


def calibrate_from_results(
    result_csv: str | Path,
    *,
    c_min: float | None = None,
    target_fpr: float | None = None,
    gamma: float = DEFAULT_GAMMA,
    c_min_quantile: float = 0.0,
    rule: str = METHOD_BALANCED,
    from_frames: bool = True,
    faces_per_image: int = 1,
) -> Calibration:
    """Calibrate from a validation result file (see :mod:`ffdetect.evaluation.metrics`).

    When the file's ``<name>_frames.csv`` has frame confidences, video scores and confidences
    are recomputed from the frames with ``gamma``. Otherwise the file's ``predict`` and
    ``confidence`` columns are used as they are (they must have been computed with ``gamma``);
    without a ``confidence`` column every video counts as fully confident (conf 1).
    ``from_frames=False`` always uses the video columns (the scores a result file reports).
    ``faces_per_image``: :func:`calibrate`.
    """
    from ffdetect.evaluation.metrics import read_results

    results = read_results(result_csv)
    frames = results.frames
    if from_frames and frames is not None and frames.confidences is not None:
        names, scores, confs = aggregate_frames(
            frames.videos, frames.scores, frames.confidences, gamma
        )
        labels = video_labels(frames.videos, frames.labels, names)
        source = "frames"
    else:
        scores, labels = results.scores, results.labels
        confs = results.confidences if results.confidences is not None else np.ones_like(scores)
        source = "videos" if results.confidences is not None else "videos (no confidence)"
    calibration = calibrate(
        scores,
        confs,
        labels,
        c_min=c_min,
        target_fpr=target_fpr,
        gamma=gamma,
        c_min_quantile=c_min_quantile,
        chosen_on=str(result_csv),
        rule=rule,
        faces_per_image=faces_per_image,
    )
    calibration.stats["scores_from"] = source
    return calibration


def video_labels(videos: Any, labels: Any, names: Sequence[str]) -> np.ndarray:
    """One label per video name; a video whose frames disagree is an error."""
    by_video: dict[str, set[int]] = {}
    for video, label in zip(videos, labels, strict=True):
        by_video.setdefault(str(video), set()).add(int(label))
    mixed = [n for n in names if len(by_video[n]) != 1]
    if mixed:
        raise ValueError(f"frames of one video carry different labels: {mixed[:5]}")
    return np.array([next(iter(by_video[n])) for n in names], dtype=np.int64)
