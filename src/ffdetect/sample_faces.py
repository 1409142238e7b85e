"""Face photos that installed packages ship: offline material for demos and tests."""

from __future__ import annotations

import numpy as np
from PIL import Image


def grace_hopper() -> np.ndarray:
    """Matplotlib's portrait of Grace Hopper (RGB uint8)."""
    from matplotlib import cbook

    with cbook.get_sample_data("grace_hopper.jpg") as fh:
        return np.asarray(Image.open(fh).convert("RGB"))


def astronaut() -> np.ndarray:
    """scikit-image's portrait of Eileen Collins (RGB uint8)."""
    from skimage import data

    return np.ascontiguousarray(data.astronaut())


def lfw_faces() -> np.ndarray:
    """scikit-image's 100 grey 25 px LFW face crops as RGB uint8, shape ``(100, 25, 25, 3)``.

    The subset holds 100 faces followed by 100 non-faces; only the faces are returned.
    """
    from skimage import data

    faces = data.lfw_subset()[:100]
    rgb = np.repeat((faces * 255).round().astype(np.uint8)[..., None], 3, axis=-1)
    return rgb


def named_photos() -> dict[str, np.ndarray]:
    """The full-size portraits by name."""
    return {"grace_hopper": grace_hopper(), "astronaut": astronaut()}


def center_square(image: np.ndarray) -> np.ndarray:
    """The largest centred square of an image."""
    h, w = image.shape[:2]
    side = min(h, w)
    top, left = (h - side) // 2, (w - side) // 2
    return image[top : top + side, left : left + side]
