"""Optimizer and schedule: timm's LAMB with layer-wise lr decay and its cosine scheduler."""

from __future__ import annotations

import torch
from timm.optim import create_optimizer_v2, param_groups_layer_decay, param_groups_weight_decay
from timm.scheduler import CosineLRScheduler
from torch import nn

from ffdetect.train.config import OptimConfig, ScheduleConfig


def no_decay_names(model: nn.Module, no_decay: str = "beit") -> set[str]:
    """Parameter names excluded from weight decay besides every 1-D parameter (biases, norms,
    LayerScale): the model's CLS token and relative position tables for ``"beit"``, none for
    ``"authors"`` (their optimizer decayed those too)."""
    if no_decay == "authors":
        return set()
    return set(model.no_weight_decay()) if hasattr(model, "no_weight_decay") else set()


def build_optimizer(model: nn.Module, cfg: OptimConfig) -> torch.optim.Optimizer:
    """LAMB (or any timm optimizer) with per-layer lr scales from the model's group matcher.

    timm stores each group's factor as ``lr_scale``; its schedulers multiply it in at every
    step, so the decay is really applied (the authors' build lost it). ``cfg.no_decay`` picks
    the parameters without weight decay (:func:`no_decay_names`).
    """
    skip = no_decay_names(model, cfg.no_decay)
    if cfg.layer_decay < 1.0:
        groups = param_groups_layer_decay(
            model, cfg.weight_decay, no_weight_decay_list=skip, layer_decay=cfg.layer_decay
        )
    else:
        groups = param_groups_weight_decay(model, cfg.weight_decay, no_weight_decay_list=skip)
    return create_optimizer_v2(groups, opt=cfg.name, lr=cfg.lr, weight_decay=0.0)


def build_scheduler(
    optimizer: torch.optim.Optimizer, cfg: ScheduleConfig, steps_per_epoch: int
) -> CosineLRScheduler:
    """Cosine schedule with linear warm-up, floored at ``min_lr``.

    ``cfg.step == "update"``: the lr changes at every update (``step_update``);
    ``"epoch"``: once per epoch (``step(epoch)``, the authors' stepping). The training loops
    call both, so either works unchanged.
    """
    per_epoch = cfg.step == "epoch"
    unit = 1 if per_epoch else steps_per_epoch
    return CosineLRScheduler(
        optimizer,
        t_initial=max(1, cfg.epochs * unit),
        lr_min=cfg.min_lr,
        warmup_t=int(round(cfg.warmup_epochs * unit)),
        warmup_lr_init=cfg.warmup_lr,
        warmup_prefix=False,
        t_in_epochs=per_epoch,
    )
