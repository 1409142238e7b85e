"""What every dataset reader returns and shares: :class:`VideoItem`, its id rule, the errors.

Both the deepfake readers (:mod:`ffdetect.data.readers`) and the face anti-spoofing readers
(:mod:`ffdetect.data.pad.readers`) build on this module, so imports go one way:
``readers`` -> ``pad.readers`` -> ``items``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

from ffdetect.errors import UserError

from .video import VIDEO_EXTENSIONS

__all__ = ["SPLITS", "DatasetError", "VideoItem", "find_videos", "video_id", "video_item"]

SPLITS = ("train", "val", "test")


class DatasetError(UserError, ValueError):
    """The dataset root does not have the expected layout or label files."""


@dataclass(frozen=True)
class VideoItem:
    """One video of a dataset."""

    id: str
    path: str
    label: int
    split: str
    method: str
    dataset: str

    def as_dict(self) -> dict:
        """Fields as a plain dict."""
        return asdict(self)


def find_videos(folder: Path) -> list[Path]:
    """The video files (by extension) anywhere under ``folder``, sorted; none if it is absent."""
    if not folder.is_dir():
        return []
    return sorted(
        p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in VIDEO_EXTENSIONS
    )


def video_id(root: Path, path: Path) -> str:
    """A video's id: its path relative to the dataset root, without the extension (POSIX)."""
    return path.relative_to(root).with_suffix("").as_posix()


def video_item(
    root: Path, path: Path, label: int, split: str, method: str, dataset: str
) -> VideoItem:
    """The :class:`VideoItem` of the video at ``path`` under dataset ``root``."""
    return VideoItem(video_id(root, path), str(path), int(label), split, method, dataset)
