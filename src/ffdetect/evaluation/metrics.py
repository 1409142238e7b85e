"""Video- and frame-level detection metrics computed from result files.

Result files
------------
One CSV per dataset, the format of the original authors' released predictions
(METHOD.md section 5)::

    video,label,predict[,confidence]

- ``video``: the video's identity, its path relative to the dataset root (FF++ paths contain
  ``original_sequences/...`` or ``manipulated_sequences/<method>/...``);
- ``label``: 1 = fake, 0 = real;
- ``predict``: P(fake) of the video, in [0, 1];
- ``confidence`` (optional, written whenever it is known): the video's confidence in [0, 1]
  (METHOD.md section 3, see :mod:`ffdetect.evaluation.calibration`).

Frame-level predictions, when kept, live beside the video file ``<name>.csv`` as
``<name>_frames.csv`` with columns::

    video,frame,label,predict[,confidence]

where ``frame`` is the frame's index (or name) within its video and the other columns mean the
same as above, per frame. :func:`read_results` loads that sibling automatically.

Conventions
-----------
- A video is called fake when ``predict >= threshold`` (``>=``, as the authors' evaluation:
  the 29 DFDC and 6 FFIW videos scored exactly 0.5 count as fake in their ``scores.txt``).
- All rates and accuracies are fractions in [0, 1]; reports show them in percent.
- Metrics that need both classes (AUC, AP, EER, TPR at FPR, log loss) are ``nan`` when one
  class is missing.
- A ``video`` that appears on several rows with different labels is an error naming the ids
  and lines (no metric can be right for it). Repeated ids with one label are kept, each row
  one prediction: the authors' released FFIW file names its 250 real and 250 fake videos only
  ``source`` and ``target``, and its published figures count every row.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import (
    average_precision_score,
    confusion_matrix,
    log_loss,
    roc_auc_score,
    roc_curve,
)

from ffdetect.errors import UserError

VIDEO_COLUMNS = ("video", "label", "predict")
FRAME_COLUMNS = ("video", "frame", "label", "predict")
OPTIONAL_COLUMN = "confidence"
FRAMES_SUFFIX = "_frames"

#: Probabilities are clipped to [LOGLOSS_EPS, 1 - LOGLOSS_EPS] before the log loss.
LOGLOSS_EPS = 1e-7

FFPP_REAL_DIR = "original_sequences"
FFPP_FAKE_DIR = "manipulated_sequences"


class ResultFormatError(UserError, ValueError):
    """A result file is missing, unreadable or not in the documented format."""


@dataclass
class FrameResults:
    """Frame-level predictions (``<name>_frames.csv``)."""

    videos: np.ndarray
    frames: np.ndarray
    labels: np.ndarray
    scores: np.ndarray
    confidences: np.ndarray | None = None


@dataclass
class Results:
    """Video-level predictions of one dataset, plus its frame-level ones when present."""

    name: str
    videos: np.ndarray
    labels: np.ndarray
    scores: np.ndarray
    confidences: np.ndarray | None = None
    frames: FrameResults | None = None
    path: Path | None = None

    def __len__(self) -> int:
        return len(self.labels)


# --------------------------------------------------------------------------------------------
# Reading and writing


def frame_results_path(path: str | Path) -> Path:
    """Return the frame-level sibling ``<name>_frames.csv`` of the result file ``<name>.csv``."""
    path = Path(path)
    return path.with_name(f"{path.stem}{FRAMES_SUFFIX}{path.suffix}")


def is_frame_results_path(path: str | Path) -> bool:
    """Whether ``path`` is named like a frame-level result file."""
    return Path(path).stem.endswith(FRAMES_SUFFIX)


def _read_table(path: Path, required: Sequence[str]) -> dict[str, list[str]]:
    """Read a CSV into columns, checking the header against ``required`` + ``confidence``."""
    if not path.is_file():
        raise ResultFormatError(f"{path}: no such file")
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            reader = csv.reader(handle)
            header = next(reader, None)
            rows = [row for row in reader if row]
    except (OSError, UnicodeDecodeError, csv.Error) as err:
        raise ResultFormatError(f"{path}: cannot read: {err}") from err
    expected = ",".join(required) + f"[,{OPTIONAL_COLUMN}]"
    if header is None:
        raise ResultFormatError(f"{path}: empty file, expected header {expected}")
    header = [name.strip() for name in header]
    allowed = set(required) | {OPTIONAL_COLUMN}
    if set(required) - set(header) or set(header) - allowed or len(set(header)) != len(header):
        raise ResultFormatError(f"{path}: header {','.join(header)!r}, expected {expected}")
    if not rows:
        raise ResultFormatError(f"{path}: no rows")
    columns: dict[str, list[str]] = {name: [] for name in header}
    for line, row in enumerate(rows, start=2):
        if len(row) != len(header):
            raise ResultFormatError(f"{path}:{line}: {len(row)} fields, expected {len(header)}")
        for name, value in zip(header, row, strict=True):
            columns[name].append(value.strip())
    return columns


def _parse_labels(path: Path, values: list[str]) -> np.ndarray:
    try:
        labels = np.array([int(v) for v in values], dtype=np.int64)
    except ValueError as err:
        raise ResultFormatError(f"{path}: label must be 0 or 1: {err}") from err
    bad = np.flatnonzero((labels != 0) & (labels != 1))
    if bad.size:
        raise ResultFormatError(f"{path}:{bad[0] + 2}: label {labels[bad[0]]}, expected 0 or 1")
    return labels


def _parse_unit(path: Path, column: str, values: list[str]) -> np.ndarray:
    try:
        array = np.array([float(v) for v in values], dtype=np.float64)
    except ValueError as err:
        raise ResultFormatError(f"{path}: {column} must be a number: {err}") from err
    bad = np.flatnonzero(~((array >= 0.0) & (array <= 1.0)))
    if bad.size:
        raise ResultFormatError(
            f"{path}:{bad[0] + 2}: {column} {values[bad[0]]!r} is not in [0, 1]"
        )
    return array


def _check_video_labels(path: Path, videos: list[str], labels: np.ndarray) -> None:
    """Raise :class:`ResultFormatError` naming the videos whose rows disagree on the label."""
    lines: dict[str, list[int]] = {}
    for line, video in enumerate(videos, start=2):
        lines.setdefault(video, []).append(line)
    bad = {v: at for v, at in lines.items() if len({int(labels[i - 2]) for i in at}) > 1}
    if not bad:
        return
    shown = "; ".join(
        f"{v!r} on lines {', '.join(map(str, at[:3]))}{', ...' if len(at) > 3 else ''}"
        for v, at in list(bad.items())[:5]
    )
    more = f" and {len(bad) - 5} more" if len(bad) > 5 else ""
    raise ResultFormatError(
        f"{path}: {len(bad)} video id(s) with contradicting labels: {shown}{more}"
    )


def read_frame_results(path: str | Path) -> FrameResults:
    """Read a frame-level file ``video,frame,label,predict[,confidence]``."""
    path = Path(path)
    cols = _read_table(path, FRAME_COLUMNS)
    conf = cols.get(OPTIONAL_COLUMN)
    return FrameResults(
        videos=np.array(cols["video"], dtype=object),
        frames=np.array(cols["frame"], dtype=object),
        labels=_parse_labels(path, cols["label"]),
        scores=_parse_unit(path, "predict", cols["predict"]),
        confidences=None if conf is None else _parse_unit(path, OPTIONAL_COLUMN, conf),
    )


def read_results(path: str | Path, *, frames: bool = True) -> Results:
    """Read a video-level result file ``video,label,predict[,confidence]``.

    With ``frames=True`` the sibling ``<name>_frames.csv`` is loaded too when it exists.
    Raises :class:`ResultFormatError` with the file (and line) for anything malformed.
    """
    path = Path(path)
    if is_frame_results_path(path):
        raise ResultFormatError(
            f"{path}: a frame-level file; pass its video-level file "
            f"{path.stem[: -len(FRAMES_SUFFIX)]}{path.suffix}"
        )
    cols = _read_table(path, VIDEO_COLUMNS)
    conf = cols.get(OPTIONAL_COLUMN)
    frame_path = frame_results_path(path)
    labels = _parse_labels(path, cols["label"])
    _check_video_labels(path, cols["video"], labels)
    return Results(
        name=path.stem,
        videos=np.array(cols["video"], dtype=object),
        labels=labels,
        scores=_parse_unit(path, "predict", cols["predict"]),
        confidences=None if conf is None else _parse_unit(path, OPTIONAL_COLUMN, conf),
        frames=read_frame_results(frame_path) if frames and frame_path.is_file() else None,
        path=path,
    )


def _write_table(path: Path, header: list[str], columns: list[Sequence[Any]]) -> None:
    lengths = {len(c) for c in columns}
    if len(lengths) != 1:
        raise ValueError(f"columns have different lengths: {sorted(lengths)}")
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        for row in zip(*columns, strict=True):
            writer.writerow(
                repr(float(v)) if isinstance(v, float | np.floating) else v for v in row
            )


def write_results(
    path: str | Path,
    videos: Sequence[str],
    labels: Sequence[int],
    scores: Sequence[float],
    confidences: Sequence[float] | None = None,
) -> Path:
    """Write a video-level result file (``confidence`` column only when given)."""
    header = list(VIDEO_COLUMNS)
    columns: list[Sequence[Any]] = [
        list(videos),
        [int(v) for v in labels],
        [float(v) for v in scores],
    ]
    if confidences is not None:
        header.append(OPTIONAL_COLUMN)
        columns.append([float(v) for v in confidences])
    _write_table(Path(path), header, columns)
    return Path(path)


def write_frame_results(
    path: str | Path,
    videos: Sequence[str],
    frames: Sequence[int | str],
    labels: Sequence[int],
    scores: Sequence[float],
    confidences: Sequence[float] | None = None,
) -> Path:
    """Write a frame-level file; ``path`` is the *video-level* file it belongs beside."""
    target = frame_results_path(path)
    header = list(FRAME_COLUMNS)
    columns: list[Sequence[Any]] = [
        list(videos),
        list(frames),
        [int(v) for v in labels],
        [float(v) for v in scores],
    ]
    if confidences is not None:
        header.append(OPTIONAL_COLUMN)
        columns.append([float(v) for v in confidences])
    _write_table(target, header, columns)
    return target


# --------------------------------------------------------------------------------------------
# Individual metrics


def _as_arrays(labels: Any, scores: Any) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(labels, dtype=np.int64).ravel()
    s = np.asarray(scores, dtype=np.float64).ravel()
    if y.shape != s.shape:
        raise ValueError(f"{y.size} labels but {s.size} scores")
    if y.size == 0:
        raise ValueError("no predictions")
    return y, s


def has_both_classes(labels: Any) -> bool:
    """Whether ``labels`` contain both real (0) and fake (1)."""
    y = np.asarray(labels)
    return bool(np.any(y == 0) and np.any(y == 1))


def accuracy_at(labels: Any, scores: Any, threshold: float = 0.5) -> float:
    """Accuracy when a video is called fake iff ``score >= threshold``."""
    y, s = _as_arrays(labels, scores)
    return float(np.mean((s >= threshold).astype(np.int64) == y))


def confusion_at(labels: Any, scores: Any, threshold: float = 0.5) -> tuple[int, int, int, int]:
    """Confusion matrix ``(tn, fp, fn, tp)`` with fake iff ``score >= threshold``."""
    y, s = _as_arrays(labels, scores)
    pred = (s >= threshold).astype(np.int64)
    tn, fp, fn, tp = confusion_matrix(y, pred, labels=[0, 1]).ravel()
    return int(tn), int(fp), int(fn), int(tp)


def _roc(labels: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Full ROC (every distinct score is a point); first point is the empty set (t = inf)."""
    return roc_curve(labels, scores, drop_intermediate=False)


