"""Evidential deep learning loss with the accuracy-versus-uncertainty term (METHOD.md section 2).

For one-hot ``y``, logits ``z`` and training progress ``t / T``:

* classification term (log type): ``sum_k y_k (log S - log alpha_k)``;
* AvU term: ``lambda_t [correct] (-p_max log(1 - u + 1e-10))
  + (1 - lambda_t) [wrong] (-(1 - p_max) log(u + 1e-10))`` with ``lambda_t = 0.01 ** (1 - t/T)``;
* optional KL term (off by default): ``KL(Dir(alpha~) || Dir(1))`` of the misleading evidence,
  ``alpha~ = y + (1 - y) alpha``, weighted by ``kl_weight * min(1, t / T)``.

Every term is averaged over the batch.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ffdetect.models.heads import evidence_from_logits

EPS = 1e-10


#: How ``t / T`` advances: ``epoch`` (METHOD.md's "epoch t of T" and the authors' code:
#: ``t = e`` for the e-th epoch, e = 1..T, constant within an epoch) or ``continuous``
#: (fractional epochs, ``t = e - 1 + i / steps`` at update i of the e-th epoch).
ANNEALING = ("epoch", "continuous")


def avu_lambda(progress: float) -> float:
    """Annealing coefficient ``lambda_t = 0.01 ** (1 - t / T)`` for ``progress = t / T``."""
    return 0.01 ** (1.0 - min(max(progress, 0.0), 1.0))


def annealing_progress(
    mode: str, epoch: int, epochs: int, step_in_epoch: int, steps_per_epoch: int
) -> float:
    """``t / T`` at update ``step_in_epoch`` of 0-based ``epoch`` (see :data:`ANNEALING`)."""
    if mode == "epoch":
        return (epoch + 1) / max(1, epochs)
    if mode == "continuous":
        return (epoch + step_in_epoch / max(1, steps_per_epoch)) / max(1, epochs)
    raise ValueError(f"annealing must be one of {ANNEALING}, got {mode!r}")


def dirichlet_kl_to_uniform(alpha: torch.Tensor) -> torch.Tensor:
    """``KL(Dir(alpha) || Dir(1, ..., 1))`` per sample."""
    num_classes = alpha.shape[-1]
    strength = alpha.sum(dim=-1)
    log_norm = (
        torch.lgamma(strength)
        - torch.lgamma(alpha).sum(dim=-1)
        - torch.lgamma(torch.tensor(float(num_classes), device=alpha.device))
    )
    digamma_term = (
        (alpha - 1.0) * (torch.digamma(alpha) - torch.digamma(strength).unsqueeze(-1))
    ).sum(dim=-1)
    return log_norm + digamma_term


@dataclass
class EvidentialTerms:
    """The parts of one evidential loss evaluation (each already batch-averaged)."""

    total: torch.Tensor
    classification: torch.Tensor
    avu: torch.Tensor
    kl: torch.Tensor


def evidential_loss(
    logits: torch.Tensor,
    target: torch.Tensor,
    progress: float,
    kl_weight: float = 0.0,
) -> EvidentialTerms:
    """Evidential loss of ``logits`` (B, K) for integer ``target`` (B,) at ``progress = t/T``."""
    num_classes = logits.shape[-1]
    one_hot = F.one_hot(target.long(), num_classes).to(logits.dtype)
    ev = evidence_from_logits(logits)
    classification = (one_hot * (torch.log(ev.strength).unsqueeze(-1) - torch.log(ev.alpha))).sum(
        -1
    )

    p_max, pred = ev.prob.max(dim=-1)
    correct = (pred == target).to(logits.dtype)
    lam = avu_lambda(progress)
    avu = lam * correct * (-p_max * torch.log(1.0 - ev.uncertainty + EPS)) + (1.0 - lam) * (
        1.0 - correct
    ) * (-(1.0 - p_max) * torch.log(ev.uncertainty + EPS))

    if kl_weight > 0:
        misleading = one_hot + (1.0 - one_hot) * ev.alpha
        kl = kl_weight * min(1.0, max(progress, 0.0)) * dirichlet_kl_to_uniform(misleading)
    else:
        kl = torch.zeros_like(classification)

    classification, avu, kl = classification.mean(), avu.mean(), kl.mean()
    return EvidentialTerms(
        total=classification + avu + kl, classification=classification, avu=avu, kl=kl
    )


class EvidentialLoss(nn.Module):
    """Module wrapper of :func:`evidential_loss` returning the total."""

    def __init__(self, kl_weight: float = 0.0) -> None:
        super().__init__()
        self.kl_weight = kl_weight

    def forward(self, logits: torch.Tensor, target: torch.Tensor, progress: float) -> torch.Tensor:
        return evidential_loss(logits, target, progress, self.kl_weight).total
