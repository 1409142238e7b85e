"""The ``prepare`` job: videos -> aligned face PNGs + manifests, in parallel, sharded, resumable.

Per video: sample ``frames`` frames at equal steps, detect faces, keep the longest-tracked face,
try neighbouring frames where it is missing, align and crop, write PNGs atomically, then the
video's record (``OUT/records/<id>.json``). A rerun skips a video whose record matches the
source file's content fingerprint, the settings, and every PNG's SHA-256; a video that failed
is skipped too, and counted (:meth:`Summary.retry_hint`), unless ``retry_failed``.
``manifest.csv`` and ``videos.csv`` are rebuilt from the records at the end. One run writes an
OUT (and shard) at a time (:class:`OutLock`), and worker processes exit as soon as the run's
process dies.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import socket
import threading
import time
import zlib
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from ffdetect.errors import UserError

from .manifest import (
    MANIFEST_COLUMNS,
    VIDEO_COLUMNS,
    atomic_write_bytes,
    atomic_write_text,
    file_sha256,
    load_records,
    png_bytes,
    record_path,
    records_to_rows,
    write_csv,
    write_tables,
)
from .readers import VideoItem
from .video import VideoError, count_decodable, probe_video, read_frames, sample_indices

__all__ = [
    "OutLock",
    "PrepareConfig",
    "PrepareLockedError",
    "Summary",
    "parse_shard",
    "process_video",
    "run_prepare",
    "shard_items",
]

try:
    import fcntl
except ImportError:  # Windows: OutLock falls back to an exclusive file and a pid check
    fcntl = None

RECORD_VERSION = 1
#: How often a worker without multiprocessing's parent sentinel checks its parent's pid.
PARENT_POLL_SECONDS = 0.5
OK_STATUSES = ("ok", "partial")


@dataclass
class PrepareConfig:
    """Settings of a prepare run (the first block decides the output and is stored per video)."""

    frames: int = 8
    size: int = 224
    scale: float = 1.3
    align: str = "similarity"
    detector: str = "mtcnn"
    detector_model: str | None = None
    min_score: float = 0.95
    retries: int = 4
    # Run-time only (do not change the output):
    workers: int = 1
    verify: str = "hash"
    retry_failed: bool = False

    def output_settings(self) -> dict:
        """The settings that determine a video's output."""
        d = asdict(self)
        for k in ("workers", "verify", "retry_failed"):
            d.pop(k)
        return d


@dataclass
class Summary:
    """Counts of a run."""

    total: int = 0
    done: int = 0
    skipped: int = 0
    failed: int = 0
    failed_before: int = 0  # skipped: failed in an earlier run, not retried
    shortfalls: int = 0
    faces: int = 0
    seconds: float = 0.0
    errors: dict[str, int] = field(default_factory=dict)

    @property
    def succeeded(self) -> int:
        """Videos with at least one face, this run or earlier."""
        return self.total - self.failed

    def retry_hint(self) -> str | None:
        """What to say about the videos that failed earlier and were skipped, else ``None``."""
        n = self.failed_before
        if n == 0:
            return None
        them = "it" if n == 1 else "them"
        videos = "1 video" if n == 1 else f"{n} videos"
        return (
            f"{videos} failed in an earlier run and {'was' if n == 1 else 'were'} skipped: "
            f"rerun with --retry-failed to try {them} again"
        )


def parse_shard(text: str | None) -> tuple[int, int]:
    """``"i/N"`` (0 <= i < N) -> (i, N); ``"auto"`` reads SLURM array variables; None -> (0, 1)."""
    if not text:
        return 0, 1
    if text == "auto":
        i = int(os.environ.get("SLURM_ARRAY_TASK_ID", "0")) - int(
            os.environ.get("SLURM_ARRAY_TASK_MIN", "0")
        )
        n = int(os.environ.get("SLURM_ARRAY_TASK_COUNT", "1"))
        return i, n
    try:
        a, b = text.split("/")
        i, n = int(a), int(b)
    except ValueError as e:
        raise ValueError(f"--shard takes i/N, e.g. 0/4 (got {text!r})") from e
    if n < 1 or not 0 <= i < n:
        raise ValueError(f"--shard i/N needs 0 <= i < N (got {text!r})")
    return i, n