def equal_error_rate(labels: Any, scores: Any) -> tuple[float, float]:
    """Equal error rate and its threshold.

    The EER is where FNR = 1 - TPR meets FPR on the ROC curve, linearly interpolated between
    the two ROC points that bracket the crossing. Its threshold is the score of the first ROC
    point (highest threshold first) with ``FNR <= FPR``. ``(nan, nan)`` for a single class.
    """
    y, s = _as_arrays(labels, scores)
    if not has_both_classes(y):
        return math.nan, math.nan
    fpr, tpr, thresholds = _roc(y, s)
    gap = (1.0 - tpr) - fpr  # non-increasing along the curve, +1 at start, -1 at end
    i = int(np.argmax(gap <= 0))
    if gap[i] == 0 or i == 0:
        eer = fpr[i]
    else:
        frac = gap[i - 1] / (gap[i - 1] - gap[i])
        eer = fpr[i - 1] + frac * (fpr[i] - fpr[i - 1])
    return float(eer), float(thresholds[i])


def tpr_at_fpr(labels: Any, scores: Any, target_fpr: float) -> float:
    """Highest TPR of a threshold with FPR at most ``target_fpr`` (ROC points, no interpolation)."""
    y, s = _as_arrays(labels, scores)
    if not has_both_classes(y):
        return math.nan
    fpr, tpr, _ = _roc(y, s)
    return float(np.max(tpr[fpr <= target_fpr + 1e-12]))


