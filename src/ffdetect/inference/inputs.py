"""What ``detect`` reads: expanding paths, folders and globs, and telling images from videos.

The kind of a file is decided by decoding it (Pillow for images, PyAV for videos), never by its
extension alone: extensions only choose which files a folder contributes. A file Pillow recognises
is an image, and when it cannot be read the error says why: too large (Pillow's decompression-bomb
limit, or a caller's lower one), truncated, or otherwise damaged.
"""

from __future__ import annotations

import glob
from collections.abc import Iterator
from contextlib import contextmanager
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


def pixel_limit(max_image_pixels: int | None = None) -> int | None:
    """The most pixels an image may have: ``max_image_pixels``, capped by Pillow's own limit
    (twice ``PIL.Image.MAX_IMAGE_PIXELS``, past which it refuses to open a file); ``None``: none.
    """
    pillow = None if Image.MAX_IMAGE_PIXELS is None else 2 * int(Image.MAX_IMAGE_PIXELS)
    limits = [n for n in (max_image_pixels, pillow) if n is not None]
    return min(limits) if limits else None


def declared_size(path: Path) -> tuple[int, int] | None:
    """Width and height that an image file's header declares, read without decoding pixels and
    without Pillow's size limit (which refuses the images it would have to measure); ``None``
    when no Pillow format reads the header.
    """
    Image.init()
    with path.open("rb") as fp:
        prefix = fp.read(16)
        for fmt in Image.ID:
            factory, accept = Image.OPEN[fmt]
            verdict = accept(prefix) if accept is not None else True
            if not verdict or isinstance(verdict, str):
                continue
            try:
                fp.seek(0)
                return factory(fp, str(path)).size
            except Exception:  # noqa: BLE001 - the next format may read it
                continue
    return None


def too_large(path: Path, limit: int | None, size: tuple[int, int] | None = None) -> MediaError:
    """The error for an image of more than ``limit`` pixels (``size`` read from the header)."""
    size = size or declared_size(path)
    what = f"{size[0]} x {size[1]} pixels" if size else "size unknown"
    return MediaError(f"image too large ({what}, limit {limit or 0:,} pixels)")


@contextmanager
def image_errors(path: Path, limit: int | None) -> Iterator[None]:
    """Turn Pillow's errors while reading the image at ``path`` into a :class:`MediaError`
    saying what is wrong: too large, truncated, or damaged (with Pillow's reason).
    """
    try:
        yield
    except MediaError:
        raise
    except Image.DecompressionBombError:
        raise too_large(path, limit) from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        if "truncated" in str(exc).lower():
            raise MediaError("truncated image: the file ends before its pixel data does") from None
        raise MediaError(f"damaged image ({type(exc).__name__}: {exc})") from None


def _sniff_image(path: Path, limit: int | None) -> Media | None:
    """``path`` as an image if Pillow recognises it, else ``None``; its size and data checked."""
    with image_errors(path, limit):
        try:
            img = Image.open(path)
        except OSError as exc:
            if "truncated" in str(exc).lower():  # the header itself is cut short
                raise
            return None  # UnidentifiedImageError and the like: perhaps a video
        with img:
            width, height = img.size
            if limit is not None and width * height > limit:
                raise too_large(path, limit, (width, height))
            img.verify()
    return Media(path, "image", width, height)


def sniff(path: str | Path, max_image_pixels: int | None = None) -> Media:
    """Decode enough of ``path`` to know whether it is an image or a video.

    Raises :class:`MediaError` saying what is wrong with a file that is neither, and for an
    image: more pixels than :func:`pixel_limit` allows, truncated, or damaged.
    """
    path = Path(path)
    if not path.is_file():
        raise MediaError(f"no such file: {path}")
    image = _sniff_image(path, pixel_limit(max_image_pixels))
    if image is not None:
        return image
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
    """An image file as RGB uint8 (EXIF orientation applied; see :func:`to_rgb8`).

    Raises :class:`MediaError` for a too large, truncated or damaged image (:func:`image_errors`).
    """
    path = Path(path)
    with image_errors(path, pixel_limit()), Image.open(path) as img:
        return to_rgb8(ImageOps.exif_transpose(img))