def shard_items(items: Sequence[VideoItem], shard: tuple[int, int]) -> list[VideoItem]:
    """The items of shard i of N: by a stable hash of the video id (independent of order)."""
    i, n = shard
    if n == 1:
        return list(items)
    return [it for it in items if zlib.crc32(it.id.encode()) % n == i]


def source_fingerprint(path: str | Path) -> dict:
    """Size plus SHA-1 of the first and last 64 KiB: cheap, and changes with the content."""
    p = Path(path)
    size = p.stat().st_size
    h = hashlib.sha1()
    with open(p, "rb") as fh:
        h.update(fh.read(1 << 16))
        if size > 1 << 17:
            fh.seek(size - (1 << 16))
            h.update(fh.read(1 << 16))
    return {"size": size, "sha1_ends": h.hexdigest()}


def is_done(item: VideoItem, out: Path, cfg: PrepareConfig) -> dict | None:
    """The video's record if it is finished and still valid, else None."""
    rp = record_path(out, item.id)
    try:
        rec = json.loads(rp.read_text())
    except (OSError, ValueError):
        return None
    if rec.get("version") != RECORD_VERSION or rec.get("settings") != cfg.output_settings():
        return None
    if rec.get("video") != item.as_dict():
        return None
    try:
        fp = source_fingerprint(item.path)
    except OSError:
        fp = None
    if rec.get("source") != fp:
        return None
    if rec["status"] not in OK_STATUSES and cfg.retry_failed:
        return None
    for f in rec["faces"]:
        p = out / f["crop"]
        try:
            if p.stat().st_size != f["bytes"]:
                return None
        except OSError:
            return None
        if cfg.verify == "hash" and file_sha256(p) != f["sha256"]:
            return None
    return rec


def _neighbours(center: int, half: int, n_frames: int, limit: int, used: set[int]) -> list[int]:
    """Frames near ``center`` (alternating after/before, spreading over +-half), nearest first."""
    if limit <= 0 or half <= 0:
        return []
    offs = sorted({max(1, round(half * (k + 1) / limit)) for k in range(limit)})
    out = []
    for o in offs:
        for c in (center + o, center - o):
            if 0 <= c < n_frames and c not in used and c not in out:
                out.append(c)
    return out[: 2 * limit]


def _select(
    dets: dict[int, list], slots: list[list[int]], min_iou: float = 0.3
) -> list[tuple[int, object]]:
    """Pick the main track's face for each slot (a slot = candidate frames, preferred first)."""
    from .tracking import iou, link_tracks, main_track

    track = main_track(link_tracks({k: v for k, v in dets.items() if v}))
    if track is None:
        return []
    chosen = []
    for cands in slots:
        for fi in cands:
            if fi in track.faces:
                chosen.append((fi, track.faces[fi]))
                break
            # A frame the track skipped: take the face overlapping the track's nearest box.
            ref = track.nearest_box(fi)
            best = max(dets.get(fi, []), key=lambda f: iou(ref, f.box), default=None)
            if best is not None and iou(ref, best.box) >= min_iou:
                chosen.append((fi, best))
                break
    return chosen


