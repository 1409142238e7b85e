"""Prediction targets of masked image modelling: pixels, teacher features, tokenizer codes.

Each target is a module holding only frozen state (no trainable parameters, not saved with the
run); ``targets(images)`` gives one target per patch, ``[B, N, C]`` (or ``[B, N]`` codes), and
``loss(pred, target)`` compares the head's predictions with the targets of the masked patches.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ffdetect.checkpoint.model_format import load_backbone_weights, load_strict
from ffdetect.models.backbone import create_backbone
from ffdetect.pretrain.config import TargetConfig
from ffdetect.pretrain.tokenizer import load_tokenizer


def patchify(images: torch.Tensor, patch_size: int) -> torch.Tensor:
    """``[B, C, H, W]`` -> ``[B, N, p * p * C]`` in the patch embedding's raster order."""
    b, c, h, w = images.shape
    p = patch_size
    x = images.reshape(b, c, h // p, p, w // p, p)
    return x.permute(0, 2, 4, 3, 5, 1).reshape(b, (h // p) * (w // p), p * p * c)


def unpatchify(patches: torch.Tensor, patch_size: int, grid: tuple[int, int]) -> torch.Tensor:
    """Inverse of :func:`patchify`."""
    b = patches.shape[0]
    p, (gh, gw) = patch_size, grid
    x = patches.reshape(b, gh, gw, p, p, -1).permute(0, 5, 1, 3, 2, 4)
    return x.reshape(b, -1, gh * p, gw * p)


class PixelTarget(nn.Module):
    """Per-patch normalised pixels (MAE's ``norm_pix_loss``), MSE or L1 on masked patches."""

    kind = "pixel"

    def __init__(self, patch_size: int, norm_pix: bool = True, loss: str = "mse") -> None:
        super().__init__()
        self.patch_size = patch_size
        self.norm_pix = norm_pix
        self.loss_name = loss
        self.out_dim = patch_size * patch_size * 3

    @staticmethod
    def patch_stats(patches: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and standard deviation of every patch (for normalising and for pictures)."""
        mean = patches.mean(dim=-1, keepdim=True)
        std = (patches.var(dim=-1, keepdim=True, unbiased=False) + 1e-6).sqrt()
        return mean, std

    @torch.no_grad()
    def targets(self, images: torch.Tensor) -> torch.Tensor:
        patches = patchify(images.float(), self.patch_size)
        if self.norm_pix:
            mean, std = self.patch_stats(patches)
            patches = (patches - mean) / std
        return patches

    def loss(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        if self.loss_name == "l1":
            return F.l1_loss(pred, target)
        return F.mse_loss(pred, target)


class TeacherTarget(nn.Module):
    """Final patch features of a frozen backbone (BEiT v2's semantic targets, no tokenizer).

    The input is resized to the teacher's size when it differs, and the teacher's feature map is
    resized bilinearly to the student's patch grid.
    """

    kind = "teacher"

    def __init__(self, teacher: nn.Module, grid: tuple[int, int], loss: str = "cosine") -> None:
        super().__init__()
        self.teacher = teacher.eval().requires_grad_(False)
        self.grid = tuple(grid)
        self.loss_name = loss
        self.out_dim = teacher.embed_dim

    def train(self, mode: bool = True) -> TeacherTarget:
        super().train(mode)
        self.teacher.eval()  # frozen: no dropout / drop path, ever
        return self

    @torch.no_grad()
    def targets(self, images: torch.Tensor) -> torch.Tensor:
        size = tuple(self.teacher.patch_embed.img_size)
        if tuple(images.shape[-2:]) != size:
            images = F.interpolate(images, size=size, mode="bilinear", align_corners=False)
        feats = self.teacher.forward_features(images)[:, self.teacher.num_prefix_tokens :].float()
        grid = tuple(self.teacher.patch_embed.grid_size)
        if grid != self.grid:
            fmap = feats.transpose(1, 2).reshape(feats.shape[0], -1, *grid)
            fmap = F.interpolate(fmap, size=self.grid, mode="bilinear", align_corners=False)
            feats = fmap.flatten(2).transpose(1, 2)
        return feats

    def loss(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        if self.loss_name == "smooth_l1":
            target = F.layer_norm(target, target.shape[-1:])
            return F.smooth_l1_loss(pred, target, beta=2.0)
        return (1.0 - F.cosine_similarity(pred, target, dim=-1)).mean()


class TokenTarget(nn.Module):
    """Codes of a visual tokenizer, predicted with cross-entropy over its codebook."""

    kind = "tokens"

    def __init__(self, tokenizer: nn.Module, grid: tuple[int, int]) -> None:
        super().__init__()
        if tuple(tokenizer.grid) != tuple(grid):
            raise ValueError(
                f"the tokenizer's {tokenizer.grid} code grid differs from the backbone's {grid} "
                "patch grid; use a tokenizer of the same patch grid"
            )
        self.tokenizer = tokenizer.eval().requires_grad_(False)
        self.out_dim = tokenizer.codebook_size

    def train(self, mode: bool = True) -> TokenTarget:
        super().train(mode)
        self.tokenizer.eval()
        return self

    @torch.no_grad()
    def targets(self, images: torch.Tensor) -> torch.Tensor:
        return self.tokenizer(images)

    def loss(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(pred, target)


def load_teacher(path: str) -> nn.Module:
    """A frozen backbone from any checkpoint that fine-tuning could start from."""
    state, meta = load_backbone_weights(path)
    teacher = create_backbone(meta.architecture, drop_path_rate=0.0)
    load_strict(teacher, state, str(path))
    return teacher.eval().requires_grad_(False)


def build_target(cfg: TargetConfig, patch_size: int, grid: tuple[int, int]) -> nn.Module:
    """The target module a configuration asks for (loading teacher or tokenizer files)."""
    if cfg.kind == "pixel":
        return PixelTarget(patch_size, cfg.norm_pix, cfg.pixel_loss)
    if cfg.kind == "teacher":
        if not cfg.teacher:
            raise ValueError(
                "target.kind=teacher needs target.teacher=PATH (a backbone checkpoint)"
            )
        return TeacherTarget(load_teacher(cfg.teacher), grid, cfg.teacher_loss)
    if not cfg.tokenizer:
        raise ValueError("target.kind=tokens needs target.tokenizer=PATH (a VQ-KD checkpoint)")
    return TokenTarget(load_tokenizer(cfg.tokenizer, cfg.tokenizer_heads), grid)
