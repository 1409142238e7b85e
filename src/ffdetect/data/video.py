"""Video decoding (PyAV) and even frame sampling."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ffdetect.errors import UserError

__all__ = [
    "count_decodable",
    "iter_frames",
    "VideoError",
    "VideoInfo",
    "probe_video",
    "read_frames",
    "sample_frames",
    "sample_indices",
]

VIDEO_EXTENSIONS = (
    ".mp4",
    ".avi",
    ".mov",
    ".mkv",
    ".webm",
    ".m4v",
    ".mpg",
    ".mpeg",
    ".flv",
    ".wmv",
)


class VideoError(UserError):
    """A video that cannot be read; ``reason`` is a short machine-readable tag."""

    def __init__(self, reason: str, message: str):
        super().__init__(f"{reason}: {message}")
        self.reason = reason
        self.message = message


@dataclass(frozen=True)
class VideoInfo:
    """What the container says about the first video stream (``frames`` counted if unknown).

    ``seconds`` is the stream's (else the container's) duration, 0 when neither says;
    :attr:`duration` prefers ``frames / fps``, which is what decoding costs in time.
    """

    frames: int
    fps: float
    width: int
    height: int
    seconds: float = 0.0

    @property
    def duration(self) -> float:
        """Seconds of video: ``frames / fps`` when the rate is known, else ``seconds``."""
        if self.fps > 0:
            return self.frames / self.fps
        return self.seconds


def _open(path: str | Path):
    import av

    p = Path(path)
    if not p.is_file():
        raise VideoError("missing", f"no such file: {p}")
    if p.stat().st_size == 0:
        raise VideoError("empty", "zero-length file")
    try:
        container = av.open(str(p))
    except Exception as e:  # PyAV raises several error types for non-videos
        raise VideoError("unreadable", f"{type(e).__name__}: {e}") from e
    if not container.streams.video:
        container.close()
        raise VideoError("no_video_stream", "the file has no video stream")
    return container


def probe_video(path: str | Path) -> VideoInfo:
    """Frame count, frame rate and size of a video; counts packets when the header has no count."""
    container = _open(path)
    try:
        st = container.streams.video[0]
        n = int(st.frames or 0)
        if n <= 0:
            try:
                n = sum(1 for pk in container.demux(st) if pk.size > 0)
            except Exception as e:
                raise VideoError("corrupt", f"{type(e).__name__}: {e}") from e
        fps = float(st.average_rate) if st.average_rate else 0.0
        if st.duration and st.time_base:
            seconds = float(st.duration * st.time_base)
        else:
            seconds = float(container.duration or 0) / 1e6  # AV_TIME_BASE units
        return VideoInfo(
            frames=n,
            fps=fps,
            width=int(st.width or 0),
            height=int(st.height or 0),
            seconds=max(0.0, seconds),
        )
    finally:
        container.close()


def sample_indices(n_frames: int, n: int) -> list[int]:
    """``n`` frame indices at equal steps over ``[0, n_frames)``, first and last included."""
    if n_frames <= 0 or n <= 0:
        return []
    if n >= n_frames:
        return list(range(n_frames))
    if n == 1:
        return [n_frames // 2]
    return sorted({int(round(x)) for x in np.linspace(0, n_frames - 1, n)})


def iter_frames(path: str | Path, indices: Iterable[int]) -> Iterator[tuple[int, np.ndarray]]:
    """Decode the frames at ``indices`` (decode order, 0-based) one by one, in increasing order,
    as ``(index, RGB uint8 array)`` pairs.

    Decodes sequentially up to the largest index and converts only the wanted frames, so a caller
    can work on one frame while the next is decoded. Indices past the end of a short or truncated
    video are simply absent. Raises :class:`VideoError` when the file cannot be opened or nothing
    at all can be decoded.
    """
    wanted = sorted(set(int(i) for i in indices if i >= 0))
    if not wanted:
        return
    last = wanted[-1]
    wanted_set = set(wanted)
    container = _open(path)
    decoded = 0
    try:
        st = container.streams.video[0]
        st.thread_type = "AUTO"
        frames = container.decode(st)
        while True:
            try:
                frame = next(frames, None)
            except Exception as e:
                if decoded == 0:
                    raise VideoError("corrupt", f"{type(e).__name__}: {e}") from e
                break  # a truncated stream: keep what was decoded before the damage
            if frame is None:
                break
            i = decoded
            decoded += 1
            if i in wanted_set:
                yield i, frame.to_ndarray(format="rgb24")
            if i >= last:
                break
    finally:
        container.close()
    if decoded == 0:
        raise VideoError("no_frames", "no frame could be decoded")


def read_frames(path: str | Path, indices: Iterable[int]) -> dict[int, np.ndarray]:
    """The frames at ``indices`` as a dict of RGB uint8 arrays (see :func:`iter_frames`)."""
    return dict(iter_frames(path, indices))


def count_decodable(path: str | Path) -> int:
    """Number of frames that decode before the end or the first error (for damaged files)."""
    container = _open(path)
    n = 0
    try:
        st = container.streams.video[0]
        st.thread_type = "AUTO"
        try:
            for _ in container.decode(st):
                n += 1
        except Exception:
            pass
    finally:
        container.close()
    return n


def sample_frames(path: str | Path, n: int = 8) -> list[tuple[int, np.ndarray]]:
    """``n`` evenly spaced RGB frames of a video as ``(index, frame)`` pairs (for inference)."""
    info = probe_video(path)
    idx = sample_indices(info.frames, n)
    frames = read_frames(path, idx)
    return sorted(frames.items())
