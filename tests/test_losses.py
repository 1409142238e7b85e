"""Loss values against hand-computed numbers, and the gradient paths of the competitive loss."""

from __future__ import annotations

import math

import pytest
import torch

from ffdetect.losses import (
    CompetitiveLoss,
    LossWeights,
    avu_lambda,
    evidential_loss,
    pearson_correlation,
)
from ffdetect.models import CompetitiveDetector


def test_avu_lambda_anneals_from_001_to_1() -> None:
    assert avu_lambda(0.0) == pytest.approx(0.01)
    assert avu_lambda(0.5) == pytest.approx(0.1)
    assert avu_lambda(1.0) == pytest.approx(1.0)


def test_evidential_loss_matches_hand_computation() -> None:
    # Sample 1: z = [0, ln 3] -> alpha = [2, 4], S = 6, p = [1/3, 2/3], u = 1/3; target 1, correct.
    # Sample 2: z = [ln 2, 0] -> alpha = [3, 2], S = 5, p = [0.6, 0.4], u = 0.4; target 1, wrong.
    logits = torch.tensor([[0.0, math.log(3.0)], [math.log(2.0), 0.0]], dtype=torch.float64)
    target = torch.tensor([1, 1])
    lam = 0.1  # 0.01 ** (1 - 0.5)
    cls1, cls2 = math.log(6 / 4), math.log(5 / 2)
    avu1 = lam * (-(2 / 3) * math.log(1 - 1 / 3 + 1e-10))
    avu2 = (1 - lam) * (-(1 - 0.6) * math.log(0.4 + 1e-10))
    terms = evidential_loss(logits, target, progress=0.5)
    assert terms.classification.item() == pytest.approx((cls1 + cls2) / 2, abs=1e-9)
    assert terms.avu.item() == pytest.approx((avu1 + avu2) / 2, abs=1e-9)
    assert terms.kl.item() == 0.0
    assert terms.total.item() == pytest.approx((cls1 + cls2 + avu1 + avu2) / 2, abs=1e-9)


def test_evidential_kl_term_is_optional_and_zero_for_perfect_evidence() -> None:
    logits = torch.tensor([[-10.0, 10.0], [0.0, 0.0]], dtype=torch.float64)
    target = torch.tensor([1, 0])
    off = evidential_loss(logits, target, progress=1.0)
    on = evidential_loss(logits, target, progress=1.0, kl_weight=1.0)
    # Sample 2 carries misleading evidence (alpha~ = [1, 2]): KL(Dir(1,2) || Dir(1,1)) = ln 2 - 1/2.
    expected_kl = (0.0 + (math.log(2.0) - 0.5)) / 2
    assert on.kl.item() == pytest.approx(expected_kl, abs=1e-6)
    assert on.total.item() == pytest.approx(off.total.item() + expected_kl, abs=1e-6)


def test_pearson_correlation_values_and_range() -> None:
    c1 = torch.tensor([[1.0, 2.0, 3.0], [1.0, 2.0, 3.0]])
    assert pearson_correlation(c1, 2 * c1 + 5).item() == pytest.approx(1.0, abs=1e-6)
    assert pearson_correlation(c1, -c1).item() == pytest.approx(-1.0, abs=1e-6)
    mixed = torch.stack([2 * c1[0], -c1[1]])
    assert pearson_correlation(c1, mixed).item() == pytest.approx(0.0, abs=1e-6)
    rho = pearson_correlation(torch.randn(16, 64), torch.randn(16, 64))
    assert -1.0 <= rho.item() <= 1.0


def test_pearson_correlation_gives_no_gradient_to_the_main_branch() -> None:
    c1 = torch.randn(4, 8, requires_grad=True)
    c2 = torch.randn(4, 8, requires_grad=True)
    pearson_correlation(c1, c2).backward()
    assert c1.grad is None
    assert c2.grad is not None and c2.grad.abs().sum() > 0


def test_competitive_loss_backpropagates_into_both_branches_and_the_head(tiny_arch) -> None:
    model = CompetitiveDetector.build(tiny_arch)
    images = torch.randn(4, 3, tiny_arch.img_size, tiny_arch.img_size)
    target = torch.tensor([0, 1, 1, 0])
    total, terms = CompetitiveLoss()(model(images), target, progress=0.3)
    total.backward()
    assert set(terms) >= {"loss", "ce_fused", "edl_main", "edl_competitor", "rho"}
    assert terms["loss"] == pytest.approx(
        terms["ce_fused"] + terms["edl_main"] + terms["edl_competitor"] + terms["rho"], rel=1e-5
    )
    for name, module in (
        ("main", model.main),
        ("competitor", model.competitor),
        ("head", model.head),
    ):
        grads = [p.grad for p in module.parameters() if p.requires_grad]
        assert all(g is not None for g in grads), name
        assert sum(g.abs().sum().item() for g in grads) > 0, name


def test_loss_weights_are_applied(tiny_arch) -> None:
    model = CompetitiveDetector.build(tiny_arch)
    out = model(torch.randn(2, 3, tiny_arch.img_size, tiny_arch.img_size))
    target = torch.tensor([0, 1])
    _, terms = CompetitiveLoss()(out, target, 0.5)
    weighted, _ = CompetitiveLoss(LossWeights(ce=2.0, correlation=0.0))(out, target, 0.5)
    expected = 2 * terms["ce_fused"] + terms["edl_main"] + terms["edl_competitor"]
    assert weighted.item() == pytest.approx(expected, rel=1e-5)


def test_avu_annealing_per_epoch_matches_the_authors_and_continuous_lags() -> None:
    from ffdetect.losses import annealing_progress

    # the authors: lambda = 0.01 ** (1 - e / T) for the e-th epoch, e = 1..T, constant in it
    per_epoch = [annealing_progress("epoch", e, 4, i, 10) for e in range(4) for i in (0, 9)]
    assert per_epoch == [0.25, 0.25, 0.5, 0.5, 0.75, 0.75, 1.0, 1.0]
    assert avu_lambda(per_epoch[0]) == pytest.approx(0.01**0.75)
    # continuous: fractional epochs, starting at 0 (one epoch behind the per-epoch value)
    assert annealing_progress("continuous", 0, 4, 0, 10) == 0.0
    assert annealing_progress("continuous", 1, 4, 5, 10) == pytest.approx(1.5 / 4)
    with pytest.raises(ValueError, match="annealing"):
        annealing_progress("linear", 0, 4, 0, 10)


def test_pearson_unbiased_std_is_the_authors_scaled_value() -> None:
    a, b = torch.randn(5, 16), torch.randn(5, 16)
    c1 = a - a.mean(-1, keepdim=True)
    c2 = b - b.mean(-1, keepdim=True)
    authors = ((c1 * c2).mean(-1) / (a.std(-1) * b.std(-1))).mean()  # torch.std: unbiased
    assert pearson_correlation(a, b, std="unbiased").item() == pytest.approx(authors.item())
    assert pearson_correlation(a, b).item() == pytest.approx(authors.item() * 16 / 15)
    with pytest.raises(ValueError):
        LossWeights(pearson_std="sample")
