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
from ffdetect.errors import UserError

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".gif")
MEDIA_EXTENSIONS = IMAGE_EXTENSIONS + VIDEO_EXTENSIONS


class MediaError(UserError):
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


def to_rgb8(img: Image.Image) -> np.ndarray:
    """A Pillow image as RGB uint8, with 16- and 32-bit greyscale scaled, not clipped.

    Pillow's own ``convert("RGB")`` clips ``I;16`` / ``I;16B`` / ``I`` pixels at 255, turning a
    16-bit photo white. Here 16-bit modes are scaled by 255 / 65535; mode ``I`` (32-bit
    integers, e.g. some TIFFs) is read as 16-bit when any value exceeds 255 and as 8-bit
    otherwise; mode ``F`` as [0, 1] when its values lie there, else as 8-bit. 16-bit RGB PNGs
    already open as 8-bit RGB (Pillow keeps the high bytes).
    """
    mode = img.mode
    if not (mode.startswith("I") or mode == "F"):
        return np.asarray(img.convert("RGB"))
    grey = np.asarray(img).astype(np.float64)
    if mode.startswith("I;16") or (mode == "I" and grey.size and grey.max() > 255):
        grey = grey * (255.0 / 65535.0)
    elif mode == "F" and grey.size and grey.min() >= 0.0 and grey.max() <= 1.0:
        grey = grey * 255.0
    grey8 = np.clip(np.rint(grey), 0, 255).astype(np.uint8)
    return np.repeat(grey8[..., None], 3, axis=2)


def load_image(path: str | Path) -> np.ndarray:
    """An image file as RGB uint8 (EXIF orientation applied; see :func:`to_rgb8`)."""
    with Image.open(path) as img:
        return to_rgb8(ImageOps.exif_transpose(img))
