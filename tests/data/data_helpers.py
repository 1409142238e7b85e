"""Helpers of the data tests: synthetic videos made from package-shipped photos."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

SHARED = Path(__file__).resolve().parents[2].parent / "shared"
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"


def astronaut() -> np.ndarray:
    from skimage import data

    return data.astronaut()


def grace_hopper() -> np.ndarray:
    from matplotlib import cbook

    with cbook.get_sample_data("grace_hopper.jpg") as fh:
        buf = np.frombuffer(fh.read(), np.uint8)
    return cv2.cvtColor(cv2.imdecode(buf, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


def write_video(path: Path, frames: list[np.ndarray], fps: int = 10) -> None:
    """Write RGB frames with PyAV (H.264 when available, else MPEG-4)."""
    import av

    path.parent.mkdir(parents=True, exist_ok=True)
    h, w = frames[0].shape[:2]
    with av.open(str(path), "w") as c:
        try:
            st = c.add_stream("libx264", rate=fps)
        except Exception:
            st = c.add_stream("mpeg4", rate=fps)
        st.width, st.height, st.pix_fmt = w, h, "yuv420p"
        for f in frames:
            for pk in st.encode(av.VideoFrame.from_ndarray(f, format="rgb24")):
                c.mux(pk)
        for pk in st.encode():
            c.mux(pk)


def pan_zoom(photo: np.ndarray, n: int, size=(192, 144), seed: int = 0) -> list[np.ndarray]:
    """Frames panning and zooming over a photo (the face stays in view)."""
    rng = np.random.default_rng(seed)
    h, w = photo.shape[:2]
    out = []
    zoom0, zoom1 = rng.uniform(0.75, 0.9), rng.uniform(0.55, 0.7)
    dx = rng.uniform(-0.08, 0.08)
    for t in range(n):
        a = t / max(1, n - 1)
        z = zoom0 + (zoom1 - zoom0) * a
        cw, ch = w * z, w * z * size[1] / size[0]
        cx = w * (0.5 + dx * (2 * a - 1))
        cy = min(h - ch / 2, max(ch / 2, h * 0.4))
        m = np.array([[size[0] / cw, 0, size[0] / 2 - size[0] / cw * cx],
                      [0, size[0] / cw, size[1] / 2 - size[0] / cw * cy]])  # fmt: skip
        out.append(cv2.warpAffine(photo, m, size, flags=cv2.INTER_AREA))
    return out


def faceless(n: int, size=(192, 144)) -> list[np.ndarray]:
    """Smooth moving colour gradients: no faces."""
    x = np.linspace(0, 1, size[0])[None, :, None]
    y = np.linspace(0, 1, size[1])[:, None, None]
    return [
        (255 * np.concatenate([x + 0 * y, y + 0 * x, (x + y + t / n) % 1], axis=2) % 256).astype(
            np.uint8
        )
        for t in range(n)
    ]


def truncated(src: Path, dst: Path, keep: float = 0.5) -> None:
    data = src.read_bytes()
    dst.parent.mkdir(parents=True, exist_ok=True)
    dst.write_bytes(data[: int(len(data) * keep)])
