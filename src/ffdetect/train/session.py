"""What the fine-tuning and the pre-training jobs share: the run directory, seeding, the
distributed epoch loader, step logs, atomic checkpoints and resume."""

from __future__ import annotations

import csv
import hashlib
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml
from torch import nn
from torch.utils.data import DataLoader, Dataset, DistributedSampler, Sampler

from ffdetect.checkpoint.model_format import load_backbone_weights, load_strict
from ffdetect.models.backbone import architecture_for, create_backbone
from ffdetect.train import checkpointing
from ffdetect.train import distributed as dist_utils
from ffdetect.train.batches import BatchSizeError, batches_per_epoch
from ffdetect.train.checkpointing import load_training_state, rng_state, save_atomic, set_rng_state
from ffdetect.train.config import ModelConfig


def build_backbone(m: ModelConfig) -> nn.Module:
    """The configured backbone, with its weights from ``m.init`` (strictly) when given."""
    arch = architecture_for(m.size, m.img_size, m.patch_size, m.depth)
    backbone = create_backbone(
        arch, drop_path_rate=m.drop_path_rate, grad_checkpointing=m.grad_checkpointing
    )
    if m.init:
        state, _ = load_backbone_weights(m.init, m.init_shared_rel_pos)
        load_strict(backbone, state, m.init)
    return backbone


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def seed_epoch(seed: int, epoch: int, info: dist_utils.DistInfo) -> None:
    """Seed an epoch from (seed, epoch, rank), so that a resumed run draws the same stream."""
    seed_everything(seed + 1000 * epoch + info.rank)


def sample_seed(seed: int, epoch: int, index: int) -> int:
    """A 32-bit seed for sample ``index`` in ``epoch`` of a run seeded ``seed``: augmentations
    then do not depend on the process or worker that draws the sample, nor on a resume."""
    digest = hashlib.blake2b(f"{seed}/{epoch}/{index}".encode(), digest_size=4).digest()
    return int.from_bytes(digest, "little")


def configure_determinism(enabled: bool) -> None:
    """Deterministic kernels (for resume-equals-unbroken checks); slower, CPU and CUDA."""
    torch.use_deterministic_algorithms(enabled, warn_only=False)
    if torch.backends.cudnn.is_available():
        torch.backends.cudnn.benchmark = not enabled
        torch.backends.cudnn.deterministic = enabled


