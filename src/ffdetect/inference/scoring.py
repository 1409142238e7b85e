"""Batched face scoring: ``p_fake`` and evidential confidence per crop."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from ffdetect.checkpoint.metadata import ModelMeta
from ffdetect.inference.preprocess import crops_to_tensor
from ffdetect.models.detector import Detector, FusedDetector
from ffdetect.models.heads import scores_from_logits


@dataclass(frozen=True)
class FaceScore:
    """The model's answer for one face crop."""

    p_fake: float
    confidence: float


class NonFiniteScoresError(RuntimeError):
    """The model produced NaN or infinite outputs: the model is broken, not the input."""


def check_finite(scores: Sequence[FaceScore]) -> None:
    """Raise :class:`NonFiniteScoresError` when any score or confidence is NaN or infinite."""
    bad = sum(not (math.isfinite(s.p_fake) and math.isfinite(s.confidence)) for s in scores)
    if bad:
        raise NonFiniteScoresError(
            f"the model produced NaN (non-finite outputs) for {bad} of {len(scores)} faces of "
            "this input: its weights are broken; retrain it or load another checkpoint"
        )


def as_meta_scores(detector: Detector, meta: ModelMeta) -> Detector:
    """``detector`` in eval mode with ``meta``'s ``flip_average``; ``ValueError`` when it is not
    the network ``meta`` describes (a main branch for a fused model or the other way round),
    whose scores would not match the model's calibration."""
    if isinstance(detector, FusedDetector) != meta.fused:
        scores = "the fused prediction" if meta.fused else "the main branch"
        raise ValueError(
            f"the model scores with {scores} but got a {type(detector).__name__}: load it with "
            "ffdetect.load_detector"
        )
    return detector.with_flip_average(meta.flip_average).eval()


@torch.inference_mode()
def score_crops(
    detector: Detector, meta: ModelMeta, crops: Sequence[np.ndarray], batch_size: int = 32
) -> list[FaceScore]:
    """Score RGB uint8 face crops in batches; returns one :class:`FaceScore` per crop.

    ``meta`` decides the scoring (its size, normalisation and ``flip_average``).
    """
    detector = as_meta_scores(detector, meta)
    device = next(detector.parameters()).device
    scores: list[FaceScore] = []
    for start in range(0, len(crops), batch_size):
        images = crops_to_tensor(crops[start : start + batch_size], meta).to(device)
        logits = detector(images).float()
        p_fake, conf = scores_from_logits(logits)
        scores.extend(FaceScore(p, c) for p, c in zip(p_fake, conf, strict=True))
    return scores
