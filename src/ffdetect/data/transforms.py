"""Augmentations of METHOD.md section 2 (albumentations) and ImageNet normalisation."""

from __future__ import annotations

from typing import Any

import albumentations as A
import numpy as np
from albumentations.pytorch import ToTensorV2

from ffdetect.checkpoint.metadata import IMAGENET_MEAN, IMAGENET_STD

__all__ = [
    "COLOUR_LIMITS",
    "CUTOUT_STYLES",
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "SquareCutout",
    "recipe_cutout",
    "eval_transform",
    "train_transform",
]


#: Colour-jitter limits: the authors' arguments (their code) or albumentations' defaults.
COLOUR_LIMITS: dict[str, dict[str, dict[str, Any]]] = {
    "authors": {
        "rgb_shift": {"r_shift_limit": 20, "g_shift_limit": 20, "b_shift_limit": 20},
        "hue_saturation": {"hue_shift_limit": 0.3, "sat_shift_limit": 0.3, "val_shift_limit": 0.3},
        "brightness_contrast": {"brightness_limit": 0.3, "contrast_limit": 0.3},
    },
    "albumentations": {"rgb_shift": {}, "hue_saturation": {}, "brightness_contrast": {}},
}
#: Cutout styles: ``ffdetect`` (METHOD.md order: holes of independent sizes filled black, then
#: normalisation) or ``authors`` (after normalisation, so holes hold the mean colour; one size
#: for all holes of an image).
CUTOUT_STYLES = ("ffdetect", "authors")


class SquareCutout(A.ImageOnlyTransform):
    """Cutout with square holes: ``num_holes`` holes of side ``size`` px, filled with ``fill``.

    ``same_size`` draws one side length per image for all its holes (the authors' cutout)
    instead of one per hole.
    """

    def __init__(
        self,
        num_holes: tuple[int, int] = (1, 3),
        size: tuple[int, int] = (4, 128),
        fill: float = 0,
        same_size: bool = False,
        p: float = 1.0,
    ):
        super().__init__(p=p)
        self.num_holes = tuple(num_holes)
        self.size = tuple(size)
        self.fill = fill
        self.same_size = same_size

    def get_params_dependent_on_data(self, params: dict, data: dict) -> dict:
        h, w = params["shape"][:2]
        holes = []
        side = self.py_random.randint(self.size[0], min(self.size[1], h, w))
        for _ in range(self.py_random.randint(*self.num_holes)):
            s = (
                side
                if self.same_size
                else self.py_random.randint(self.size[0], min(self.size[1], h, w))
            )
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
        return ("num_holes", "size", "fill", "same_size")


def recipe_cutout(style: str = "ffdetect") -> SquareCutout:
    """The recipe's cutout (1-3 square holes of 4-128 px) in the given style."""
    if style not in CUTOUT_STYLES:
        raise ValueError(f"cutout style must be one of {', '.join(CUTOUT_STYLES)}, got {style!r}")
    return SquareCutout(num_holes=(1, 3), size=(4, 128), same_size=style == "authors", p=1.0)


def _finish(ops: list, cutout_style: str | None) -> A.Compose:
    """Normalise and convert to a tensor, with cutout before (ffdetect) or after (authors)."""
    cut = [] if cutout_style is None else [recipe_cutout(cutout_style)]
    normalise = [A.Normalize(mean=IMAGENET_MEAN, std=IMAGENET_STD)]
    if cutout_style == "authors":
        return A.Compose([*ops, *normalise, *cut, ToTensorV2()])
    return A.Compose([*ops, *cut, *normalise, ToTensorV2()])


def train_transform(
    size: int = 224,
    cutout: bool = True,
    cutout_style: str = "ffdetect",
    colour_limits: str = "authors",
) -> A.Compose:
    """Training pipeline: RGB shift, hue/saturation, brightness/contrast (p=0.3 each; limits of
    :data:`COLOUR_LIMITS`), JPEG 40-100 (p=0.5), horizontal flip (p=0.5), to-gray (p=0.01),
    cutout (1-3 square holes of 4-128 px, :data:`CUTOUT_STYLES`), resize to ``size`` if needed,
    ImageNet normalisation, CHW float tensor."""
    if colour_limits not in COLOUR_LIMITS:
        raise ValueError(
            f"colour limits must be one of {', '.join(COLOUR_LIMITS)}, got {colour_limits!r}"
        )
    limits = COLOUR_LIMITS[colour_limits]
    ops = [
        A.Resize(size, size),
        A.RGBShift(**limits["rgb_shift"], p=0.3),
        A.HueSaturationValue(**limits["hue_saturation"], p=0.3),
        A.RandomBrightnessContrast(**limits["brightness_contrast"], p=0.3),
        A.ImageCompression(quality_range=(40, 100), p=0.5),
        A.HorizontalFlip(p=0.5),
        A.ToGray(p=0.01),
    ]
    return _finish(ops, cutout_style if cutout else None)


def eval_transform(size: int = 224, cutout_style: str | None = None) -> A.Compose:
    """Evaluation pipeline: resize if needed, ImageNet normalisation, CHW float tensor.

    ``cutout_style`` adds the training cutout (the authors also cut out validation images);
    ``None``, the default, keeps evaluation deterministic.
    """
    return _finish([A.Resize(size, size)], cutout_style)
