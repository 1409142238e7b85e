"""Feature correlation penalty that pushes the competitor away from the main branch's cues."""

from __future__ import annotations

import torch

EPS = 1e-8


def pearson_correlation(
    main_features: torch.Tensor, competitor_features: torch.Tensor
) -> torch.Tensor:
    """``rho(stopgrad(c1), c2)``: Pearson correlation across feature dims, batch mean, in [-1, 1].

    The main branch's features are detached, so the gradient reaches only the competitor.
    """
    c1 = main_features.detach()
    c2 = competitor_features
    c1 = c1 - c1.mean(dim=-1, keepdim=True)
    c2 = c2 - c2.mean(dim=-1, keepdim=True)
    rho = (c1 * c2).sum(dim=-1) / (c1.norm(dim=-1) * c2.norm(dim=-1) + EPS)
    return torch.clamp(rho.mean(), -1.0, 1.0)
