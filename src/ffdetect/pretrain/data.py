"""Real faces for pre-training: a prepared directory's real crops or a folder of images.

Every sample is ``(image, mask)``: an augmented, ImageNet-normalised face and its block mask.
Both are drawn from a seed derived from ``(seed, epoch, index)``, so a sample does not depend on
which process or worker reads it, nor on whether the run was resumed.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import albumentations as A
import numpy as np
import torch
from albumentations.pytorch import ToTensorV2
from torch.utils.data import Dataset

from ffdetect.checkpoint.metadata import IMAGENET_MEAN, IMAGENET_STD
from ffdetect.data.torch_datasets import load_manifest, read_rgb
from ffdetect.pretrain.masking import BlockMaskGenerator
from ffdetect.train.session import sample_seed

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")


def prepared_real_faces(
    data_dir: str | Path,
    splits: Sequence[str] | None = None,
    frames_per_video: int | None = None,
) -> list[Path]:
    """Real (label 0) face crops of a prepared directory; every split but ``test`` by default."""
    manifest = Path(data_dir) / "manifest.csv"
    videos = load_manifest(manifest, split=None, frames_per_video=frames_per_video)
    wanted = set(splits) if splits is not None else None
    paths = []
    for rows in videos.values():
        for row in rows:
            if int(row["label"]) != 0:
                continue
            if (row["split"] == "test") if wanted is None else (row["split"] not in wanted):
                continue
            paths.append(Path(row["path"]))
    return paths


def folder_faces(root: str | Path) -> list[Path]:
    """Every PNG/JPEG below ``root`` (recursively), sorted."""
    root = Path(root)
    return sorted(p for p in root.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())


def real_face_paths(
    data: str | Path,
    splits: Sequence[str] | None = None,
    frames_per_video: int | None = None,
) -> list[Path]:
    """Faces of a prepared directory (it has ``manifest.csv``) or of a plain image folder."""
    data = Path(data)
    if not data.is_dir():
        raise FileNotFoundError(f"{data} is not a directory of faces")
    if (data / "manifest.csv").is_file():
        paths = prepared_real_faces(data, splits, frames_per_video)
        what = "real faces in the selected splits of"
    else:
        paths = folder_faces(data)
        what = "PNG/JPEG images below"
    if not paths:
        raise ValueError(f"no {what} {data}")
    return paths


def pretrain_transform(
    size: int, crop_scale: Sequence[float] = (0.5, 1.0), flip: bool = True, colour: float = 0.0
) -> A.Compose:
    """Random resized crop (+ flip, optional brightness/contrast), ImageNet norm, CHW tensor."""
    ops: list[A.BasicTransform] = [
        A.RandomResizedCrop(size=(size, size), scale=tuple(crop_scale), ratio=(3 / 4, 4 / 3))
    ]
    if flip:
        ops.append(A.HorizontalFlip(p=0.5))
    if colour > 0:
        ops.append(A.RandomBrightnessContrast(p=colour))
    ops += [A.Normalize(mean=IMAGENET_MEAN, std=IMAGENET_STD), ToTensorV2()]
    return A.Compose(ops)


def plain_transform(size: int) -> A.Compose:
    """Resize, ImageNet norm, CHW tensor (reconstruction pictures)."""
    return A.Compose(
        [A.Resize(size, size), A.Normalize(mean=IMAGENET_MEAN, std=IMAGENET_STD), ToTensorV2()]
    )


class MaskedFaces(Dataset):
    """``(image, mask)`` pairs; ``set_epoch`` changes the draw of every sample."""

    def __init__(
        self,
        paths: Sequence[Path],
        transform: A.Compose,
        masks: BlockMaskGenerator,
        seed: int = 0,
    ) -> None:
        self.paths = list(paths)
        self.transform = transform
        self.masks = masks
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Called by the training loop before each epoch."""
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        seed = sample_seed(self.seed, self.epoch, i)
        self.transform.set_random_seed(seed)
        image = self.transform(image=read_rgb(self.paths[i]))["image"]
        mask = self.masks(np.random.default_rng(seed))
        return image, torch.from_numpy(mask)