def oracle_accuracy(labels: Any, scores: Any) -> tuple[float, float]:
    """Best accuracy over all thresholds and that threshold (the highest one on ties).

    Candidates are every distinct score (fake iff ``score >= t``) and ``inf`` (all real).
    """
    y, s = _as_arrays(labels, scores)
    order = np.argsort(-s, kind="stable")
    s_sorted, y_sorted = s[order], y[order]
    # Candidate thresholds: inf, then the distinct scores from the highest down; the fakes and
    # reals at or above each are cumulative counts at the last index of each distinct value.
    last = np.r_[np.flatnonzero(np.diff(s_sorted) != 0), s.size - 1]
    tp = np.r_[0, np.cumsum(y_sorted)[last]]
    fp = np.r_[0, np.cumsum(1 - y_sorted)[last]]
    n_real = int(np.sum(y == 0))
    acc = (tp + (n_real - fp)) / y.size
    best = int(np.argmax(acc))
    threshold = math.inf if best == 0 else float(s_sorted[last[best - 1]])
    return float(acc[best]), threshold


def safe_log_loss(labels: Any, scores: Any, eps: float = LOGLOSS_EPS) -> float:
    """Binary log loss with probabilities clipped to ``[eps, 1 - eps]``."""
    y, s = _as_arrays(labels, scores)
    if not has_both_classes(y):
        return math.nan
    return float(log_loss(y, np.clip(s, eps, 1.0 - eps), labels=[0, 1]))


