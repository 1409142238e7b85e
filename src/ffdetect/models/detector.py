"""The deployable single-branch detector and the competitive two-branch training model."""

from __future__ import annotations

import copy
from typing import NamedTuple

import torch
from torch import nn

from ffdetect.checkpoint.metadata import Architecture
from ffdetect.models.backbone import create_backbone
from ffdetect.models.heads import ClassifierHead, evidence_from_logits

FUSION_TEMPERATURE = 10.0


def _group_matcher(prefixes: tuple[str, ...]) -> dict:
    """timm-style layer groups for layer-wise lr decay across backbone copies.

    As in BEiT and timm: stem (patch embedding, CLS token) is layer 0, block ``i`` is layer
    ``i + 1``, the final norm joins the last block (timm's ``MATCH_PREV_GROUP``), and the shared
    head (unmatched) gets the largest layer id, i.e. the full lr.
    """
    alt = "|".join(prefixes)
    return {
        "stem": rf"^(?:{alt})\.(?:cls_token|pos_embed|patch_embed|rel_pos_bias)",
        "blocks": [(rf"^(?:{alt})\.blocks\.(\d+)", None), (rf"^(?:{alt})\.norm", (99999,))],
    }


def _no_weight_decay(prefixes: tuple[str, ...], backbone: nn.Module) -> set[str]:
    return {f"{p}.{name}" for p in prefixes for name in backbone.no_weight_decay()}


class Fusion(NamedTuple):
    """The confidence-weighted fusion of two branches' CLS features (METHOD.md section 2)."""

    features: torch.Tensor  # (B, D) c = w1 c1 + w2 c2
    main: torch.Tensor  # (B, 2) logits h(c1)
    competitor: torch.Tensor  # (B, 2) logits h(c2)
    weights: torch.Tensor  # (B, 2) softmax(-10 u1, -10 u2)


def fuse_branches(head: nn.Module, c1: torch.Tensor, c2: torch.Tensor) -> Fusion:
    """``w = softmax([-10 u1, -10 u2])`` from each branch's evidential uncertainty under the
    shared ``head`` (not detached), and the fused feature ``c = w1 c1 + w2 c2``."""
    z1, z2 = head(c1), head(c2)
    u = torch.stack(
        [evidence_from_logits(z1).uncertainty, evidence_from_logits(z2).uncertainty], dim=-1
    )
    weights = torch.softmax(-FUSION_TEMPERATURE * u, dim=-1)
    return Fusion(weights[:, :1] * c1 + weights[:, 1:] * c2, z1, z2, weights)


class Detector(nn.Module):
    """Backbone + shared head: ``p_fake = softmax(h(f(x)))[:, 1]``.

    With ``flip_average`` the logits are the mean of those of each image and of its mirror image
    (test-time augmentation: twice the compute, steadier scores); the weights are the same.
    """

    def __init__(
        self, backbone: nn.Module, head: ClassifierHead, flip_average: bool = False
    ) -> None:
        super().__init__()
        self.backbone = backbone
        self.head = head
        self.flip_average = flip_average

    @classmethod
    def build(cls, arch: Architecture | str, **backbone_kwargs) -> Detector:
        """A randomly initialised detector of the given architecture."""
        backbone = create_backbone(arch, **backbone_kwargs)
        return cls(backbone, ClassifierHead(backbone.embed_dim))

    def group_matcher(self, coarse: bool = False) -> dict:
        """Layer groups for timm's layer-wise lr decay."""
        return _group_matcher(("backbone",))

    def no_weight_decay(self) -> set[str]:
        """Parameters excluded from weight decay (CLS token, relative position tables)."""
        return _no_weight_decay(("backbone",), self.backbone)

    def features(self, images: torch.Tensor) -> torch.Tensor:
        """The pooled CLS feature of each image."""
        return self.backbone(images)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Logits ``(B, 2)``; class 1 is fake."""
        if not self.flip_average:
            return self.head(self.features(images))
        both = self.head(self.features(torch.cat([images, images.flip(-1)])))
        return both.unflatten(0, (2, -1)).mean(0)

    def with_flip_average(self, flip_average: bool) -> Detector:
        """This detector with ``flip_average`` set as given: itself when it already is, else a
        view sharing its weights (nothing is copied)."""
        if flip_average == self.flip_average:
            return self
        return Detector(self.backbone, self.head, flip_average)

    @torch.no_grad()
    def p_fake(self, images: torch.Tensor) -> torch.Tensor:
        """Probability of fake for each image (softmax of the logits)."""
        return torch.softmax(self(images), dim=-1)[:, 1]


class FusedDetector(Detector):
    """Both branches and the shared head, scored with the fused prediction ``h(w1 c1 + w2 c2)``
    (the confidence-weighted fusion that training optimises) instead of the main branch alone.

    METHOD.md deploys the main branch only; this is the opt-in alternative (a ``competitive``
    model whose metadata sets ``input.fused``): twice the backbone compute and weights, the
    scores of the prediction the cross-entropy term trains. ``backbone`` is the main branch,
    so everything that reads a detector's backbone (attention rollout, for one) reads it.
    """

    def __init__(
        self,
        backbone: nn.Module,
        competitor: nn.Module,
        head: ClassifierHead,
        flip_average: bool = False,
    ) -> None:
        super().__init__(backbone, head, flip_average)
        self.competitor = competitor

    @classmethod
    def build(cls, arch: Architecture | str, **backbone_kwargs) -> FusedDetector:
        """A randomly initialised fused detector (two independent backbones, one head)."""
        main = create_backbone(arch, **backbone_kwargs)
        return cls(main, create_backbone(arch, **backbone_kwargs), ClassifierHead(main.embed_dim))

    def group_matcher(self, coarse: bool = False) -> dict:
        """Layer groups for timm's layer-wise lr decay (block ``i`` of both branches together)."""
        return _group_matcher(("backbone", "competitor"))

    def no_weight_decay(self) -> set[str]:
        """Parameters excluded from weight decay in both branches."""
        return _no_weight_decay(("backbone", "competitor"), self.backbone)

    def features(self, images: torch.Tensor) -> torch.Tensor:
        """The fused CLS feature ``w1 c1 + w2 c2`` of each image."""
        return fuse_branches(self.head, self.backbone(images), self.competitor(images)).features

    def with_flip_average(self, flip_average: bool) -> FusedDetector:
        """This detector with ``flip_average`` set as given (weights shared, nothing copied)."""
        if flip_average == self.flip_average:
            return self
        return FusedDetector(self.backbone, self.competitor, self.head, flip_average)


