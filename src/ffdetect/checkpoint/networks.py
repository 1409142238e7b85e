"""Our networks as a model's metadata describes them: build one (:func:`build_model`), load a
state dict into it strictly (:func:`load_strict`), take its backbone's weights
(:func:`backbone_state`). Shared by our model format (:mod:`.model_format`) and the converter of
foreign checkpoints (:mod:`.convert`), which both build networks from :class:`ModelMeta`.
"""

from __future__ import annotations

import torch
from torch import nn

from ffdetect.checkpoint.metadata import ModelMeta
from ffdetect.errors import UserError
from ffdetect.models.backbone import create_backbone
from ffdetect.models.detector import CompetitiveDetector, Detector
from ffdetect.models.heads import ClassifierHead


class ModelFormatError(UserError, RuntimeError):
    """A model directory is missing, incomplete, or does not match its metadata."""


def build_model(meta: ModelMeta) -> nn.Module:
    """An uninitialised network of the kind and architecture that ``meta`` describes."""
    arch = meta.architecture
    if meta.kind == "backbone":
        return create_backbone(arch)
    if meta.kind == "detector":
        return Detector.build(arch)
    backbone = create_backbone(arch)
    return CompetitiveDetector(backbone, create_backbone(arch), ClassifierHead(arch.embed_dim))


def load_strict(model: nn.Module, state: dict[str, torch.Tensor], source: str) -> None:
    """``load_state_dict(strict=True)`` with an error that names every missing/unexpected key."""
    own = model.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    mismatched = sorted(k for k in set(own) & set(state) if own[k].shape != state[k].shape)
    if missing or unexpected or mismatched:
        parts = []
        if missing:
            parts.append(f"missing keys: {', '.join(missing)}")
        if unexpected:
            parts.append(f"unexpected keys: {', '.join(unexpected)}")
        if mismatched:
            shapes = [f"{k} {tuple(state[k].shape)} vs {tuple(own[k].shape)}" for k in mismatched]
            parts.append(f"shape mismatch: {', '.join(shapes)}")
        raise ModelFormatError(f"{source} does not match the architecture; " + "; ".join(parts))
    model.load_state_dict(state, strict=True)


def backbone_state(model: nn.Module) -> dict[str, torch.Tensor]:
    """The backbone weights of any of our networks (the main branch for a competitive model)."""
    if isinstance(model, CompetitiveDetector):
        return model.main.state_dict()
    if isinstance(model, Detector):
        return model.backbone.state_dict()
    return model.state_dict()
