"""Presentation attack detection metrics (ISO/IEC 30107-3 vocabulary) from result files.

Scores are the result files' ``predict`` = P(attack) (the model's class 1), labels 1 = attack,
0 = bona fide. At a threshold ``t`` a video is classified *attack* when ``predict >= t``
(the same rule as deepfake metrics and ``detect``), else *bona fide*:

- ``APCER[type]``: fraction of that type's attack videos classified bona fide;
  ``APCER`` (ISO) = the worst type's; ``APCER pooled`` = over all attack videos;
- ``BPCER``: fraction of bona fide videos classified attack;
- ``ACER = (APCER + BPCER) / 2`` with the worst-type APCER (the OULU-NPU protocols' figure);
- ``HTER = (APCER pooled + BPCER) / 2`` (the cross-domain protocols' figure);
- ``EER`` and ``AUC`` are threshold-free (the ROC of :mod:`ffdetect.evaluation.metrics`).

The threshold is chosen on the development set (``ffdetect calibrate`` on validation results,
by default the development EER threshold for PAD models, or ``--dev``), or given; where none is
available, the test set's own EER threshold is used and the report says so (an optimistic
figure: the threshold has seen the test labels). Every row also carries ``hter_test_eer``, the
HTER at the test set's EER threshold: the *field convention* of most cross-domain (OCIM)
papers, reported for comparison with them only (optimistic for the same reason).
With ``c_min`` (abstention, as for deepfakes) each row reports its ``coverage`` and a row
``name/confident`` holds the figures of the videos with confidence >= ``c_min``.
Attack types come from the prepared data's ``videos.csv`` (its ``method`` column).
OULU-NPU protocols 3 and 4 are reported as mean +- std over their six folds
(:func:`fold_summary`; ``ffdetect metrics --task pad --folds``).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ffdetect.evaluation.metrics import (
    Results,
    _as_arrays,
    _auc,
    equal_error_rate,
    has_both_classes,
)
from ffdetect.evaluation.report import Column, _num, _pct

__all__ = [
    "FIELD_CONVENTION",
    "PAD_COLUMNS",
    "PadMetrics",
    "PadRow",
    "attack_types_of",
    "dev_threshold",
    "evaluate_pad_results",
    "fold_summary",
    "pad_metrics",
    "pad_notes",
    "pad_report",
    "threshold_source_of",
]

THRESHOLD_GIVEN = "given"
THRESHOLD_DEV = "development set"
THRESHOLD_DEV_EER = "development EER threshold"
THRESHOLD_DEV_BALANCED = "development set (maximal balanced accuracy)"
THRESHOLD_TEST_EER = "test EER (no development threshold)"
FIELD_CONVENTION = "field convention (test-EER threshold, optimistic)"
#: Figures averaged over folds by :func:`fold_summary`.
FOLD_FIGURES = ("apcer", "bpcer", "acer", "hter", "eer", "auc")


@dataclass
class PadMetrics:
    """PAD figures of one set of videos at one threshold (fractions, not percent)."""

    n: int
    n_bonafide: int
    n_attack: int
    auc: float
    eer: float
    eer_threshold: float
    threshold: float
    threshold_source: str
    apcer: float  # worst attack type (ISO)
    apcer_pooled: float
    bpcer: float
    acer: float
    hter: float
    hter_test_eer: float = math.nan  # at the test EER threshold: FIELD_CONVENTION
    worst_type: str | None = None
    apcer_per_type: dict[str, float] = field(default_factory=dict)
    n_per_type: dict[str, int] = field(default_factory=dict)
    coverage: float | None = None  # with c_min: fraction of videos with confidence >= c_min

    @property
    def n_real(self) -> int:
        """Bona fide count (the name the shared ROC plot reads)."""
        return self.n_bonafide

    @property
    def n_fake(self) -> int:
        """Attack count (the name the shared ROC plot reads)."""
        return self.n_attack

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict; ``nan`` becomes ``None``."""
        return {
            k: (None if isinstance(v, float) and not math.isfinite(v) else v)
            for k, v in asdict(self).items()
        }


