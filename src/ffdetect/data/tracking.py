"""Linking face detections across frames by box overlap (IoU), to keep one person per video."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from .detectors import Face

__all__ = ["Track", "iou", "link_tracks", "main_track"]


def iou(a: Sequence[float], b: Sequence[float]) -> float:
    """Intersection over union of two (x1, y1, x2, y2) boxes."""
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = w * h
    ua = max(0.0, a[2] - a[0]) * max(0.0, a[3] - a[1]) + max(0.0, b[2] - b[0]) * max(
        0.0, b[3] - b[1]
    )
    return inter / (ua - inter) if ua - inter > 0 else 0.0


@dataclass
class Track:
    """Faces of one person: frame index -> face."""

    faces: dict[int, Face] = field(default_factory=dict)

    @property
    def length(self) -> int:
        """Number of frames the track covers."""
        return len(self.faces)

    @property
    def mean_area(self) -> float:
        """Mean box area over the track."""
        return sum(f.area for f in self.faces.values()) / max(1, len(self.faces))

    def nearest_box(self, frame: int) -> tuple[float, float, float, float]:
        """Box of the track at the frame closest to ``frame``."""
        k = min(self.faces, key=lambda i: (abs(i - frame), i))
        return self.faces[k].box


def link_tracks(
    detections: dict[int, list[Face]], min_iou: float = 0.3, max_gap: int | None = None
) -> list[Track]:
    """Greedy IoU linking over frames in increasing order.

    Each face joins the track whose latest box overlaps it most (IoU >= ``min_iou``; a track takes
    at most one face per frame); otherwise it starts a new track. ``max_gap`` (frames) optionally
    ends tracks that have not been seen for that long.
    """
    tracks: list[Track] = []
    last: list[int] = []
    for fi in sorted(detections):
        faces = sorted(detections[fi], key=lambda f: -f.score)
        pairs = []
        for ti, tr in enumerate(tracks):
            if max_gap is not None and fi - last[ti] > max_gap:
                continue
            box = tr.faces[last[ti]].box
            for fj, f in enumerate(faces):
                o = iou(box, f.box)
                if o >= min_iou:
                    pairs.append((o, ti, fj))
        pairs.sort(key=lambda t: (-t[0], t[1], t[2]))
        used_t, used_f = set(), set()
        for _, ti, fj in pairs:
            if ti in used_t or fj in used_f:
                continue
            tracks[ti].faces[fi] = faces[fj]
            last[ti] = fi
            used_t.add(ti)
            used_f.add(fj)
        for fj, f in enumerate(faces):
            if fj not in used_f:
                tracks.append(Track({fi: f}))
                last.append(fi)
    return tracks


def main_track(tracks: list[Track]) -> Track | None:
    """The longest track; the larger mean box breaks ties."""
    if not tracks:
        return None
    return max(tracks, key=lambda t: (t.length, t.mean_area))
