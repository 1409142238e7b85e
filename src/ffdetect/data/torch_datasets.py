"""PyTorch datasets over a prepare manifest: frames for training, whole videos for evaluation."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterable
from pathlib import Path

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset

from .manifest import read_manifest
from .video import sample_indices

__all__ = ["FaceFrames", "VideoFaces", "collate_videos", "load_manifest", "read_rgb"]


def _as_set(v: str | Iterable[str] | None) -> set[str] | None:
    if v is None:
        return None
    return {v} if isinstance(v, str) else set(v)


def load_manifest(
    manifest: str | Path,
    split: str | Iterable[str] | None = None,
    frames_per_video: int | None = None,
    methods: str | Iterable[str] | None = None,
    datasets: str | Iterable[str] | None = None,
) -> OrderedDict[str, list[dict]]:
    """Manifest rows grouped by video (sorted by id, frames in order), filtered.

    ``frames_per_video`` keeps that many of each video's crops at equal steps (all when None).
    Crop paths are resolved against the manifest's folder. A malformed manifest or a selected
    crop that is not on disk raises :class:`~ffdetect.data.readers.DatasetError` naming it.
    """
    manifest = Path(manifest)
    splits, meths, dsets = _as_set(split), _as_set(methods), _as_set(datasets)
    groups: dict[str, list[dict]] = {}
    for r in read_manifest(manifest):
        if splits is not None and r["split"] not in splits:
            continue
        if meths is not None and r["method"] not in meths:
            continue
        if dsets is not None and r["dataset"] not in dsets:
            continue
        r["path"] = str(manifest.parent / r["crop_path"])
        groups.setdefault(r["video_id"], []).append(r)
    out: OrderedDict[str, list[dict]] = OrderedDict()
    for vid in sorted(groups):
        rows = sorted(groups[vid], key=lambda r: int(r["frame"]))
        if frames_per_video is not None and len(rows) > frames_per_video:
            rows = [rows[i] for i in sample_indices(len(rows), frames_per_video)]
        out[vid] = rows
    _check_crops(manifest, [r for rows in out.values() for r in rows])
    return out


def _check_crops(manifest: Path, rows: list[dict]) -> None:
    """Every selected crop must exist (fail before a long run, naming the first missing one)."""
    from .readers import DatasetError

    missing = [r for r in rows if not Path(r["path"]).is_file()]
    if missing:
        more = f" and {len(missing) - 1} more" if len(missing) > 1 else ""
        raise DatasetError(
            f"{manifest}: face crop {missing[0]['path']} (video {missing[0]['video_id']}, frame "
            f"{missing[0]['frame']}) is not on disk{more}"
        )


def read_rgb(path: str | Path) -> np.ndarray:
    """An image file as an RGB uint8 array; ``OSError`` when it cannot be read."""
    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if img is None:
        raise OSError(f"cannot read face crop {path}")
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


def _apply(transform: Callable | None, img: np.ndarray) -> torch.Tensor:
    if transform is not None:
        out = transform(image=img)
        return out["image"] if isinstance(out, dict) else out
    return torch.from_numpy(img).permute(2, 0, 1).float().div(255.0)


class _ManifestFaces(Dataset):
    """The selected rows of a manifest: by video (``videos``, ``ids``) and flat (``samples``)."""

    def __init__(
        self,
        manifest: str | Path,
        split: str | Iterable[str] | None = None,
        frames_per_video: int | None = 8,
        transform: Callable | None = None,
        methods: str | Iterable[str] | None = None,
        datasets: str | Iterable[str] | None = None,
    ):
        self.videos = load_manifest(manifest, split, frames_per_video, methods, datasets)
        self.ids = list(self.videos)
        self.samples = [r for rows in self.videos.values() for r in rows]
        self.transform = transform


class FaceFrames(_ManifestFaces):
    """Every selected face crop is a sample: ``(image, label, video_id)``.

    ``transform`` is an albumentations pipeline (see :mod:`ffdetect.data.transforms`); without one
    the image is a float tensor in [0, 1].
    """

    @property
    def labels(self) -> list[int]:
        """Label of every sample (for samplers and class counts)."""
        return [int(r["label"]) for r in self.samples]

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int, str]:
        r = self.samples[i]
        return _apply(self.transform, read_rgb(r["path"])), int(r["label"]), r["video_id"]


class VideoFaces(_ManifestFaces):
    """One sample per video: ``(images [n, 3, H, W], label, video_id)`` for video-level scoring."""

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int, str]:
        vid = self.ids[i]
        rows = self.videos[vid]
        imgs = torch.stack([_apply(self.transform, read_rgb(r["path"])) for r in rows])
        return imgs, int(rows[0]["label"]), vid


def collate_videos(batch: list) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, list[str]]:
    """Batch videos of different lengths: (all frames, frame -> video index, labels, ids)."""
    frames = torch.cat([b[0] for b in batch])
    owner = torch.cat([torch.full((len(b[0]),), k, dtype=torch.long) for k, b in enumerate(batch)])
    labels = torch.tensor([b[1] for b in batch], dtype=torch.long)
    return frames, owner, labels, [b[2] for b in batch]
