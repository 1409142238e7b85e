"""Feature correlation penalty that pushes the competitor away from the main branch's cues."""

from __future__ import annotations

import torch

EPS = 1e-8
#: ``biased``: the exact Pearson correlation (covariance and standard deviations over D).
#: ``unbiased``: the authors' form, covariance over D but unbiased (D - 1) standard deviations,
#: which is the exact value times (D - 1) / D.
PEARSON_STD = ("biased", "unbiased")


def pearson_correlation(
    main_features: torch.Tensor, competitor_features: torch.Tensor, std: str = "biased"
) -> torch.Tensor:
    """``rho(stopgrad(c1), c2)``: Pearson correlation across feature dims, batch mean, in [-1, 1].

    The main branch's features are detached, so the gradient reaches only the competitor.
    ``std`` is one of :data:`PEARSON_STD`.
    """
    if std not in PEARSON_STD:
        raise ValueError(f"std must be one of {PEARSON_STD}, got {std!r}")
    c1 = main_features.detach()
    c2 = competitor_features
    c1 = c1 - c1.mean(dim=-1, keepdim=True)
    c2 = c2 - c2.mean(dim=-1, keepdim=True)
    rho = (c1 * c2).sum(dim=-1) / (c1.norm(dim=-1) * c2.norm(dim=-1) + EPS)
    if std == "unbiased":
        dim = c1.shape[-1]
        rho = rho * (dim - 1) / dim
    return torch.clamp(rho.mean(), -1.0, 1.0)
