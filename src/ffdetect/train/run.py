"""``ffdetect train``: the fine-tuning job around :mod:`ffdetect.train.engine`.

Builds the model (two-branch competitive or single-branch baseline) from a backbone init, trains
with LAMB + layer decay + cosine schedule under torchrun/DDP when launched so, evaluates on the
validation split only, keeps the best epoch by ``run.select_metric``, checkpoints atomically every
epoch (``--resume`` continues a killed run), and exports the main branch in our model format
(with ``model.fused``, both branches, scored by their fused prediction).

Run directory::

    RUN_DIR/config.yaml              the resolved configuration
    RUN_DIR/log.csv                  every loss term, lr and throughput per step
    RUN_DIR/epochs.csv               validation metrics per epoch
    RUN_DIR/curves.png               loss terms and lr per step, metrics per epoch (atomic)
    RUN_DIR/checkpoints/last.pt      model, optimizer, scheduler, RNG state, epoch (atomic)
    RUN_DIR/best/                    the best epoch so far's deployed model (our format), rewritten
                                     whenever validation improves
    RUN_DIR/val_results.csv          its validation predictions (+ _frames.csv), for calibrate
    RUN_DIR/model/                   the deployable detector: a copy of best/ when training ends
                                     (the last epoch's without a validation split)
"""

from __future__ import annotations

import shutil
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, Dataset, Subset

from ffdetect.checkpoint.metadata import ModelMeta
from ffdetect.checkpoint.model_format import (
    default_provenance,
    save_model,
)
from ffdetect.config import to_dict
from ffdetect.evaluation.calibration import aggregate_frames
from ffdetect.evaluation.metrics import compute_metrics, write_frame_results, write_results
from ffdetect.losses.competitive import CompetitiveLoss
from ffdetect.models.backbone import architecture_for
from ffdetect.models.detector import CompetitiveDetector, Detector
from ffdetect.models.heads import ClassifierHead
from ffdetect.train import distributed as dist_utils
from ffdetect.train.config import TrainConfig
from ffdetect.train.curves import write_curves
from ffdetect.train.data import twin_groups
from ffdetect.train.engine import FramePredictions, StepContext, predict, train_one_epoch
from ffdetect.train.optim import build_optimizer, build_scheduler
from ffdetect.train.session import (
    RunLog,
    build_backbone,
    configure_determinism,
    epoch_loader,
    open_run_dir,
    restore_checkpoint,
    save_checkpoint,
    seed_epoch,
    seed_everything,
)

#: Selection metrics: name -> (Metrics attribute, higher is better).
SELECT_METRICS = {
    "video_auc": ("auc", True),
    "video_ap": ("ap", True),
    "video_acc": ("acc_05", True),
    "video_eer": ("eer", False),
    "video_log_loss": ("log_loss", False),
    "frame_auc": ("frame_auc", True),
}


#: Columns of RUN_DIR/epochs.csv (metrics stay empty in epochs without validation).
EPOCH_COLUMNS = ("epoch", "step", "video_auc", "video_acc", "frame_auc", "select")


@dataclass
class TrainResult:
    """Where the run ended."""

    model_dir: Path
    best_epoch: int | None
    best_value: float | None
    steps: int


def build_training_model(cfg: TrainConfig) -> nn.Module:
    """The competitive or baseline network, its backbone from ``cfg.model.init`` when given."""
    m = cfg.model
    backbone = build_backbone(m)
    if cfg.method == "competitive":
        if m.drop_path_rate == 0.0:
            warnings.warn(
                "competitive training with drop_path_rate 0: both branches start from the same "
                "weights and, without stochastic depth, receive identical gradients (rho stays 1 "
                "and its gradient 0), so they never diverge",
                stacklevel=2,
            )
        return CompetitiveDetector.from_backbone(backbone)
    return Detector(backbone, ClassifierHead(backbone.embed_dim))


def deployed_detector(
    model: nn.Module, flip_average: bool = False, fused: bool = False
) -> Detector:
    """The part that is deployed, weights shared: the main branch of a competitive model (its
    fused prediction when ``fused``), or the detector; scoring each face with its mirror image
    when ``flip_average``."""
    model = model.module if isinstance(model, DistributedDataParallel) else model
    if isinstance(model, CompetitiveDetector):
        detector = model.fused_detector() if fused else model.main_branch()
    else:
        detector = model
    return detector.with_flip_average(flip_average)