def _rate(mask: np.ndarray) -> float:
    return float(mask.mean()) if mask.size else math.nan


def pad_metrics(
    labels: Any,
    scores: Any,
    attack_types: Any | None = None,
    threshold: float | None = None,
    threshold_source: str = THRESHOLD_GIVEN,
) -> PadMetrics:
    """All PAD figures; without ``threshold`` the EER threshold of these scores is used.

    ``attack_types`` (one per video; ignored for bona fide videos) gives the per-type APCERs;
    without it every attack is one type, ``attack``.
    """
    y, s = _as_arrays(labels, scores)
    eer, eer_t = equal_error_rate(y, s)
    if threshold is None:
        if not has_both_classes(y):
            raise ValueError("no threshold given and one class is missing: EER undefined")
        threshold, threshold_source = eer_t, THRESHOLD_TEST_EER
    types = (
        np.array(["attack"] * y.size, dtype=object)
        if attack_types is None
        else np.asarray(attack_types, dtype=object)
    )
    if types.shape != y.shape:
        raise ValueError(f"{y.size} labels but {types.size} attack types")
    accepted = s < threshold  # classified bona fide
    attack = y == 1
    per_type = {str(t): _rate(accepted[attack & (types == t)]) for t in sorted(set(types[attack]))}
    counts = {str(t): int(np.sum(attack & (types == t))) for t in per_type}
    worst = max(per_type, key=lambda t: per_type[t], default=None)
    apcer = per_type[worst] if worst is not None else math.nan
    pooled = _rate(accepted[attack])
    bpcer = _rate(~accepted[y == 0])
    at_eer = s < eer_t if math.isfinite(eer_t) else None
    hter_eer = (
        (_rate(at_eer[attack]) + _rate(~at_eer[y == 0])) / 2 if at_eer is not None else math.nan
    )
    return PadMetrics(
        n=int(y.size),
        n_bonafide=int(np.sum(y == 0)),
        n_attack=int(attack.sum()),
        auc=_auc(y, s),
        eer=eer,
        eer_threshold=eer_t,
        threshold=float(threshold),
        threshold_source=threshold_source,
        apcer=apcer,
        apcer_pooled=pooled,
        bpcer=bpcer,
        acer=(apcer + bpcer) / 2,
        hter=(pooled + bpcer) / 2,
        hter_test_eer=hter_eer,
        worst_type=worst,
        apcer_per_type=per_type,
        n_per_type=counts,
    )


def attack_types_of(videos: Any, prepared: str | Path) -> np.ndarray:
    """The attack type (``method`` column of ``PREP/videos.csv``) of each video id."""
    from ffdetect.data.manifest import read_csv

    path = Path(prepared) / "videos.csv"
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: --data takes a prepared directory")
    method = {r["video_id"]: r["method"] for r in read_csv(path)}
    missing = [v for v in videos if str(v) not in method]
    if missing:
        raise ValueError(f"{len(missing)} result videos are not in {path} (first: {missing[:3]})")
    return np.array([method[str(v)] for v in videos], dtype=object)


@dataclass
class PadRow:
    """One line of a PAD report: a dataset, or its bona fide videos against one attack type."""

    name: str
    metrics: PadMetrics
    source: str
    labels: np.ndarray
    scores: np.ndarray
    parent: str | None = None


