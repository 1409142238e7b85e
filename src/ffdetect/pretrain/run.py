"""``ffdetect pretrain``: masked image modelling on real faces (METHOD.md section 4).

Builds the BEiT v2 backbone (from scratch or from any loadable backbone checkpoint), wraps it
with a mask token and a light head, and trains it to predict the chosen targets at block-masked
patches with AdamW and a cosine schedule, under torchrun/DDP when launched so. Checkpoints are
atomic and written every epoch (``--resume`` continues a killed run); the result is a plain
``backbone`` model that ``ffdetect train --init`` takes unchanged.

Run directory::

    RUN_DIR/config.yaml              the resolved configuration
    RUN_DIR/log.csv                  loss, lr, gradient norm and throughput per logged step
    RUN_DIR/epochs.csv               mean loss per epoch
    RUN_DIR/curves.png               the two above drawn, redrawn every epoch (atomic)
    RUN_DIR/checkpoints/last.pt      model, optimizer, scheduler, RNG state, epoch (atomic)
    RUN_DIR/model/                   the pre-trained backbone (our format, kind "backbone")
    RUN_DIR/reconstruction.png       input | masked input | prediction (pixel target)
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from timm.optim import create_optimizer_v2
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader

from ffdetect.checkpoint.metadata import ModelMeta
from ffdetect.checkpoint.model_format import (
    default_provenance,
    save_model,
)
from ffdetect.config import to_dict
from ffdetect.models.backbone import architecture_for
from ffdetect.pretrain.config import PretrainConfig, PretrainOptimConfig
from ffdetect.pretrain.data import MaskedFaces, plain_transform, pretrain_transform
from ffdetect.pretrain.masking import BlockMaskGenerator
from ffdetect.pretrain.model import MaskedImageModel
from ffdetect.pretrain.targets import PixelTarget, build_target
from ffdetect.pretrain.visualize import save_reconstruction_png
from ffdetect.train import distributed as dist_utils
from ffdetect.train.curves import write_curves
from ffdetect.train.engine import autocast
from ffdetect.train.optim import build_scheduler
from ffdetect.train.session import (
    RunLog,
    build_backbone,
    configure_determinism,
    epoch_loader,
    open_run_dir,
    restore_checkpoint,
    sample_seed,
    save_checkpoint,
    seed_epoch,
    seed_everything,
)


@dataclass
class PretrainResult:
    """Where the run ended."""

    model_dir: Path
    steps: int
    last_loss: float | None


def build_mim_model(cfg: PretrainConfig, out_dim: int) -> MaskedImageModel:
    """The backbone (from ``cfg.model.init`` when given) wrapped for masked image modelling."""
    m = cfg.model
    backbone = build_backbone(m)
    return MaskedImageModel(backbone, out_dim, m.head_depth)


def build_mask_generator(cfg: PretrainConfig) -> BlockMaskGenerator:
    """The block mask generator for the configured patch grid."""
    side = cfg.model.img_size // cfg.model.patch_size
    k = cfg.mask
    return BlockMaskGenerator((side, side), k.ratio, k.min_patches, k.min_aspect, k.max_aspect)


def build_pretrain_optimizer(model: nn.Module, cfg: PretrainOptimConfig) -> torch.optim.Optimizer:
    """AdamW (or another timm optimizer); no decay on biases, norms, tokens and bias tables."""
    kwargs: dict[str, Any] = {}
    if cfg.name.lower() in ("adamw", "adam", "lamb", "nadamw"):
        kwargs["betas"] = tuple(cfg.betas)
    return create_optimizer_v2(
        model, opt=cfg.name, lr=cfg.lr, weight_decay=cfg.weight_decay, **kwargs
    )


def mim_loss(
    model: nn.Module, target: nn.Module, images: torch.Tensor, mask: torch.Tensor
) -> tuple[torch.Tensor, dict[str, float]]:
    """Loss of one batch, on the masked patches only (targets of visible patches are unused)."""
    flat = mask.flatten(1)
    goal = target.targets(images)[flat]
    pred = model(images, flat).float()
    loss = target.loss(pred, goal)
    terms = {"loss": loss.item()}
    if getattr(target, "kind", "") == "tokens":
        terms["token_acc"] = (pred.argmax(-1) == goal).float().mean().item()
    return loss, terms


def _unwrap(model: nn.Module) -> MaskedImageModel:
    return model.module if isinstance(model, DistributedDataParallel) else model


def export_backbone(model: MaskedImageModel, cfg: PretrainConfig, out: Path, **extra: Any) -> Path:
    """Save the backbone alone as a ``backbone`` model (what ``ffdetect train --init`` reads)."""
    m = cfg.model
    meta = ModelMeta(
        kind="backbone", architecture=architecture_for(m.size, m.img_size, m.patch_size, m.depth)
    )
    meta.provenance = default_provenance("ffdetect pretrain", config=to_dict(cfg), **extra)
    return save_model(model.backbone, meta, out)


def write_reconstruction(
    model: MaskedImageModel,
    target: PixelTarget,
    faces: Sequence[Path],
    cfg: PretrainConfig,
    path: Path,
    device: torch.device,
) -> Path:
    """The picture of faces spread over the list, with fixed masks (the same for a seed)."""
    n = min(cfg.run.reconstructions, len(faces))
    picked = [faces[int(i)] for i in np.linspace(0, len(faces) - 1, n).round()]
    shown = MaskedFaces(picked, plain_transform(cfg.model.img_size), build_mask_generator(cfg))
    images, masks = [], []
    for i in range(n):
        image, _ = shown[i]
        images.append(image)
        masks.append(shown.masks(np.random.default_rng(sample_seed(cfg.run.seed, -1, i))))
    batch = torch.stack(images).to(device)
    mask = torch.from_numpy(np.stack(masks)).to(device)
    return save_reconstruction_png(model, target, batch, mask, path)


def _train_epoch(
    model: nn.Module,
    target: nn.Module,
    loader: DataLoader,
    optimizer: torch.optim.Optimizer,
    scheduler: Any,
    cfg: PretrainConfig,
    device: torch.device,
    epoch: int,
    step: int,
    on_step: Callable[[dict[str, float]], None],
) -> tuple[int, list[float]]:
    model.train()
    target.train()
    losses: list[float] = []
    for images, mask in loader:
        if cfg.run.max_steps is not None and step >= cfg.run.max_steps:
            break
        started = time.perf_counter()
        images = images.to(device, non_blocking=True)
        mask = mask.to(device, non_blocking=True)
        with autocast(device, cfg.run.amp):
            loss, terms = mim_loss(model, target, images, mask)
        if not math.isfinite(loss.item()):
            raise FloatingPointError(f"loss is {loss.item()} at step {step}; stopping")
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if cfg.optim.clip_grad:
            norm = nn.utils.clip_grad_norm_(model.parameters(), cfg.optim.clip_grad)
            terms["grad_norm"] = float(norm)
        optimizer.step()
        step += 1
        scheduler.step_update(step)
        losses.append(terms["loss"])
        terms.update(
            step=step,
            epoch=epoch,
            lr=max(g["lr"] for g in optimizer.param_groups),
            images_per_s=images.shape[0] / max(time.perf_counter() - started, 1e-9),
        )
        on_step(terms)
    return step, losses


def pretrain(
    cfg: PretrainConfig,
    faces: Sequence[Path],
    run_dir: Path,
    resume: bool = False,
    progress: Callable[[dict[str, float]], None] | None = None,
) -> PretrainResult:
    """Pre-train on the images ``faces``; export the backbone to ``run_dir/model``."""
    info = dist_utils.init_distributed()
    run_dir = Path(run_dir)
    ckpt_path = open_run_dir(run_dir, to_dict(cfg), resume, info)
    configure_determinism(cfg.run.deterministic)
    seed_everything(cfg.run.seed)
    side = cfg.model.img_size // cfg.model.patch_size
    target = build_target(cfg.target, cfg.model.patch_size, (side, side)).to(info.device)
    model = build_mim_model(cfg, target.out_dim).to(info.device)
    train_model: nn.Module = DistributedDataParallel(model) if info.enabled else model
    dataset = MaskedFaces(
        faces,
        pretrain_transform(
            cfg.model.img_size, cfg.data.crop_scale, cfg.data.flip, cfg.data.colour_jitter
        ),
        build_mask_generator(cfg),
        seed=cfg.run.seed,
    )
    loader, sampler = epoch_loader(
        dataset, cfg.data.batch_size, cfg.data.num_workers, cfg.run.seed, info
    )
    steps_per_epoch = len(loader)
    optimizer = build_pretrain_optimizer(model, cfg.optim)
    scheduler = build_scheduler(optimizer, cfg.schedule, steps_per_epoch)
    log = RunLog(run_dir, info.is_main)
    on_step = log.step_callback(cfg.run.log_every, progress, info)

    start_epoch, step, last_loss = 0, 0, None
    if resume and ckpt_path.exists():
        state = restore_checkpoint(ckpt_path, model, optimizer, scheduler, log)
        start_epoch, step, last_loss = state["epoch"] + 1, state["step"], state["last_loss"]
    else:
        scheduler.step_update(0)

    for epoch in range(start_epoch, cfg.schedule.epochs):
        if cfg.run.max_steps is not None and step >= cfg.run.max_steps:
            break
        seed_epoch(cfg.run.seed, epoch, info)
        sampler.set_epoch(epoch)
        dataset.set_epoch(epoch)
        scheduler.step(epoch)  # per-epoch stepping (schedule.step=epoch); a no-op per update
        step, losses = _train_epoch(
            train_model,
            target,
            loader,
            optimizer,
            scheduler,
            cfg,
            info.device,
            epoch,
            step,
            on_step,
        )
        gathered = [x for part in dist_utils.gather_objects(info, losses) for x in part]
        if gathered:
            last_loss = float(np.mean(gathered))
        log.epoch({"epoch": epoch, "step": step, "loss": last_loss if gathered else float("nan")})
        if info.is_main:
            save_checkpoint(
                ckpt_path,
                model,
                optimizer,
                scheduler,
                epoch,
                step,
                last_loss=last_loss,
                config=to_dict(cfg),
            )
            write_curves(run_dir)
        dist_utils.barrier(info)

    if info.is_main:
        export_backbone(model, cfg, run_dir / "model", steps=step, last_loss=last_loss)
        if isinstance(target, PixelTarget) and cfg.run.reconstructions > 0:
            write_reconstruction(
                model, target, faces, cfg, run_dir / "reconstruction.png", info.device
            )
    dist_utils.barrier(info)
    dist_utils.cleanup(info)
    return PretrainResult(run_dir / "model", step, last_loss)