def _shard(dataset: Dataset, info: dist_utils.DistInfo) -> Dataset:
    if not info.enabled:
        return dataset
    return Subset(dataset, list(range(info.rank, len(dataset), info.world_size)))


def evaluate_split(
    detector: Detector, dataset: Dataset, cfg: TrainConfig, info: dist_utils.DistInfo
) -> FramePredictions:
    """Frame predictions over the whole ``dataset``, sharded over processes and gathered."""
    loader = DataLoader(
        _shard(dataset, info),
        batch_size=max(1, cfg.data.eval_batch_size // info.world_size),
        shuffle=False,
        num_workers=cfg.data.num_workers,
    )
    local = predict(detector, loader, info.device, cfg.run.amp)
    merged = FramePredictions([], [], [], [])
    for part in dist_utils.gather_objects(info, local):
        merged.extend(part)
    return merged


def video_metrics(
    preds: FramePredictions,
) -> tuple[Any, list[str], np.ndarray, np.ndarray, list[int]]:
    """Video-level metrics with the plain mean of frame ``p_fake`` (METHOD.md section 2)."""
    names, scores, confs = aggregate_frames(preds.videos, preds.p_fake, preds.confidence, gamma=0.0)
    label_of = dict(zip(preds.videos, preds.labels, strict=True))
    labels = [label_of[n] for n in names]
    metrics = compute_metrics(
        labels, scores, confs, frame_labels=preds.labels, frame_scores=preds.p_fake
    )
    return metrics, names, scores, confs, labels


def write_predictions(path: Path, preds: FramePredictions) -> None:
    """Video-level result CSV plus its ``_frames.csv`` twin (with confidences)."""
    _, names, scores, confs, labels = video_metrics(preds)
    write_results(path, names, labels, scores, confs)
    counters: dict[str, int] = {}
    frames = []
    for video in preds.videos:
        frames.append(counters.get(video, 0))
        counters[video] = frames[-1] + 1
    write_frame_results(path, preds.videos, frames, preds.labels, preds.p_fake, preds.confidence)


def _is_better(value: float, best: float | None, higher: bool) -> bool:
    if value is None or not np.isfinite(value):
        return False
    return best is None or (value > best if higher else value < best)


def _export(model: nn.Module, cfg: TrainConfig, out: Path, extra: dict[str, Any]) -> None:
    """Save what is deployed: the main branch as a ``detector``, or with ``model.fused`` the
    whole two-branch model as a ``competitive`` one that scores with its fused prediction."""
    arch = architecture_for(
        cfg.model.size, cfg.model.img_size, cfg.model.patch_size, cfg.model.depth
    )
    flip = cfg.model.flip_average
    if cfg.model.fused:
        meta = ModelMeta(
            kind="competitive", task=cfg.task, architecture=arch, flip_average=flip, fused=True
        )
    else:
        meta = ModelMeta(kind="detector", task=cfg.task, architecture=arch, flip_average=flip)
        model = deployed_detector(model, flip)
    meta.provenance = default_provenance("ffdetect train", config=to_dict(cfg), **extra)
    save_model(model, meta, out)


def train(
    cfg: TrainConfig,
    train_set: Dataset,
    val_set: Dataset | None,
    run_dir: Path,
    resume: bool = False,
    progress: Callable[[dict[str, float]], None] | None = None,
) -> TrainResult:
    """Fine-tune on ``train_set``, select on ``val_set``, export to ``run_dir/model``."""
    info = dist_utils.init_distributed()
    run_dir = Path(run_dir)
    ckpt_path = open_run_dir(run_dir, to_dict(cfg), resume, info)
    configure_determinism(cfg.run.deterministic)
    seed_everything(cfg.run.seed)
    model = build_training_model(cfg).to(info.device)
    criterion = CompetitiveLoss(cfg.loss) if cfg.method == "competitive" else None
    train_model: nn.Module = DistributedDataParallel(model) if info.enabled else model
    loader, sampler = epoch_loader(
        train_set,
        cfg.data.batch_size,
        cfg.data.num_workers,
        cfg.run.seed,
        info,
        groups=twin_groups(train_set) if cfg.data.paired else None,
    )
    steps_per_epoch = len(loader)
    optimizer = build_optimizer(model, cfg.optim)
    scheduler = build_scheduler(optimizer, cfg.schedule, steps_per_epoch)
    log = RunLog(run_dir, info.is_main)
    on_step = log.step_callback(cfg.run.log_every, progress, info)

    start_epoch, step, best_value, best_epoch = 0, 0, None, None
    if resume and ckpt_path.exists():
        state = restore_checkpoint(ckpt_path, model, optimizer, scheduler, log)
        start_epoch, step = state["epoch"] + 1, state["step"]
        best_value, best_epoch = state["best_value"], state["best_epoch"]
    else:
        scheduler.step_update(0)

    attr, higher = SELECT_METRICS[cfg.run.select_metric]
    for epoch in range(start_epoch, cfg.schedule.epochs):
        if cfg.run.max_steps is not None and step >= cfg.run.max_steps:
            break
        seed_epoch(cfg.run.seed, epoch, info)
        sampler.set_epoch(epoch)
        scheduler.step(epoch)  # per-epoch stepping (schedule.step=epoch); a no-op per update
        if hasattr(train_set, "set_epoch"):
            train_set.set_epoch(epoch)
        ctx = StepContext(
            epoch=epoch,
            epochs=cfg.schedule.epochs,
            steps_per_epoch=steps_per_epoch,
            global_step=step,
            device=info.device,
            amp=cfg.run.amp,
            cpu_bf16=cfg.run.cpu_bf16,
            clip_grad=cfg.optim.clip_grad,
            max_steps=cfg.run.max_steps,
            annealing=cfg.loss.avu_annealing,
        )

        step = train_one_epoch(train_model, criterion, loader, optimizer, scheduler, ctx, on_step)

        row: dict[str, Any] = dict.fromkeys(EPOCH_COLUMNS, "") | {"epoch": epoch, "step": step}
        last_epoch = epoch == cfg.schedule.epochs - 1 or (
            cfg.run.max_steps is not None and step >= cfg.run.max_steps
        )
        if val_set is not None and ((epoch + 1) % cfg.run.eval_every == 0 or last_epoch):
            deployed = deployed_detector(model, cfg.model.flip_average, cfg.model.fused)
            preds = evaluate_split(deployed, val_set, cfg, info)
            metrics = video_metrics(preds)[0]
            value = getattr(metrics, attr)
            row.update(
                video_auc=metrics.auc,
                video_acc=metrics.acc_05,
                frame_auc=metrics.frame_auc,
                select=value,
            )
            if _is_better(value, best_value, higher):
                best_value, best_epoch = float(value), epoch
                if info.is_main:
                    _export(
                        model,
                        cfg,
                        run_dir / "best",
                        {"epoch": epoch, cfg.run.select_metric: value},
                    )
                    write_predictions(run_dir / "val_results.csv", preds)
        log.epoch(row)
        if info.is_main:
            save_checkpoint(
                ckpt_path,
                model,
                optimizer,
                scheduler,
                epoch,
                step,
                best_value=best_value,
                best_epoch=best_epoch,
                config=to_dict(cfg),
            )
            write_curves(run_dir)
        dist_utils.barrier(info)

    if info.is_main:
        model_dir = run_dir / "model"
        if best_epoch is not None and (run_dir / "best").is_dir():
            tmp = run_dir / ".model.tmp"
            shutil.rmtree(tmp, ignore_errors=True)
            shutil.copytree(run_dir / "best", tmp)
            shutil.rmtree(model_dir, ignore_errors=True)
            tmp.rename(model_dir)
        else:
            _export(
                model,
                cfg,
                model_dir,
                {"epoch": "last", "selection": "none (no validation split)"},
            )
    dist_utils.barrier(info)
    dist_utils.cleanup(info)
    return TrainResult(run_dir / "model", best_epoch, best_value, step)