class CompetitiveOutput(NamedTuple):
    """Everything the competitive loss and the logs need from one forward pass."""

    fused: torch.Tensor  # (B, 2) logits of the confidence-weighted feature
    main: torch.Tensor  # (B, 2) logits of the main branch
    competitor: torch.Tensor  # (B, 2) logits of the competitor branch
    main_features: torch.Tensor  # (B, D) CLS feature c1
    competitor_features: torch.Tensor  # (B, D) CLS feature c2
    fusion_weights: torch.Tensor  # (B, 2) softmax(-10 u1, -10 u2)


class CompetitiveDetector(nn.Module):
    """Two backbones from the same initial weights sharing one head (METHOD.md section 2).

    Fusion: ``w = softmax([-10 u1, -10 u2])`` (not detached), ``c = w1 c1 + w2 c2``, ``z = h(c)``.
    :meth:`main_branch` is deployed (METHOD.md); :meth:`fused_detector` is the opt-in alternative.
    """

    def __init__(self, main: nn.Module, competitor: nn.Module, head: ClassifierHead) -> None:
        super().__init__()
        self.main = main
        self.competitor = competitor
        self.head = head

    @classmethod
    def from_backbone(
        cls, backbone: nn.Module, head: ClassifierHead | None = None
    ) -> CompetitiveDetector:
        """Both branches start as copies of ``backbone`` (e.g. a pre-trained one)."""
        head = head if head is not None else ClassifierHead(backbone.embed_dim)
        return cls(backbone, copy.deepcopy(backbone), head)

    @classmethod
    def build(cls, arch: Architecture | str, **backbone_kwargs) -> CompetitiveDetector:
        """Randomly initialised; both branches still share the same initial weights."""
        return cls.from_backbone(create_backbone(arch, **backbone_kwargs))

    def group_matcher(self, coarse: bool = False) -> dict:
        """Layer groups for timm's layer-wise lr decay (block ``i`` of both branches together)."""
        return _group_matcher(("main", "competitor"))

    def no_weight_decay(self) -> set[str]:
        """Parameters excluded from weight decay in both branches."""
        return _no_weight_decay(("main", "competitor"), self.main)

    def forward(self, images: torch.Tensor) -> CompetitiveOutput:
        c1 = self.main(images)
        c2 = self.competitor(images)
        fusion = fuse_branches(self.head, c1, c2)
        return CompetitiveOutput(
            fused=self.head(fusion.features),
            main=fusion.main,
            competitor=fusion.competitor,
            main_features=c1,
            competitor_features=c2,
            fusion_weights=fusion.weights,
        )

    def main_branch(self) -> Detector:
        """A plain :class:`Detector` sharing this model's main backbone and head weights."""
        return Detector(self.main, self.head)

    def fused_detector(self, flip_average: bool = False) -> FusedDetector:
        """A :class:`FusedDetector` sharing this model's weights (both branches and the head)."""
        return FusedDetector(self.main, self.competitor, self.head, flip_average)