def open_run_dir(
    run_dir: Path, config: dict[str, Any], resume: bool, info: dist_utils.DistInfo
) -> Path:
    """Create ``run_dir`` (refusing to overwrite a run unless resuming), write ``config.yaml``;
    returns the path of the last checkpoint."""
    ckpt_path = run_dir / "checkpoints" / "last.pt"
    if info.is_main:
        run_dir.mkdir(parents=True, exist_ok=True)
        if ckpt_path.exists() and not resume:
            raise FileExistsError(
                f"{run_dir} already holds a run; pass --resume or use a new --out"
            )
        checkpointing.recover_run_dir(run_dir, ckpt_path)  # logs back to the checkpoint
        (run_dir / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    dist_utils.barrier(info)
    return ckpt_path


def _worker_init(worker_id: int) -> None:
    seed = torch.initial_seed() % 2**32
    random.seed(seed)
    np.random.seed(seed)


class GroupSampler(Sampler[int]):
    """Shuffles whole groups of samples (a real face and its self-blended twin) and keeps each
    group in one batch where it fits. Every epoch (:meth:`set_epoch`) draws a new order of the
    groups from ``(seed, epoch)``; the order is cut into global batches of ``batch_size`` and each
    process takes its contiguous share of every batch, so that a global batch holds the same
    samples whatever the number of processes. Groups of two in even batches never straddle
    one; a group that would is cut at the batch edge. The last, incomplete batch is dropped."""

    def __init__(
        self, groups: list[list[int]], batch_size: int, seed: int, info: dist_utils.DistInfo
    ) -> None:
        self.groups = [list(g) for g in groups if g]
        self.batch_size = batch_size
        self.per_process = batch_size // info.world_size
        self.rank = info.rank
        self.seed = seed
        self.epoch = 0
        self.num_batches = sum(len(g) for g in self.groups) // batch_size

    def set_epoch(self, epoch: int) -> None:
        """Called by the training loop before each epoch."""
        self.epoch = epoch

    def __iter__(self):
        gen = torch.Generator()
        gen.manual_seed(self.seed + self.epoch)
        order = [i for k in torch.randperm(len(self.groups), generator=gen) for i in self.groups[k]]
        for b in range(self.num_batches):
            start = b * self.batch_size + self.rank * self.per_process
            yield from order[start : start + self.per_process]

    def __len__(self) -> int:
        return self.num_batches * self.per_process


def epoch_loader(
    dataset: Dataset,
    batch_size: int,
    num_workers: int,
    seed: int,
    info: dist_utils.DistInfo,
    groups: list[list[int]] | None = None,
) -> tuple[DataLoader, DistributedSampler | GroupSampler]:
    """Shuffled loader of the global batch ``batch_size`` split over the processes; with
    ``groups`` (lists of sample indices) each group is drawn together (:class:`GroupSampler`)."""
    batches_per_epoch(len(dataset), batch_size, "samples", info.world_size)
    per_process = batch_size // info.world_size
    sampler: DistributedSampler | GroupSampler
    if groups is not None:
        sampler = GroupSampler(groups, batch_size, seed, info)
    else:
        sampler = DistributedSampler(
            dataset,
            num_replicas=info.world_size,
            rank=info.rank,
            shuffle=True,
            seed=seed,
            drop_last=True,
        )
    loader = DataLoader(
        dataset,
        batch_size=per_process,
        sampler=sampler,
        drop_last=True,
        num_workers=num_workers,
        worker_init_fn=_worker_init,
        pin_memory=info.device.type == "cuda",
    )
    if len(loader) == 0:
        raise BatchSizeError(
            f"the {len(dataset)} samples, drawn in groups, do not fill one batch of "
            f"data.batch_size={batch_size}: set a smaller data.batch_size"
        )
    return loader, sampler


class RunLog:
    """Append-only CSV logs of steps and epochs, written by the main process."""

    def __init__(self, run_dir: Path, enabled: bool) -> None:
        self.run_dir = run_dir
        self.enabled = enabled
        self._fields: dict[str, list[str]] = {}  # header of each file, read once

    def _append(self, name: str, row: dict[str, Any]) -> None:
        if not self.enabled:
            return
        path = self.run_dir / name
        fields = self._fields.get(name)
        new_file = not path.exists()
        if fields is None:
            if new_file:
                fields = list(row)
            else:
                with path.open(newline="") as fh:
                    fields = next(csv.reader(fh))
            self._fields[name] = fields
        with path.open("a", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=fields, extrasaction="ignore")
            if new_file:
                writer.writeheader()
            writer.writerow(row)

    def step(self, row: dict[str, Any]) -> None:
        self._append("log.csv", row)

    def epoch(self, row: dict[str, Any]) -> None:
        self._append("epochs.csv", row)

    def truncate_steps(self, last_step: int) -> None:
        """Drop step rows past ``last_step`` (written by a run that was killed mid-epoch)."""
        path = self.run_dir / "log.csv"
        if not self.enabled or not path.exists():
            return
        with path.open(newline="") as fh:
            rows = list(csv.DictReader(fh))
        if not rows:
            return
        kept = [r for r in rows if int(r["step"]) <= last_step]
        with path.open("w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(kept)

    def step_callback(
        self,
        every: int,
        progress: Callable[[dict[str, float]], None] | None,
        info: dist_utils.DistInfo,
    ) -> Callable[[dict[str, float]], None]:
        """The ``on_step`` of the training loops: log every ``every`` steps, update the bar."""

        def on_step(terms: dict[str, float]) -> None:
            if terms["step"] % every == 0 or terms["step"] == 1:
                self.step(terms)
            if progress is not None and info.is_main:
                progress(terms)

        return on_step


def save_checkpoint(
    path: Path,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: Any,
    epoch: int,
    step: int,
    **extra: Any,
) -> None:
    """Write the full training state atomically (tensors and plain data only)."""
    state = {
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(),
        "rng": rng_state(),
        "epoch": epoch,
        "step": step,
        **extra,
    }
    save_atomic(state, path)


def restore_checkpoint(
    path: Path, model: nn.Module, optimizer: torch.optim.Optimizer, scheduler: Any, log: RunLog
) -> dict[str, Any]:
    """Load what :func:`save_checkpoint` wrote into the live objects; returns the whole state
    (``epoch``, ``step`` and the extra fields)."""
    state = load_training_state(path)
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    set_rng_state(state["rng"])
    log.truncate_steps(state["step"])
    return state
