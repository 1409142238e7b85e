"""Measuring: metrics of result files and the confidence-based decision rule (METHOD.md 3, 5)."""

from ffdetect.evaluation.calibration import (
    aggregate_frames,
    calibrate,
    calibrate_from_results,
    choose_c_min,
    decide,
    video_score,
)
from ffdetect.evaluation.metrics import (
    FrameResults,
    Metrics,
    ResultFormatError,
    Results,
    compute_metrics,
    evaluate_results,
    per_manipulation,
    read_frame_results,
    read_results,
    write_frame_results,
    write_results,
)

__all__ = [
    "FrameResults",
    "Metrics",
    "ResultFormatError",
    "Results",
    "aggregate_frames",
    "calibrate",
    "calibrate_from_results",
    "choose_c_min",
    "compute_metrics",
    "decide",
    "evaluate_results",
    "per_manipulation",
    "read_frame_results",
    "read_results",
    "video_score",
    "write_frame_results",
    "write_results",
]