def process_video(item: VideoItem, out: Path, cfg: PrepareConfig, detector) -> dict:
    """Prepare one video and write its PNGs and record; returns the record (never raises)."""

    from .faces import crop_face

    rec: dict = {
        "version": RECORD_VERSION,
        "video": item.as_dict(),
        "settings": cfg.output_settings(),
        "source": None,
        "frames_requested": cfg.frames,
        "frames_total": 0,
        "status": "failed",
        "error": "",
        "faces": [],
    }
    try:
        rec["source"] = source_fingerprint(item.path)
        info = probe_video(item.path)
        n_total = info.frames
        targets = sample_indices(n_total, cfg.frames)
        frames = read_frames(item.path, targets)
        if len(frames) < len(targets):  # truncated: resample over what decodes
            n_total = count_decodable(item.path)
            targets = sample_indices(n_total, cfg.frames)
            frames = read_frames(item.path, targets)
        rec["frames_total"] = n_total

        def detect(fi: int) -> list:
            return [f for f in detector.detect(frames[fi]) if f.score >= cfg.min_score]

        dets = {fi: detect(fi) for fi in sorted(frames)}
        step = n_total / max(1, len(targets))
        half = max(0, int(step // 2))
        used = set(targets)
        slots = [[t] for t in targets]
        missing = [k for k, t in enumerate(targets) if not dets.get(t)]
        if missing and cfg.retries > 0:
            cand = {k: _neighbours(targets[k], half, n_total, cfg.retries, used) for k in missing}
            more = read_frames(item.path, [c for cs in cand.values() for c in cs])
            frames.update(more)
            for k, cs in cand.items():
                for c in cs:
                    if c not in more:
                        continue
                    dets[c] = detect(c)
                    slots[k].append(c)
                    if dets[c]:
                        break
        chosen = _select(dets, slots)
        if len({fi for fi, _ in chosen}) < len(chosen):
            seen: set[int] = set()
            chosen = [(fi, f) for fi, f in chosen if not (fi in seen or seen.add(fi))]
        faces_dir = out / "faces" / item.id
        keep = set()
        for fi, face in sorted(chosen, key=lambda t: t[0]):
            crop = crop_face(frames[fi], face, size=cfg.size, scale=cfg.scale, mode=cfg.align).crop
            data = png_bytes(crop)
            name = f"{fi:06d}.png"
            atomic_write_bytes(faces_dir / name, data)
            keep.add(name)
            rec["faces"].append(
                {
                    "frame": int(fi),
                    "crop": f"faces/{item.id}/{name}",
                    "sha256": hashlib.sha256(data).hexdigest(),
                    "bytes": len(data),
                    "score": round(float(face.score), 6),
                    "box": [round(float(v), 3) for v in face.box],
                    "landmarks": np.round(face.landmarks.astype(float), 3).tolist(),
                }
            )
        _remove_stale(faces_dir, keep)
        n_found = len(rec["faces"])
        if n_found == 0:
            rec["status"], rec["error"] = "no_face", "no face found in any sampled frame"
        elif n_found < cfg.frames:
            rec["status"] = "partial"
            rec["error"] = f"shortfall: {n_found} of {cfg.frames} faces ({n_total} frames)"
        else:
            rec["status"] = "ok"
    except VideoError as e:
        rec["status"], rec["error"] = "failed", f"{e.reason}: {e.message}"[:500]
    except Exception as e:  # one bad video must not stop the run
        rec["status"], rec["error"] = "failed", f"error: {type(e).__name__}: {e}"[:500]
    atomic_write_text(record_path(out, item.id), json.dumps(rec, indent=1, sort_keys=True))
    return rec


def _remove_stale(folder: Path, keep: set[str]) -> None:
    if not folder.is_dir():
        return
    for p in folder.iterdir():
        if p.is_file() and p.suffix == ".png" and p.name not in keep:
            with contextlib.suppress(OSError):
                p.unlink()


# ---- worker processes -------------------------------------------------------------------------

_WORKER: dict = {}


def _make_detector(cfg: PrepareConfig, threads: int | None):
    from .detectors import make_detector

    return make_detector(cfg.detector, model_path=cfg.detector_model, threads=threads)


def _die_with_parent(parent_pid: int) -> None:
    """Exit this worker as soon as the process that started it dies (even by SIGKILL).

    A daemon thread waits on multiprocessing's parent sentinel (a pipe whose other end only the
    parent holds: it becomes readable when the parent is gone), or, where there is none, polls
    the parent pid. Either way an orphaned worker never keeps writing into OUT.
    """
    from multiprocessing import parent_process
    from multiprocessing.connection import wait

    parent = parent_process()

    def watch() -> None:
        if parent is not None and parent.sentinel is not None:
            wait([parent.sentinel])
        else:
            while os.getppid() == parent_pid:
                time.sleep(PARENT_POLL_SECONDS)
        os._exit(1)

    threading.Thread(target=watch, name="ffdetect-parent-watch", daemon=True).start()


def _init_worker(cfg: PrepareConfig, out: str, threads: int, parent_pid: int) -> None:
    import torch

    _die_with_parent(parent_pid)
    torch.set_num_threads(threads)
    _WORKER["cfg"] = cfg
    _WORKER["out"] = Path(out)
    _WORKER["det"] = _make_detector(cfg, threads)


def _work(item: VideoItem) -> dict:
    rec = process_video(item, _WORKER["out"], _WORKER["cfg"], _WORKER["det"])
    return {"status": rec["status"], "error": rec["error"], "faces": len(rec["faces"])}


def _tally(summary: Summary, status: str, error: str, n_faces: int) -> None:
    summary.faces += n_faces
    if status not in OK_STATUSES:
        summary.failed += 1
        tag = error.split(":", 1)[0] if status == "failed" else status
        summary.errors[tag] = summary.errors.get(tag, 0) + 1
    elif status == "partial":
        summary.shortfalls += 1


def run_prepare(
    items: Sequence[VideoItem],
    out: str | Path,
    cfg: PrepareConfig,
    shard: tuple[int, int] = (0, 1),
    progress: bool = True,
    on_video: Callable[[VideoItem, str], None] | None = None,
    on_start: Callable[[Summary], None] | None = None,
) -> Summary:
    """Prepare ``items`` (this shard's share) into ``out``; write the CSVs; return the summary.

    ``on_start`` gets the summary once the finished videos are counted, before any is processed
    (e.g. to print :meth:`Summary.retry_hint`).
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    with OutLock(out, shard):
        return _run_locked(items, out, cfg, shard, progress, on_video, on_start)


def _run_locked(
    items: Sequence[VideoItem],
    out: Path,
    cfg: PrepareConfig,
    shard: tuple[int, int],
    progress: bool,
    on_video: Callable[[VideoItem, str], None] | None,
    on_start: Callable[[Summary], None] | None,
) -> Summary:
    mine = shard_items(items, shard)
    summary = Summary(total=len(mine))
    t0 = time.perf_counter()
    todo = []
    for it in mine:
        rec = is_done(it, out, cfg)
        if rec is None:
            todo.append(it)
        else:
            summary.skipped += 1
            summary.failed_before += rec["status"] not in OK_STATUSES
            _tally(summary, rec["status"], rec.get("error", ""), len(rec["faces"]))
    if on_start is not None:
        on_start(summary)
    bar = _Bar(len(mine), summary.skipped, enabled=progress)
    try:
        if cfg.workers <= 1 or len(todo) <= 1:
            det = _make_detector(cfg, None)
            for it in todo:
                rec = process_video(it, out, cfg, det)
                _finish(summary, bar, it, rec["status"], rec["error"], len(rec["faces"]), on_video)
        else:
            import multiprocessing as mp

            threads = max(1, (os.cpu_count() or 1) // cfg.workers)
            with ProcessPoolExecutor(
                max_workers=cfg.workers,
                mp_context=mp.get_context("spawn"),
                initializer=_init_worker,
                initargs=(cfg, str(out), threads, os.getpid()),
            ) as ex:
                futs = {ex.submit(_work, it): it for it in todo}
                for fut in as_completed(futs):
                    it = futs[fut]
                    try:
                        r = fut.result()
                    except Exception as e:  # a worker died: record and go on
                        r = {"status": "failed", "error": f"worker: {e}", "faces": 0}
                    _finish(summary, bar, it, r["status"], r["error"], r["faces"], on_video)
    finally:
        bar.close()
    summary.done = summary.total - summary.skipped
    summary.seconds = time.perf_counter() - t0
    write_manifests(out, [it.id for it in mine], shard)
    return summary


class PrepareLockedError(UserError):
    """Another live ``prepare`` run writes the same OUT (and shard)."""


class OutLock:
    """The one-writer lock of an output folder (per shard): ``OUT/.prepare.lock`` (or
    ``OUT/.prepare-<i>-of-<N>.lock``), naming the owner's pid and host.

    Held with ``flock`` where the OS has it: the kernel releases it when the owner dies, so a
    dead run's lock (SIGKILL included) is simply taken over, while a live owner makes a second
    run refuse with :class:`PrepareLockedError` naming it. Without ``flock`` the file is created
    exclusively and a lock whose pid is no longer alive on this host is taken over.
    """

    def __init__(self, out: Path, shard: tuple[int, int] = (0, 1)) -> None:
        i, n = shard
        self.path = out / (".prepare.lock" if n == 1 else f".prepare-{i}-of-{n}.lock")
        self.fd: int | None = None

    def __enter__(self) -> OutLock:
        owner = f"{os.getpid()} {socket.gethostname()}\n".encode()
        if fcntl is not None:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                os.close(fd)
                raise self._refusal() from None
            os.ftruncate(fd, 0)
            os.write(fd, owner)
        else:
            fd = self._create_exclusive(owner)
        self.fd = fd
        return self

    def _create_exclusive(self, owner: bytes) -> int:
        for _ in range(2):
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644)
            except FileExistsError:
                pid, host = self._owner()
                if host == socket.gethostname() and pid is not None and _pid_alive(pid):
                    raise self._refusal() from None
                with contextlib.suppress(FileNotFoundError):
                    self.path.unlink()  # a dead owner's lock: take it over
                continue
            os.write(fd, owner)
            return fd
        raise self._refusal()

    def _owner(self) -> tuple[int | None, str]:
        try:
            pid, _, host = self.path.read_text().strip().partition(" ")
            return int(pid), host
        except (OSError, ValueError):
            return None, ""

    def _refusal(self) -> PrepareLockedError:
        pid, host = self._owner()
        who = f"pid {pid} on {host}" if pid is not None else "another process"
        return PrepareLockedError(
            f"{self.path.parent} is being written by another `ffdetect prepare` ({who}; lock "
            f"{self.path}): wait for it to finish or stop it, then rerun to resume"
        )

    def __exit__(self, *exc: object) -> None:
        if self.fd is None:
            return
        if fcntl is None:
            with contextlib.suppress(OSError):
                self.path.unlink()
        os.close(self.fd)  # releases the flock
        self.fd = None


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _finish(summary, bar, it, status, error, n_faces, on_video) -> None:
    _tally(summary, status, error, n_faces)
    bar.advance()
    if on_video is not None:
        on_video(it, status)


def write_manifests(out: Path, ids: Sequence[str], shard: tuple[int, int] = (0, 1)) -> None:
    """Rebuild the CSVs from the records of ``ids`` (per-shard files when sharded)."""
    faces, videos = records_to_rows(load_records(out, ids))
    i, n = shard
    if n == 1:
        write_tables(out, faces, videos)
    else:
        write_csv(out / "shards" / f"manifest-{i}-of-{n}.csv", MANIFEST_COLUMNS, faces)
        write_csv(out / "shards" / f"videos-{i}-of-{n}.csv", VIDEO_COLUMNS, videos)


class _Bar:
    """A rich progress bar with videos/s and ETA (a no-op when disabled)."""

    def __init__(self, total: int, already: int, enabled: bool):
        self.p = None
        if not enabled:
            return
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self.t0 = time.perf_counter()
        self.n = 0
        self.p = Progress(
            TextColumn("[bold]prepare"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[rate]}"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
        )
        self.p.start()
        self.task = self.p.add_task("prepare", total=total, completed=already, rate="")

    def advance(self) -> None:
        if self.p is None:
            return
        self.n += 1
        rate = self.n / max(1e-9, time.perf_counter() - self.t0)
        self.p.update(self.task, advance=1, rate=f"{rate:.2f} videos/s")

    def close(self) -> None:
        if self.p is not None:
            self.p.stop()
