"""The shared classification head and the evidential quantities derived from its logits."""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn

EVIDENCE_CLAMP = 10.0


class ClassifierHead(nn.Module):
    """``h(x) = Linear(LayerNorm(x))`` with 2 outputs: 0 real, 1 fake (METHOD.md section 2)."""

    def __init__(self, embed_dim: int, num_classes: int = 2) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(embed_dim)
        self.fc = nn.Linear(embed_dim, num_classes)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.fc(self.norm(features))


class Evidence(NamedTuple):
    """Dirichlet evidence of one set of logits."""

    alpha: torch.Tensor  # (B, K) Dirichlet parameters, evidence + 1
    strength: torch.Tensor  # (B,) S = sum_k alpha_k
    prob: torch.Tensor  # (B, K) expected probability alpha / S
    uncertainty: torch.Tensor  # (B,) u = K / S in (0, 1]


def evidence_from_logits(logits: torch.Tensor) -> Evidence:
    """Evidential quantities: ``e = exp(clamp(z, -10, 10))``, ``alpha = e + 1``, ``u = K / S``."""
    evidence = torch.exp(torch.clamp(logits, -EVIDENCE_CLAMP, EVIDENCE_CLAMP))
    alpha = evidence + 1.0
    strength = alpha.sum(dim=-1)
    prob = alpha / strength.unsqueeze(-1)
    uncertainty = logits.shape[-1] / strength
    return Evidence(alpha=alpha, strength=strength, prob=prob, uncertainty=uncertainty)


def confidence_from_logits(logits: torch.Tensor) -> torch.Tensor:
    """Per-sample confidence ``1 - u`` used by the decision rule (METHOD.md section 3)."""
    return 1.0 - evidence_from_logits(logits).uncertainty


def scores_from_logits(logits: torch.Tensor) -> tuple[list[float], list[float]]:
    """``p_fake`` (softmax of class 1) and confidence of each row, as Python floats."""
    logits = logits.float()
    p_fake = torch.softmax(logits, dim=-1)[:, 1]
    return p_fake.cpu().tolist(), confidence_from_logits(logits).cpu().tolist()
