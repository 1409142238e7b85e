"""Manifest files: per-video records, ``manifest.csv`` / ``videos.csv``, atomic writes, merging.

``OUT/records/<video id>.json`` is the durable per-video result (written last, atomically, after
the video's PNGs); the CSV files are rebuilt from the records, so a run killed at any point and
resumed ends with the same CSVs as an uninterrupted run.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import json
import os
import re
import tempfile
from collections.abc import Iterable
from pathlib import Path

import cv2
import numpy as np

__all__ = [
    "MANIFEST_COLUMNS",
    "MANIFEST_REQUIRED",
    "VIDEO_COLUMNS",
    "atomic_write_bytes",
    "atomic_write_text",
    "file_sha256",
    "merge_shards",
    "read_csv",
    "read_manifest",
    "record_path",
    "records_to_rows",
    "write_csv",
]

MANIFEST_COLUMNS = [
    "video_id", "dataset", "method", "split", "label", "frame", "crop_path", "det_score",
    "box_x1", "box_y1", "box_x2", "box_y2",
    *[f"lm{i}_{c}" for i in range(5) for c in ("x", "y")],
]  # fmt: skip
#: The columns every reader of ``manifest.csv`` relies on (the others are informative).
MANIFEST_REQUIRED = ("video_id", "dataset", "method", "split", "label", "frame", "crop_path")
VIDEO_COLUMNS = [
    "video_id", "dataset", "method", "split", "label", "path",
    "frames_requested", "frames_found", "status", "error",
]  # fmt: skip


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder and a rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def png_bytes(rgb: np.ndarray) -> bytes:
    """An RGB uint8 image encoded as PNG."""
    ok, png = cv2.imencode(".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    if not ok:
        raise RuntimeError("PNG encoding failed")
    return png.tobytes()


def write_png(path: str | Path, rgb: np.ndarray) -> None:
    """Write an RGB uint8 image as a PNG file, atomically."""
    atomic_write_bytes(path, png_bytes(rgb))


def atomic_write_text(path: str | Path, text: str) -> None:
    """Text version of :func:`atomic_write_bytes` (UTF-8)."""
    atomic_write_bytes(path, text.encode("utf-8"))


def file_sha256(path: str | Path) -> str:
    """SHA-256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def record_path(out: str | Path, video_id: str) -> Path:
    """Where a video's record lives."""
    return Path(out) / "records" / f"{video_id}.json"


def write_csv(path: str | Path, columns: list[str], rows: Iterable[dict]) -> None:
    """Write rows (dicts) atomically as CSV with a header."""
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow(r)
    atomic_write_text(path, buf.getvalue())


def write_tables(out: str | Path, faces: Iterable[dict], videos: Iterable[dict]) -> Path:
    """Write a prepared dataset's ``manifest.csv`` (face rows) and ``videos.csv`` (video rows)
    into ``out``; returns the manifest's path."""
    out = Path(out)
    write_csv(out / "manifest.csv", MANIFEST_COLUMNS, faces)
    write_csv(out / "videos.csv", VIDEO_COLUMNS, videos)
    return out / "manifest.csv"


def face_row(base: dict, frame: int, crop: Path, score: float, box: tuple) -> dict:
    """A ``manifest.csv`` row of a crop made without landmarks (synthetic tasks)."""
    x1, y1, x2, y2 = box
    return {
        **base,
        "frame": frame,
        "crop_path": crop.as_posix(),
        "det_score": _fmt(score, 4),
        "box_x1": x1,
        "box_y1": y1,
        "box_x2": x2,
        "box_y2": y2,
    }


def write_clip(
    out: Path, base: dict, crops: list[np.ndarray], source: str
) -> tuple[list[dict], dict]:
    """Write a synthetic clip's ready crops to ``out/faces/<video_id>/<frame>.png``; returns
    their ``manifest.csv`` rows (each box the whole crop) and the clip's ``videos.csv`` row."""
    rows = []
    for frame, rgb in enumerate(crops):
        crop = Path("faces") / base["video_id"] / f"{frame:04d}.png"
        write_png(out / crop, rgb)
        h, w = rgb.shape[:2]
        rows.append(face_row(base, frame, crop, 1.0, (0, 0, w, h)))
    return rows, complete_video_row(base, source, len(crops))


def complete_video_row(base: dict, path: str, frames: int) -> dict:
    """A ``videos.csv`` row of a video that yielded all of its ``frames``."""
    return {
        **base,
        "path": path,
        "frames_requested": frames,
        "frames_found": frames,
        "status": "ok",
        "error": "",
    }


