"""One training epoch and one prediction pass, as short loops over plain PyTorch (MAE style)."""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ffdetect.losses.competitive import CompetitiveLoss
from ffdetect.losses.evidential import annealing_progress
from ffdetect.models.detector import CompetitiveDetector, Detector
from ffdetect.models.heads import scores_from_logits


@dataclass
class StepContext:
    """What one epoch needs to know about the run."""

    epoch: int
    epochs: int
    steps_per_epoch: int
    global_step: int
    device: torch.device
    amp: bool = False
    cpu_bf16: bool = False
    clip_grad: float | None = None
    max_steps: int | None = None
    annealing: str = "epoch"  # how the evidential loss's t / T advances (losses.ANNEALING)


def cpu_has_native_bf16() -> bool:
    """Whether this CPU computes bf16 natively (AVX-512 BF16 or AMX); elsewhere bf16 is emulated
    and slower than fp32."""
    return torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported()


def autocast(
    device: torch.device, enabled: bool, cpu_bf16: bool = False
) -> contextlib.AbstractContextManager:
    """bf16 autocast on CUDA when ``enabled``; on a CPU with native bf16 when ``cpu_bf16``; a
    no-op elsewhere."""
    if enabled and device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    if cpu_bf16 and device.type == "cpu" and cpu_has_native_bf16():
        return torch.autocast("cpu", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def _unwrap(model: nn.Module) -> nn.Module:
    return model.module if hasattr(model, "module") else model


def training_loss(
    model: nn.Module,
    criterion: CompetitiveLoss | None,
    images: torch.Tensor,
    labels: torch.Tensor,
    progress: float,
) -> tuple[torch.Tensor, dict[str, float]]:
    """Loss of one batch: the competitive loss, or cross-entropy for a single-branch baseline."""
    out = model(images)
    if isinstance(_unwrap(model), CompetitiveDetector):
        return criterion(out, labels, progress)
    loss = F.cross_entropy(out, labels)
    return loss, {"loss": loss.item(), "ce": loss.item()}


def train_one_epoch(
    model: nn.Module,
    criterion: CompetitiveLoss | None,
    loader: Iterable,
    optimizer: torch.optim.Optimizer,
    scheduler,
    ctx: StepContext,
    on_step: Callable[[dict[str, float]], None] | None = None,
) -> int:
    """Run one epoch (or until ``ctx.max_steps``); returns the global step reached."""
    model.train()
    step = ctx.global_step
    for i, (images, labels, _videos) in enumerate(loader):
        if ctx.max_steps is not None and step >= ctx.max_steps:
            break
        started = time.perf_counter()
        images = images.to(ctx.device, non_blocking=True)
        labels = labels.to(ctx.device, non_blocking=True)
        progress = annealing_progress(ctx.annealing, ctx.epoch, ctx.epochs, i, ctx.steps_per_epoch)
        with autocast(ctx.device, ctx.amp, ctx.cpu_bf16):
            loss, terms = training_loss(model, criterion, images, labels, progress)
        if not math.isfinite(loss.item()):
            raise FloatingPointError(f"loss is {loss.item()} at step {step}; stopping")
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if ctx.clip_grad:
            terms["grad_norm"] = float(nn.utils.clip_grad_norm_(model.parameters(), ctx.clip_grad))
        optimizer.step()
        step += 1
        scheduler.step_update(step)
        if on_step is not None:
            elapsed = time.perf_counter() - started
            terms.update(
                step=step,
                epoch=ctx.epoch,
                lr=max(g["lr"] for g in optimizer.param_groups),
                images_per_s=images.shape[0] / max(elapsed, 1e-9),
            )
            on_step(terms)
    return step


@dataclass
class FramePredictions:
    """Per-frame outputs of a prediction pass, in loader order."""

    videos: list[str]
    labels: list[int]
    p_fake: list[float]
    confidence: list[float]

    def extend(self, other: FramePredictions) -> None:
        self.videos += other.videos
        self.labels += other.labels
        self.p_fake += other.p_fake
        self.confidence += other.confidence


@torch.inference_mode()
def predict(
    detector: Detector, loader: Iterable, device: torch.device, amp: bool = False
) -> FramePredictions:
    """Frame ``p_fake`` and evidential confidence of the deployed branch over a loader."""
    detector.eval()
    out = FramePredictions([], [], [], [])
    for images, labels, videos in loader:
        with autocast(device, amp):
            logits = detector(images.to(device, non_blocking=True)).float()
        out.videos += list(videos)
        out.labels += [int(v) for v in labels]
        p_fake, conf = scores_from_logits(logits)
        out.p_fake += p_fake
        out.confidence += conf
    return out