def selective_accuracy(
    labels: Any, scores: Any, confidences: Any, c_min: float, threshold: float = 0.5
) -> tuple[float, float]:
    """Coverage (fraction with ``conf >= c_min``) and accuracy on that confident subset.

    The subset's accuracy is ``nan`` when no video is confident enough.
    """
    y, s = _as_arrays(labels, scores)
    c = np.asarray(confidences, dtype=np.float64).ravel()
    if c.shape != y.shape:
        raise ValueError(f"{y.size} labels but {c.size} confidences")
    keep = c >= c_min
    coverage = float(np.mean(keep))
    if not keep.any():
        return coverage, math.nan
    return coverage, accuracy_at(y[keep], s[keep], threshold)


def _auc(y: np.ndarray, s: np.ndarray) -> float:
    return float(roc_auc_score(y, s)) if has_both_classes(y) else math.nan


def _ap(y: np.ndarray, s: np.ndarray) -> float:
    return float(average_precision_score(y, s)) if has_both_classes(y) else math.nan


def _ratio(num: int, den: int) -> float:
    return num / den if den else math.nan


# --------------------------------------------------------------------------------------------
# All metrics of one set of predictions


@dataclass
class Metrics:
    """Every figure ``ffdetect metrics`` reports for one dataset (fractions, not percent).

    ``acc_threshold`` is the accuracy at a calibrated threshold ``threshold`` when one is given;
    ``coverage``/``confident_acc`` need confidences and ``c_min`` and use that threshold (0.5
    without one). ``confusion`` is ``(tn, fp, fn, tp)`` at 0.5; ``precision``/``recall`` too.
    """

    n: int
    n_real: int
    n_fake: int
    auc: float
    ap: float
    eer: float
    eer_threshold: float
    log_loss: float
    tpr_at_fpr_1: float
    tpr_at_fpr_5: float
    acc_05: float
    acc_oracle: float
    oracle_threshold: float
    confusion: tuple[int, int, int, int]
    precision: float
    recall: float
    threshold: float | None = None
    acc_threshold: float | None = None
    c_min: float | None = None
    coverage: float | None = None
    confident_acc: float | None = None
    frame_auc: float | None = None
    n_frames: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict; ``nan`` and ``inf`` become ``None``."""
        return {key: _json_value(value) for key, value in asdict(self).items()}


def _json_value(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, tuple):
        return list(value)
    return value


def compute_metrics(
    labels: Any,
    scores: Any,
    confidences: Any | None = None,
    *,
    threshold: float | None = None,
    c_min: float | None = None,
    frame_labels: Any | None = None,
    frame_scores: Any | None = None,
) -> Metrics:
    """Compute all video-level metrics (and frame AUC when frame predictions are given)."""
    y, s = _as_arrays(labels, scores)
    eer, eer_t = equal_error_rate(y, s)
    oracle, oracle_t = oracle_accuracy(y, s)
    tn, fp, fn, tp = confusion_at(y, s, 0.5)
    metrics = Metrics(
        n=int(y.size),
        n_real=int(np.sum(y == 0)),
        n_fake=int(np.sum(y == 1)),
        auc=_auc(y, s),
        ap=_ap(y, s),
        eer=eer,
        eer_threshold=eer_t,
        log_loss=safe_log_loss(y, s),
        tpr_at_fpr_1=tpr_at_fpr(y, s, 0.01),
        tpr_at_fpr_5=tpr_at_fpr(y, s, 0.05),
        acc_05=accuracy_at(y, s, 0.5),
        acc_oracle=oracle,
        oracle_threshold=oracle_t,
        confusion=(tn, fp, fn, tp),
        precision=_ratio(tp, tp + fp),
        recall=_ratio(tp, tp + fn),
    )
    if threshold is not None:
        metrics.threshold = float(threshold)
        metrics.acc_threshold = accuracy_at(y, s, threshold)
    if confidences is not None and c_min is not None:
        metrics.c_min = float(c_min)
        metrics.coverage, metrics.confident_acc = selective_accuracy(
            y, s, confidences, c_min, 0.5 if threshold is None else threshold
        )
    if frame_labels is not None and frame_scores is not None:
        fy, fs = _as_arrays(frame_labels, frame_scores)
        metrics.frame_auc = _auc(fy, fs)
        metrics.n_frames = int(fy.size)
    return metrics


def metrics_of(
    results: Results, *, threshold: float | None = None, c_min: float | None = None
) -> Metrics:
    """:func:`compute_metrics` of a loaded result file (frame AUC from its frames file)."""
    frames = results.frames
    return compute_metrics(
        results.labels,
        results.scores,
        results.confidences,
        threshold=threshold,
        c_min=c_min,
        frame_labels=None if frames is None else frames.labels,
        frame_scores=None if frames is None else frames.scores,
    )


# --------------------------------------------------------------------------------------------
# FaceForensics++ per-manipulation breakdown


def _path_parts(video: str) -> list[str]:
    return str(video).replace("\\", "/").split("/")


def ffpp_manipulation(video: str) -> str | None:
    """Manipulation method of an FF++ video path, ``None`` when it is not a manipulated one.

    FF++ fake videos sit under ``manipulated_sequences/<method>/<compression>/videos/``
    (for example ``.../manipulated_sequences/Face2Face/c23/videos/036_035``).
    """
    parts = _path_parts(video)
    for i, part in enumerate(parts[:-1]):
        if part == FFPP_FAKE_DIR:
            return parts[i + 1]
    return None


def is_ffpp(videos: Sequence[str] | np.ndarray) -> bool:
    """Whether video paths follow FF++'s layout (both real and manipulated sequences present)."""
    parts = [set(_path_parts(v)) for v in videos]
    return any(FFPP_FAKE_DIR in p for p in parts) and any(FFPP_REAL_DIR in p for p in parts)


