"""What ``detect`` reads: expanding paths, folders and globs, and telling images from videos.

The kind of a file is decided by decoding it (Pillow for images, PyAV for videos), never by its
extension alone: extensions only choose which files a folder contributes.
"""

from __future__ import annotations

import glob
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from ffdetect.data.video import VIDEO_EXTENSIONS, VideoError, VideoInfo, probe_video

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".gif")
MEDIA_EXTENSIONS = IMAGE_EXTENSIONS + VIDEO_EXTENSIONS


class MediaError(Exception):
    """A file that is neither a readable image nor a readable video."""


@dataclass(frozen=True)
class Media:
    """A sniffed input: its kind and, for a video, what the container says."""

    path: Path
    kind: str  # "image" or "video"
    width: int
    height: int
    video: VideoInfo | None = None


def expand_inputs(inputs: list[str]) -> list[Path]:
    """Files, folders (recursively: their image and video files) and globs, in order, unique.

    A path that does not exist and matches no glob is kept, so that it is reported as an error.
    """
    out: list[Path] = []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            found = (p for p in sorted(path.rglob("*")) if p.is_file())
            out += [p for p in found if p.suffix.lower() in MEDIA_EXTENSIONS]
        elif path.exists():
            out.append(path)
        elif any(ch in item for ch in "*?["):
            out += [Path(p) for p in sorted(glob.glob(item, recursive=True)) if Path(p).is_file()]
        else:
            out.append(path)
    seen: set[Path] = set()
    return [p for p in out if not (p in seen or seen.add(p))]


def sniff(path: str | Path, max_image_pixels: int | None = None) -> Media:
    """Decode enough of ``path`` to know whether it is an image or a video."""
    path = Path(path)
    if not path.is_file():
        raise MediaError(f"no such file: {path}")
    try:
        with Image.open(path) as img:
            width, height = img.size
            if max_image_pixels is not None and width * height > max_image_pixels:
                raise MediaError(f"image of {width}x{height} pixels is too large")
            img.verify()
        return Media(path, "image", width, height)
    except MediaError:
        raise
    except Exception:
        pass
    try:
        info = probe_video(path)
    except VideoError as exc:
        raise MediaError(f"not a readable image or video ({exc.message})") from None
    if info.frames <= 0 or info.width <= 0:
        raise MediaError("video has no decodable frames")
    return Media(path, "video", info.width, info.height, info)


def load_image(path: str | Path) -> np.ndarray:
    """An image file as RGB uint8 (EXIF orientation applied)."""
    with Image.open(path) as img:
        return np.asarray(ImageOps.exif_transpose(img).convert("RGB"))