def evaluate_pad_results(
    results: Results,
    attack_types: Any | None = None,
    threshold: float | None = None,
    threshold_source: str = THRESHOLD_GIVEN,
    c_min: float | None = None,
) -> list[PadRow]:
    """The dataset's row, then one row per attack type (its attacks + all bona fide videos),
    all at the dataset row's threshold; with ``c_min`` > 0 also ``name/confident`` (the videos
    whose confidence is at least ``c_min``; every row then reports its coverage)."""
    source = str(results.path) if results.path else results.name
    y, s = results.labels, results.scores
    whole = pad_metrics(y, s, attack_types, threshold, threshold_source)
    rows = [PadRow(results.name, whole, source, y, s)]
    types = None if attack_types is None else np.asarray(attack_types, dtype=object)
    if types is not None and len(whole.apcer_per_type) >= 2:
        for t in whole.apcer_per_type:
            keep = (y == 0) | ((y == 1) & (types == t))
            sub = pad_metrics(
                y[keep], s[keep], types[keep], whole.threshold, whole.threshold_source
            )
            rows.append(PadRow(f"{results.name}/{t}", sub, source, y[keep], s[keep], results.name))
    if c_min is None or c_min <= 0:
        return rows
    if results.confidences is None:
        raise ValueError(f"{source} has no confidence column: abstention (c_min) needs one")
    confident = results.confidences >= c_min
    for r in rows:
        keep = confident if r.parent is None else confident[_row_mask(r, y, types)]
        r.metrics.coverage = float(keep.mean()) if keep.size else math.nan
    ys, ss = y[confident], s[confident]
    sub_types = None if types is None else types[confident]
    sub = pad_metrics(ys, ss, sub_types, whole.threshold, whole.threshold_source)
    sub.coverage = float(confident.mean())
    rows.insert(1, PadRow(f"{results.name}/confident", sub, source, ys, ss, results.name))
    return rows


def _row_mask(row: PadRow, y: np.ndarray, types: np.ndarray | None) -> np.ndarray:
    """The videos of an attack type row: its attacks and all bona fide videos."""
    t = row.name.rsplit("/", 1)[-1]
    return (y == 0) | ((y == 1) & (types == t)) if types is not None else np.ones_like(y, bool)


def _types_cell(m: PadMetrics) -> str:
    return " ".join(f"{t}:{_pct(v)}" for t, v in m.apcer_per_type.items()) or "-"


PAD_COLUMNS: tuple[Column, ...] = (
    Column("N bf/att", lambda m: f"{m.n_bonafide}/{m.n_attack}"),
    Column("AUC %", lambda m: _pct(m.auc)),
    Column("EER %", lambda m: _pct(m.eer)),
    Column("thr", lambda m: _num(m.threshold)),
    Column("APCER %", lambda m: _pct(m.apcer)),
    Column("BPCER %", lambda m: _pct(m.bpcer)),
    Column("ACER %", lambda m: _pct(m.acer)),
    Column("HTER %", lambda m: _pct(m.hter)),
    Column("APCER per type %", _types_cell),
    Column("HTER@test-EER %", lambda m: _pct(m.hter_test_eer)),
    Column("cov %", lambda m: _pct(m.coverage), optional=lambda m: m.coverage),
)

#: The conventions every PAD report states (printed under the table only in metrics.md).
PAD_GENERAL_NOTES = (
    "Video level; percent. A video is an attack when P(attack) >= thr.",
    "APCER: worst attack type (ISO/IEC 30107-3); ACER = (APCER + BPCER) / 2; "
    "HTER = (APCER over all attacks + BPCER) / 2.",
    "Rows `name/type` score that attack type's videos against all bona fide videos.",
    f"HTER@test-EER: {FIELD_CONVENTION}: the HTER at the test set's own EER threshold, as most "
    "cross-domain papers report it; for comparison with them only, the threshold has seen the "
    "test labels. The other columns use thr.",
)


def pad_notes(rows: list[PadRow], typed: bool) -> list[str]:
    """Conventions stated under the PAD table, including where each threshold came from."""
    notes = list(PAD_GENERAL_NOTES)
    for r in rows:
        if r.parent is None:
            notes.append(
                f"{r.name}: threshold {r.metrics.threshold:g} ({r.metrics.threshold_source})."
            )
    if any(r.metrics.coverage is not None for r in rows):
        notes.append(
            "cov: fraction of videos with confidence >= c_min; `name/confident` rows score only "
            "those (abstention, as for deepfakes)."
        )
    if not typed:
        notes.append("Attack types unknown (pass --data PREP): all attacks count as one type.")
    return notes


