"""The backbone options of METHOD.md section 1, the detector and the competitive fusion."""

from __future__ import annotations

import pytest
import torch

from ffdetect.models import (
    CompetitiveDetector,
    Detector,
    FusedDetector,
    create_backbone,
    evidence_from_logits,
)
from ffdetect.models.backbone import BACKBONE_SIZES


def test_backbone_has_the_beit_v2_options(tiny_arch) -> None:
    backbone = create_backbone(tiny_arch)
    assert backbone.pos_embed is None  # relative position bias only
    assert backbone.global_pool == "token"
    attn = backbone.blocks[0].attn
    assert attn.q_bias is not None and attn.v_bias is not None
    assert not any(n.endswith("k_bias") for n, _ in backbone.named_parameters())
    assert all(b.attn.relative_position_bias_table is not None for b in backbone.blocks)
    assert torch.allclose(
        backbone.blocks[0].gamma_1, torch.full_like(backbone.blocks[0].gamma_1, 0.1)
    )
    rates = [
        b.drop_path1.drop_prob if hasattr(b.drop_path1, "drop_prob") else 0.0
        for b in backbone.blocks
    ]
    assert rates[0] == 0.0 and rates[-1] == pytest.approx(0.1)


def test_base_builds_with_86m_parameters_per_branch_and_runs() -> None:
    model = CompetitiveDetector.build("base").eval()
    per_branch = sum(p.numel() for p in model.main.parameters())
    assert 85e6 < per_branch < 87e6
    names = set(model.main.state_dict())
    assert {"cls_token", "blocks.11.attn.q_bias", "blocks.11.gamma_2", "norm.weight"} <= names
    with torch.no_grad():
        out = model(torch.randn(1, 3, 224, 224))
    assert out.fused.shape == (1, 2) and out.main_features.shape == (1, 768)


@pytest.mark.parametrize("size", sorted(BACKBONE_SIZES))
def test_registered_sizes(size: str) -> None:
    spec = BACKBONE_SIZES[size]
    backbone = create_backbone(size)
    assert backbone.embed_dim == spec.embed_dim and len(backbone.blocks) == spec.depth


def test_branches_start_from_the_same_weights(tiny_arch) -> None:
    model = CompetitiveDetector.build(tiny_arch)
    for (n1, p1), (n2, p2) in zip(
        model.main.named_parameters(), model.competitor.named_parameters(), strict=True
    ):
        assert n1 == n2 and torch.equal(p1, p2)
        assert p1.data_ptr() != p2.data_ptr()  # copies, not shared


def _diverged_branches(tiny_arch) -> CompetitiveDetector:
    """A two-branch model whose competitor differs from its main branch (as after training)."""
    model = CompetitiveDetector.build(tiny_arch).eval()
    torch.nn.init.normal_(model.head.fc.weight, std=2.0)
    with torch.no_grad():
        for p in model.competitor.parameters():
            p.add_(0.5 * torch.randn_like(p))
    return model


def test_fusion_weights_follow_softmax_of_uncertainty(tiny_arch) -> None:
    model = _diverged_branches(tiny_arch)
    with torch.no_grad():
        out = model(torch.randn(3, 3, tiny_arch.img_size, tiny_arch.img_size))
    # By hand: u = 2 / S with S = sum(exp(clamp(z)) + 1).
    u1 = 2.0 / (torch.exp(out.main.clamp(-10, 10)) + 1).sum(-1)
    u2 = 2.0 / (torch.exp(out.competitor.clamp(-10, 10)) + 1).sum(-1)
    w1 = torch.exp(-10 * u1) / (torch.exp(-10 * u1) + torch.exp(-10 * u2))
    assert torch.allclose(out.fusion_weights[:, 0], w1, atol=1e-6)
    assert torch.allclose(out.fusion_weights.sum(-1), torch.ones(3))
    fused_features = w1[:, None] * out.main_features + (1 - w1)[:, None] * out.competitor_features
    assert torch.allclose(out.fused, model.head(fused_features), atol=1e-5)


def test_evidence_uncertainty_range() -> None:
    ev = evidence_from_logits(torch.tensor([[0.0, 0.0], [-50.0, 50.0]]))
    assert ev.uncertainty[0].item() == pytest.approx(0.5)
    assert 0 < ev.uncertainty[1].item() < 1e-4
    assert torch.allclose(ev.prob.sum(-1), torch.ones(2))


def test_main_branch_is_a_detector_with_the_same_weights(tiny_arch) -> None:
    model = CompetitiveDetector.build(tiny_arch).eval()
    images = torch.randn(2, 3, tiny_arch.img_size, tiny_arch.img_size)
    detector = model.main_branch()
    assert isinstance(detector, Detector)
    with torch.no_grad():
        assert torch.equal(detector(images), model(images).main)
    p = detector.p_fake(images)
    assert p.shape == (2,) and torch.all((p >= 0) & (p <= 1))


def test_fused_detector_scores_the_training_models_fused_prediction(tiny_arch) -> None:
    model = _diverged_branches(tiny_arch)
    images = torch.randn(3, 3, tiny_arch.img_size, tiny_arch.img_size)
    fused = model.fused_detector()
    assert isinstance(fused, FusedDetector) and fused.backbone is model.main
    with torch.no_grad():
        out = model(images)
        assert torch.allclose(fused(images), out.fused, atol=1e-6)
        # The branches differ, so the fused prediction is not the main branch's.
        assert not torch.allclose(out.fused, out.main, atol=1e-3)
        flipped = fused.with_flip_average(True)
        assert isinstance(flipped, FusedDetector) and flipped.competitor is model.competitor
        expected = (out.fused + model(images.flip(-1)).fused) / 2
        assert torch.allclose(flipped(images), expected, atol=1e-5)


def test_flip_average_is_the_mean_of_both_mirror_images(tiny_arch) -> None:
    detector = Detector.build(tiny_arch).eval()
    flipped = detector.with_flip_average(True)
    assert flipped.backbone is detector.backbone and flipped.head is detector.head
    images = torch.randn(3, 3, tiny_arch.img_size, tiny_arch.img_size)
    mirrored = images.flip(-1)
    with torch.no_grad():
        expected = (detector(images) + detector(mirrored)) / 2
        assert torch.allclose(flipped(images), expected, atol=1e-5)
        # A face and its mirror image get the same answer; without averaging they do not.
        assert torch.allclose(flipped(images), flipped(mirrored), atol=1e-5)
        assert not torch.allclose(detector(images), detector(mirrored), atol=1e-3)
