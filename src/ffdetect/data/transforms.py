"""Augmentations of METHOD.md section 2 (albumentations) and ImageNet normalisation."""

from __future__ import annotations

from typing import Any

import albumentations as A
import numpy as np
from albumentations.pytorch import ToTensorV2

from ffdetect.checkpoint.metadata import IMAGENET_MEAN, IMAGENET_STD

__all__ = ["IMAGENET_MEAN", "IMAGENET_STD", "SquareCutout", "eval_transform", "train_transform"]


class SquareCutout(A.ImageOnlyTransform):
    """Cutout with square holes: ``num_holes`` holes of side ``size`` px, filled with ``fill``."""

    def __init__(
        self,
        num_holes: tuple[int, int] = (1, 3),
        size: tuple[int, int] = (4, 128),
        fill: int = 0,
        p: float = 1.0,
    ):
        super().__init__(p=p)
        self.num_holes = tuple(num_holes)
        self.size = tuple(size)
        self.fill = fill

    def get_params_dependent_on_data(self, params: dict, data: dict) -> dict:
        h, w = params["shape"][:2]
        holes = []
        for _ in range(self.py_random.randint(*self.num_holes)):
            s = self.py_random.randint(self.size[0], min(self.size[1], h, w))
            y = self.py_random.randint(0, h - s)
            x = self.py_random.randint(0, w - s)
            holes.append((x, y, s))
        return {"holes": holes}

    def apply(self, img: np.ndarray, holes: list = (), **params: Any) -> np.ndarray:
        img = img.copy()
        for x, y, s in holes:
            img[y : y + s, x : x + s] = self.fill
        return img

    def get_transform_init_args_names(self) -> tuple[str, ...]:
        return ("num_holes", "size", "fill")


def train_transform(size: int = 224, cutout: bool = True) -> A.Compose:
    """Training pipeline: RGB shift, hue/saturation, brightness/contrast (p=0.3 each), JPEG 40-100
    (p=0.5), horizontal flip (p=0.5), to-gray (p=0.01), cutout (1-3 square holes of 4-128 px),
    resize to ``size`` if needed, ImageNet normalisation, CHW float tensor."""
    ops = [
        A.Resize(size, size),
        A.RGBShift(p=0.3),
        A.HueSaturationValue(p=0.3),
        A.RandomBrightnessContrast(p=0.3),
        A.ImageCompression(quality_range=(40, 100), p=0.5),
        A.HorizontalFlip(p=0.5),
        A.ToGray(p=0.01),
    ]
    if cutout:
        ops.append(SquareCutout(num_holes=(1, 3), size=(4, 128), p=1.0))
    ops += [A.Normalize(mean=IMAGENET_MEAN, std=IMAGENET_STD), ToTensorV2()]
    return A.Compose(ops)


def eval_transform(size: int = 224) -> A.Compose:
    """Evaluation pipeline: resize if needed, ImageNet normalisation, CHW float tensor."""
    return A.Compose(
        [A.Resize(size, size), A.Normalize(mean=IMAGENET_MEAN, std=IMAGENET_STD), ToTensorV2()]
    )
