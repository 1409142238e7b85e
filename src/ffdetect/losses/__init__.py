"""Training objectives: evidential loss, feature correlation, the competitive combination."""

from ffdetect.losses.competitive import CompetitiveLoss, LossWeights
from ffdetect.losses.correlation import pearson_correlation
from ffdetect.losses.evidential import (
    EvidentialLoss,
    annealing_progress,
    avu_lambda,
    evidential_loss,
)

__all__ = [
    "CompetitiveLoss",
    "EvidentialLoss",
    "LossWeights",
    "annealing_progress",
    "avu_lambda",
    "evidential_loss",
    "pearson_correlation",
]
