"""Training and validation datasets from a prepared directory (``ffdetect prepare`` output)."""

from __future__ import annotations

from pathlib import Path

import torch
from torch.utils.data import Dataset

from ffdetect.data.torch_datasets import FaceFrames
from ffdetect.data.transforms import eval_transform, train_transform
from ffdetect.train.config import TrainConfig
from ffdetect.train.session import sample_seed


class EpochSeeded(Dataset):
    """Seeds the augmentation of sample ``i`` from ``(seed, epoch, i)``.

    Augmentations then do not depend on which process or worker draws a sample, nor on whether
    the run was resumed: DDP equals single-process training and a resumed run equals an
    unbroken one.
    """

    def __init__(self, base: FaceFrames, seed: int) -> None:
        self.base = base
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Called by the training loop before each epoch."""
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.base)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int, str]:
        if self.base.transform is not None and hasattr(self.base.transform, "set_random_seed"):
            self.base.transform.set_random_seed(sample_seed(self.seed, self.epoch, i))
        return self.base[i]


def twin_key(video_id: str) -> str:
    """What a real video and its fake twin share: the id after its first path component
    (``real/X`` and ``fake/X`` -> ``X``); an id without one is its own key."""
    return video_id.split("/", 1)[-1]


def twin_groups(dataset: Dataset) -> list[list[int]]:
    """The sample indices of ``dataset`` (:class:`FaceFrames`, bare or :class:`EpochSeeded`)
    grouped by :func:`twin_key`, in order of first appearance. Raises ``ValueError`` when no
    group holds both a real and a fake sample: nothing would be paired."""
    base = dataset.base if isinstance(dataset, EpochSeeded) else dataset
    groups: dict[str, list[int]] = {}
    for i, row in enumerate(base.samples):
        groups.setdefault(twin_key(row["video_id"]), []).append(i)
    labels = [int(row["label"]) for row in base.samples]
    if not any(len({labels[i] for i in g}) == 2 for g in groups.values()):
        raise ValueError(
            "data.paired: no real video has a fake twin (ids real/X and fake/X); "
            "set data.paired=false for this data"
        )
    return list(groups.values())


def prepared_datasets(cfg: TrainConfig, data_dir: str | Path) -> tuple[Dataset, Dataset | None]:
    """The train split (augmented, epoch-seeded) and the validation split (or None if empty).

    Only these two splits are read; test images are never opened by training.
    """
    manifest = Path(data_dir) / "manifest.csv"
    if not manifest.is_file():
        raise FileNotFoundError(f"{manifest} not found: prepare the data with `ffdetect prepare`")
    size, frames = cfg.model.img_size, cfg.data.frames_per_video
    d = cfg.data
    augment = (
        train_transform(size, d.cutout, d.cutout_style, d.colour_limits)
        if d.augment
        else eval_transform(size)
    )
    train_set = FaceFrames(
        manifest, split=cfg.data.train_split, frames_per_video=frames, transform=augment
    )
    if len(train_set) == 0:
        raise ValueError(f"{manifest} has no faces in split {cfg.data.train_split!r}")
    val_set = FaceFrames(
        manifest,
        split=d.val_split,
        frames_per_video=frames,
        transform=eval_transform(size, d.cutout_style if d.val_cutout else None),
    )
    return EpochSeeded(train_set, cfg.run.seed), (val_set if len(val_set) else None)
