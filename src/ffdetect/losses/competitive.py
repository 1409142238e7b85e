"""The combined loss of the competitive two-branch framework (METHOD.md section 2).

``L = w_ce CE(z, y) + w_main EDL(z1, y, t) + w_comp EDL(z2, y, t) + w_rho rho(stopgrad(c1), c2)``
with every weight 1 by default.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ffdetect.config import ConfigError
from ffdetect.losses.correlation import PEARSON_STD, pearson_correlation
from ffdetect.losses.evidential import ANNEALING, evidential_loss
from ffdetect.models.detector import CompetitiveOutput


@dataclass
class LossWeights:
    """Weights of the four terms and the optional KL regulariser of the evidential losses, how
    the AvU coefficient anneals (:data:`~ffdetect.losses.evidential.ANNEALING`) and which
    standard deviation the correlation uses (:data:`~ffdetect.losses.correlation.PEARSON_STD`).
    """

    ce: float = 1.0
    edl_main: float = 1.0
    edl_competitor: float = 1.0
    correlation: float = 1.0
    kl: float = 0.0
    avu_annealing: str = "epoch"
    pearson_std: str = "biased"

    def __post_init__(self) -> None:
        if self.avu_annealing not in ANNEALING:
            raise ConfigError(
                f"loss.avu_annealing must be one of {ANNEALING}, got {self.avu_annealing!r}"
            )
        if self.pearson_std not in PEARSON_STD:
            raise ConfigError(
                f"loss.pearson_std must be one of {PEARSON_STD}, got {self.pearson_std!r}"
            )


class CompetitiveLoss(nn.Module):
    """Total loss and its named terms for logging."""

    def __init__(self, weights: LossWeights | None = None) -> None:
        super().__init__()
        self.weights = weights or LossWeights()

    def forward(
        self, out: CompetitiveOutput, target: torch.Tensor, progress: float
    ) -> tuple[torch.Tensor, dict[str, float]]:
        w = self.weights
        ce = F.cross_entropy(out.fused, target)
        edl_main = evidential_loss(out.main, target, progress, w.kl)
        edl_comp = evidential_loss(out.competitor, target, progress, w.kl)
        rho = pearson_correlation(out.main_features, out.competitor_features, w.pearson_std)
        total = (
            w.ce * ce
            + w.edl_main * edl_main.total
            + w.edl_competitor * edl_comp.total
            + w.correlation * rho
        )
        terms = {
            "loss": total.item(),
            "ce_fused": ce.item(),
            "edl_main": edl_main.total.item(),
            "edl_competitor": edl_comp.total.item(),
            "avu_main": edl_main.avu.item(),
            "avu_competitor": edl_comp.avu.item(),
            "rho": rho.item(),
            "fusion_w_main": out.fusion_weights[:, 0].mean().item(),
        }
        return total, terms
