"""What the training-curve tests of train and pretrain share."""

from __future__ import annotations

from pathlib import Path

import cv2

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def png_size(path: Path) -> tuple[int, int]:
    """Width and height of the PNG ``path``, which must decode whole."""
    assert path.read_bytes()[:8] == PNG_MAGIC, path
    image = cv2.imread(str(path))
    assert image is not None, path
    return image.shape[1], image.shape[0]