def threshold_source_of(method: str) -> str:
    """How a calibration's threshold rule is named in PAD reports."""
    return {
        "eer": THRESHOLD_DEV_EER,
        "balanced_accuracy": THRESHOLD_DEV_BALANCED,
        "target_fpr": "development set (target BPCER)",
    }.get(method, THRESHOLD_DEV)


def dev_threshold(dev_results: str | Path, rule: str = "eer") -> float:
    """The threshold ``ffdetect calibrate --rule RULE`` chooses on development results
    (default: the development EER threshold, the OULU-NPU / Replay-Attack convention).

    Scores are the result file's ``predict`` column, the same scores the test side reads
    (not rescored from its frames)."""
    from ffdetect.evaluation.calibration import calibrate_from_results

    return calibrate_from_results(dev_results, rule=rule, from_frames=False).threshold


def fold_summary(folds: list[PadMetrics], ddof: int = 1) -> dict[str, dict[str, float]]:
    """Mean and standard deviation (``ddof=1``: the sample std) of :data:`FOLD_FIGURES` over the
    folds of one protocol (OULU-NPU protocols 3 and 4: six folds)."""
    if len(folds) < 2:
        raise ValueError(f"mean +- std over folds needs at least 2 folds, got {len(folds)}")
    out = {}
    for key in FOLD_FIGURES:
        v = np.array([getattr(m, key) for m in folds], dtype=np.float64)
        out[key] = {"mean": float(np.mean(v)), "std": float(np.std(v, ddof=ddof))}
    return out


def fold_line(summary: dict[str, dict[str, float]], n: int) -> str:
    """``APCER 1.2 +- 0.5, ...`` (percent) of :func:`fold_summary`."""
    parts = [f"{k.upper()} {_pct(v['mean'])} +- {_pct(v['std'])}" for k, v in summary.items()]
    return f"mean +- std over {n} folds (percent, sample std): " + ", ".join(parts)


def pad_report(
    results: list[Results],
    *,
    threshold: float | None = None,
    threshold_source: str = THRESHOLD_GIVEN,
    prepared: str | Path | None = None,
    out: Path | None = None,
    console: Any | None = None,
    c_min: float | None = None,
    thresholds: list[float | None] | None = None,
    folds: bool = False,
) -> list[PadRow]:
    """Print the PAD table of result files (and write ``metrics.md/json``, ``roc.png`` to
    ``out``); attack types from ``prepared``'s ``videos.csv`` when given.

    ``thresholds`` gives one threshold per result file (e.g. each fold's development
    threshold) instead of ``threshold``. ``folds``: the files are the folds of one protocol;
    mean +- std over them is printed and written (``folds.json``).
    """
    import json

    from rich.console import Console

    from ffdetect.evaluation.report import print_table, write_report

    if thresholds is not None and len(thresholds) != len(results):
        raise ValueError(f"{len(thresholds)} thresholds for {len(results)} result files")
    rows: list[PadRow] = []
    for i, r in enumerate(results):
        types = attack_types_of(r.videos, prepared) if prepared is not None else None
        t = thresholds[i] if thresholds is not None else threshold
        rows += evaluate_pad_results(r, types, t, threshold_source, c_min)
    console = console or Console()
    print_table(rows, console, PAD_COLUMNS, "Presentation attack detection (video level)")
    notes = pad_notes(rows, prepared is not None)
    summary = None
    if folds:
        tops = [r.metrics for r in rows if r.parent is None]
        summary = fold_summary(tops)
        notes.append(fold_line(summary, len(tops)))
    for note in notes:
        if note not in PAD_GENERAL_NOTES:
            console.print(f"note: {note}")
    if out is not None:
        write_report(rows, out, threshold, columns=PAD_COLUMNS, notes=notes)
        if summary is not None:
            doc = {"n_folds": len(results), "std": "sample (ddof=1)", "figures": summary}
            (out / "folds.json").write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    return rows
