"""Optimizer and schedule: timm's LAMB with layer-wise lr decay and its cosine scheduler."""

from __future__ import annotations

import torch
from timm.optim import create_optimizer_v2
from timm.scheduler import CosineLRScheduler
from torch import nn

from ffdetect.train.config import OptimConfig, ScheduleConfig


def build_optimizer(model: nn.Module, cfg: OptimConfig) -> torch.optim.Optimizer:
    """LAMB (or any timm optimizer) with per-layer lr scales from the model's group matcher.

    timm stores each group's factor as ``lr_scale``; its schedulers multiply it in at every
    step, so the decay is really applied (the authors' build lost it).
    """
    return create_optimizer_v2(
        model,
        opt=cfg.name,
        lr=cfg.lr,
        weight_decay=cfg.weight_decay,
        layer_decay=cfg.layer_decay if cfg.layer_decay < 1.0 else None,
    )


def build_scheduler(
    optimizer: torch.optim.Optimizer, cfg: ScheduleConfig, steps_per_epoch: int
) -> CosineLRScheduler:
    """Per-update cosine schedule with linear warm-up, floored at ``min_lr``."""
    total = max(1, cfg.epochs * steps_per_epoch)
    warmup = int(round(cfg.warmup_epochs * steps_per_epoch))
    return CosineLRScheduler(
        optimizer,
        t_initial=total,
        lr_min=cfg.min_lr,
        warmup_t=warmup,
        warmup_lr_init=cfg.warmup_lr,
        warmup_prefix=False,
        t_in_epochs=False,
    )
