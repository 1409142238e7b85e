"""Preparation: ``ffdetect prepare`` in videos/s with 1 and 2 worker processes.

    python benchmarks/prepare.py [--videos 8] [--repeats 2]

A ``folder`` dataset (``real/`` and ``fake/``) of short 480p clips made here from the portraits
installed packages ship (:func:`ffdetect.synthesis.media.clip_frames`; the fakes with the face
self-blended). Each run is the real command line in a fresh process and a fresh output folder,
so nothing is skipped as already done; the worker counts alternate round by round.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import Report, interleaved, markdown_table, median  # noqa: E402

from ffdetect.data.detectors import make_detector  # noqa: E402
from ffdetect.synthesis.media import (  # noqa: E402
    blend_face_in_photo,
    clip_frames,
    resize_to_height,
    write_video,
)
from ffdetect.synthesis.sources import named_photos  # noqa: E402

FFDETECT = Path(sys.executable).with_name("ffdetect")
CLIP_FRAMES, CLIP_FPS = 50, 25  # 2 s clips


def make_dataset(root: Path, n_videos: int) -> Path:
    """``n_videos`` 480p clips, half real and half self-blended, under ``root``."""
    rng = np.random.default_rng(0)
    detector = make_detector("mtcnn")
    photos = [resize_to_height(p, 480) for p in named_photos().values()]
    for i in range(n_videos):
        photo = photos[i % len(photos)]
        label = "fake" if i % 2 else "real"
        if label == "fake":
            face = max(detector.detect(photo), key=lambda f: f.area)
            photo = blend_face_in_photo(photo, face, rng)
        write_video(clip_frames(photo, CLIP_FRAMES, seed=i), root / label / f"clip{i:02d}.mp4")
    return root


def prepare_call(root: Path, work: Path, workers: int):
    """A timed call: ``ffdetect prepare`` with ``workers`` into a new output folder."""
    runs = [0]

    def run() -> None:
        runs[0] += 1
        out = work / f"w{workers}_{runs[0]}"
        command = [str(FFDETECT), "prepare", str(root), "--dataset", "folder", "--out", str(out)]
        subprocess.run(
            [*command, "--workers", str(workers)], check=True, capture_output=True, text=True
        )

    return run


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark and write ``benchmarks/results/prepare.md``."""
    warnings.simplefilter("ignore")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args(argv)
    report = Report("prepare", "Preparation: ffdetect prepare with 1 and 2 workers")
    with tempfile.TemporaryDirectory() as tmp:
        root = make_dataset(Path(tmp) / "data", args.videos)
        calls = {f"{w} worker(s)": prepare_call(root, Path(tmp), w) for w in (1, 2)}
        times = interleaved(calls, args.repeats, warmup=0)
    one = args.videos / median(times["1 worker(s)"])
    rows = []
    for name, values in times.items():
        rate = args.videos / median(values)
        rounds = " ".join(f"{args.videos / t:.2f}" for t in values)
        rows.append([name, f"{median(values):.1f}", f"{rate:.2f}", f"{rate / one:.2f}x", rounds])
    report.add(
        f"## {args.videos} clips of {CLIP_FRAMES} frames at 480p, 8 faces each, default "
        "settings (MTCNN, similarity alignment, 224 px)\n\nSeconds include starting the "
        "command (imports, worker start-up).\n\n"
        + markdown_table(["workers", "s/run", "videos/s", "vs 1 worker", "rounds"], rows)
    )
    report.write()


if __name__ == "__main__":
    main()
