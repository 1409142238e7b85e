"""Face crops (RGB uint8 arrays) to normalised model input."""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np
import torch

from ffdetect.checkpoint.metadata import ModelMeta


def crops_to_tensor(crops: Sequence[np.ndarray], meta: ModelMeta) -> torch.Tensor:
    """Stack RGB uint8 crops into a normalised ``(N, 3, S, S)`` float tensor for the model.

    Crops of another size are resized bilinearly, as the evaluation transform does
    (:func:`ffdetect.data.transforms.eval_transform`); the model's mean and std are applied.
    """
    size = meta.architecture.img_size
    mean = np.asarray(meta.mean, dtype=np.float32) * 255.0
    std = np.asarray(meta.std, dtype=np.float32) * 255.0
    batch = np.empty((len(crops), size, size, 3), dtype=np.float32)
    for i, crop in enumerate(crops):
        if crop.ndim != 3 or crop.shape[2] != 3 or crop.dtype != np.uint8:
            raise ValueError(
                f"crop {i}: expected an RGB uint8 array, got {crop.dtype} {crop.shape}"
            )
        if crop.shape[:2] != (size, size):
            crop = cv2.resize(crop, (size, size), interpolation=cv2.INTER_LINEAR)
        batch[i] = crop
    batch = (batch - mean) / std
    return torch.from_numpy(batch).permute(0, 3, 1, 2).contiguous()
