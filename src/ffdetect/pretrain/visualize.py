"""Reconstruction picture of the ``pixel`` target: input, masked input, prediction per face."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import torch

from ffdetect.checkpoint.metadata import IMAGENET_MEAN, IMAGENET_STD
from ffdetect.pretrain.model import MaskedImageModel
from ffdetect.pretrain.targets import PixelTarget, patchify, unpatchify


def _to_uint8(images: torch.Tensor) -> np.ndarray:
    mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    rgb = (images.float().cpu() * std + mean).clamp(0, 1)
    return (rgb.permute(0, 2, 3, 1).numpy() * 255).round().astype(np.uint8)


@torch.no_grad()
def reconstruct(
    model: MaskedImageModel, target: PixelTarget, images: torch.Tensor, mask: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """(masked input, prediction) images, ImageNet-normalised like ``images``.

    Predicted patches are mapped back with each original patch's mean and spread when the target
    is per-patch normalised (as MAE's pictures do); visible patches are copied from the input.
    """
    was_training = model.training
    model.eval()
    p = target.patch_size
    flat = mask.flatten(1)
    patches = patchify(images.float(), p)
    pred = model(images, flat).float()
    if target.norm_pix:
        mean, std = PixelTarget.patch_stats(patches)
        pred = pred * std[flat] + mean[flat]
    filled = patches.clone()
    filled[flat] = pred
    hidden = patches.clone()
    hidden[flat] = 0.0  # ImageNet-normalised 0: the mean colour
    model.train(was_training)
    return unpatchify(hidden, p, model.grid), unpatchify(filled, p, model.grid)


def save_reconstruction_png(
    model: MaskedImageModel,
    target: PixelTarget,
    images: torch.Tensor,
    mask: torch.Tensor,
    path: str | Path,
    min_side: int = 128,
) -> Path:
    """Write one row per face: input | masked input | prediction, upscaled to ``min_side`` px."""
    hidden, filled = reconstruct(model, target, images, mask)
    columns = [_to_uint8(images), _to_uint8(hidden), _to_uint8(filled)]
    rows = [np.concatenate([col[i] for col in columns], axis=1) for i in range(images.shape[0])]
    picture = np.concatenate(rows, axis=0)
    side = images.shape[-1]
    if side < min_side:
        scale = -(-min_side // side)
        picture = cv2.resize(
            picture,
            (picture.shape[1] * scale, picture.shape[0] * scale),
            interpolation=cv2.INTER_NEAREST,
        )
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    ok, png = cv2.imencode(".png", cv2.cvtColor(picture, cv2.COLOR_RGB2BGR))
    if not ok:
        raise OSError(f"could not encode {path}")
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(png.tobytes())
    tmp.replace(path)
    return path
