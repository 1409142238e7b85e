"""Synthetic training data and a script entry point for subprocess / torchrun tests.

``python tests/train_support.py RUN_DIR [--resume] [key=value ...]`` trains the tiny test
configuration on :class:`SyntheticFrames`; torchrun can launch it with several processes.
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch
from torch.utils.data import Dataset

from ffdetect.config import from_dict
from ffdetect.train.config import TrainConfig


class SyntheticFrames(Dataset):
    """Noise images where fakes carry a faint bright square: learnable, tiny, deterministic."""

    def __init__(self, n_videos: int = 8, frames: int = 4, size: int = 32, seed: int = 0) -> None:
        gen = torch.Generator().manual_seed(seed)
        self.images = torch.randn(n_videos * frames, 3, size, size, generator=gen)
        self.labels = [(i // frames) % 2 for i in range(n_videos * frames)]
        self.videos = [f"video_{i // frames:03d}" for i in range(n_videos * frames)]
        for i, label in enumerate(self.labels):
            if label:
                self.images[i, :, size // 4 : size // 2, size // 4 : size // 2] += 1.5

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int):
        return self.images[i], self.labels[i], self.videos[i]


def tiny_config(**sections) -> TrainConfig:
    """A 2-block tiny-width competitive model on 32 px inputs, no augmentation, CPU friendly."""
    data = {
        "method": "competitive",
        "model": {
            "size": "tiny",
            "img_size": 32,
            "patch_size": 8,
            "depth": 2,
            "drop_path_rate": 0.0,
        },
        "optim": {"lr": 1e-3, "clip_grad": 1.0},
        "schedule": {"epochs": 3, "warmup_epochs": 1.0},
        "data": {"batch_size": 8, "eval_batch_size": 16, "num_workers": 0, "augment": False},
        "run": {"seed": 0, "deterministic": True, "log_every": 1},
    }
    for section, values in sections.items():
        if isinstance(values, dict):
            data.setdefault(section, {}).update(values)
        else:
            data[section] = values
    return from_dict(TrainConfig, data)


def main(argv: list[str]) -> None:
    from ffdetect.config import apply_overrides, to_dict
    from ffdetect.train.run import train

    run_dir, rest = Path(argv[0]), argv[1:]
    resume = "--resume" in rest
    overrides = [a for a in rest if a != "--resume"]
    cfg = from_dict(TrainConfig, apply_overrides(to_dict(tiny_config()), overrides))
    train(
        cfg,
        SyntheticFrames(n_videos=16),
        SyntheticFrames(n_videos=4, seed=1),
        run_dir,
        resume=resume,
    )


if __name__ == "__main__":
    main(sys.argv[1:])