def manipulation_subsets(results: Results) -> dict[str, np.ndarray]:
    """Row masks selecting each FF++ manipulation's fakes plus *all* real videos.

    Methods are taken from the paths (:func:`ffpp_manipulation`), in sorted order; the real
    videos are those labelled 0. Empty when the file is not FF++.
    """
    if not is_ffpp(results.videos):
        return {}
    methods = np.array([ffpp_manipulation(v) or "" for v in results.videos], dtype=object)
    real = results.labels == 0
    fake = results.labels == 1
    return {m: real | (fake & (methods == m)) for m in sorted({m for m in methods if m})}


def per_manipulation(
    results: Results, *, threshold: float | None = None, c_min: float | None = None
) -> dict[str, Metrics]:
    """Metrics of each FF++ manipulation's fake videos against all real videos."""
    out: dict[str, Metrics] = {}
    for method, keep in manipulation_subsets(results).items():
        conf = None if results.confidences is None else results.confidences[keep]
        out[method] = compute_metrics(
            results.labels[keep], results.scores[keep], conf, threshold=threshold, c_min=c_min
        )
    return out


@dataclass
class Row:
    """One line of a metrics report: a dataset or one of its FF++ manipulations."""

    name: str
    metrics: Metrics
    source: str
    labels: np.ndarray
    scores: np.ndarray
    parent: str | None = None


def evaluate_results(
    results: Results, *, threshold: float | None = None, c_min: float | None = None
) -> list[Row]:
    """The dataset's row followed by one row per FF++ manipulation (when FF++)."""
    source = str(results.path) if results.path else results.name
    metrics = metrics_of(results, threshold=threshold, c_min=c_min)
    rows = [Row(results.name, metrics, source, results.labels, results.scores)]
    for method, keep in manipulation_subsets(results).items():
        conf = None if results.confidences is None else results.confidences[keep]
        sub = compute_metrics(
            results.labels[keep], results.scores[keep], conf, threshold=threshold, c_min=c_min
        )
        name = f"{results.name}/{method}"
        rows.append(
            Row(name, sub, source, results.labels[keep], results.scores[keep], results.name)
        )
    return rows