def read_csv(path: str | Path) -> list[dict]:
    """Rows of a CSV file as dicts of strings."""
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def read_manifest(path: str | Path) -> list[dict]:
    """Rows of a ``manifest.csv``, checked: :class:`~ffdetect.data.readers.DatasetError` names
    the file (and line) when it is missing, lacks one of :data:`MANIFEST_REQUIRED`, or holds a
    label other than 0/1 or a frame that is not an integer."""
    from .readers import DatasetError

    path = Path(path)
    try:
        with path.open(newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            header = reader.fieldnames or []
            rows = list(reader)
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DatasetError(f"{path}: cannot read the manifest: {exc}") from None
    missing = [c for c in MANIFEST_REQUIRED if c not in header]
    if missing:
        raise DatasetError(
            f"{path}: missing column(s) {', '.join(missing)} (a manifest written by "
            "`ffdetect prepare` has them all)"
        )
    for line, row in enumerate(rows, start=2):
        if row["label"] not in ("0", "1"):
            raise DatasetError(f"{path}:{line}: label {row['label']!r}, expected 0 or 1")
        if not str(row["frame"]).strip().lstrip("-").isdigit():
            raise DatasetError(f"{path}:{line}: frame {row['frame']!r} is not an integer")
    return rows


def _fmt(v: float, nd: int) -> str:
    return f"{float(v):.{nd}f}"


def records_to_rows(records: Iterable[dict]) -> tuple[list[dict], list[dict]]:
    """(manifest rows, video rows) from per-video records, sorted by video id and frame."""
    faces, videos = [], []
    for rec in sorted(records, key=lambda r: r["video"]["id"]):
        v = rec["video"]
        base = {
            "video_id": v["id"],
            "dataset": v["dataset"],
            "method": v["method"],
            "split": v["split"],
            "label": v["label"],
        }
        videos.append(
            {
                **base,
                "path": v["path"],
                "frames_requested": rec["frames_requested"],
                "frames_found": len(rec["faces"]),
                "status": rec["status"],
                "error": rec.get("error", ""),
            }
        )
        for f in sorted(rec["faces"], key=lambda f: f["frame"]):
            row = {
                **base,
                "frame": f["frame"],
                "crop_path": f["crop"],
                "det_score": _fmt(f["score"], 4),
            }
            for k, c in zip(("box_x1", "box_y1", "box_x2", "box_y2"), f["box"], strict=True):
                row[k] = _fmt(c, 2)
            for i, (x, y) in enumerate(f["landmarks"]):
                row[f"lm{i}_x"], row[f"lm{i}_y"] = _fmt(x, 2), _fmt(y, 2)
            faces.append(row)
    return faces, videos


def load_records(out: str | Path, ids: Iterable[str] | None = None) -> list[dict]:
    """Records under ``OUT/records`` (all, or those of ``ids``); unreadable ones are skipped."""
    out = Path(out)
    paths = (
        [record_path(out, i) for i in ids]
        if ids is not None
        else sorted((out / "records").rglob("*.json"))
    )
    recs = []
    for p in paths:
        try:
            recs.append(json.loads(p.read_text()))
        except (OSError, ValueError):
            continue
    return recs


_SHARD_RE = re.compile(r"videos-(\d+)-of-(\d+)\.csv$")


def merge_shards(out: str | Path, sources: Iterable[str | Path] = ()) -> tuple[int, int, list]:
    """Join shard CSVs into ``OUT/manifest.csv`` and ``OUT/videos.csv``.

    Shard files are ``<dir>/shards/{manifest,videos}-<i>-of-<N>.csv`` in ``out`` and in each of
    ``sources`` (other machines' output folders); crop paths are rewritten relative to ``out``.
    Returns (number of face rows, number of videos, missing shard numbers).
    """
    out = Path(out)
    dirs = [out, *[Path(s) for s in sources]]
    faces: dict[tuple, dict] = {}
    videos: dict[str, dict] = {}
    seen: set[int] = set()
    total = None
    for d in dirs:
        for vf in sorted((d / "shards").glob("videos-*-of-*.csv")):
            m = _SHARD_RE.search(vf.name)
            if not m:
                continue
            i, n = int(m.group(1)), int(m.group(2))
            if total is not None and n != total:
                raise ValueError(f"shard files of different shard counts ({n} and {total})")
            total = n
            seen.add(i)
            for r in read_csv(vf):
                videos[r["video_id"]] = r
            for r in read_csv(d / "shards" / f"manifest-{i}-of-{n}.csv"):
                p = d / r["crop_path"]
                r["crop_path"] = Path(os.path.relpath(p, out)).as_posix()
                faces[(r["video_id"], int(r["frame"]))] = r
    if total is None:
        raise FileNotFoundError(
            f"no shard files under {', '.join(str(d / 'shards') for d in dirs)}"
        )
    missing = sorted(set(range(total)) - seen)
    write_tables(out, [faces[k] for k in sorted(faces)], [videos[k] for k in sorted(videos)])
    return len(faces), len(videos), missing
