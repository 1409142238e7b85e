"""Video end to end: ``ffdetect detect``'s pipeline on a 720p, 30 s video, and where time goes.

    python benchmarks/video.py [--sizes base] [--frames 8 32] [--repeats 2]

The video (1280x720, 30 fps, 30 s, H.264) is made here from the two portraits installed
packages ship (:mod:`ffdetect.synthesis.sources`), side by side under a slow camera move: two faces
in every frame. The detector has random weights (speed does not depend on them). Three ways of
running the same :class:`DetectionPipeline`, timed in alternating rounds:

- ``before``: as ``ffdetect detect`` ran before this benchmark existed: the stages one after the
  other, MTCNN on every sampled frame with all of PyTorch's threads;
- ``sequential, full detection``: the same with MTCNN on one thread (its default now);
- ``sequential, tracked``: faces followed between full detections (``detect_every=4``);
- ``pipelined, tracked`` (the default of ``ffdetect detect``): decode and detection in a
  background thread while the model scores the faces found so far.

Per variant: seconds per video (median), the seconds of each stage (decode, detect, align, model;
in the pipelined run they overlap), and the share of the wall time outside the model.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import warnings
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import Report, interleaved, markdown_table, median  # noqa: E402

from ffdetect.checkpoint.metadata import ModelMeta  # noqa: E402
from ffdetect.checkpoint.model_format import save_model  # noqa: E402
from ffdetect.data.detectors import make_detector  # noqa: E402
from ffdetect.inference.pipeline import STAGES, DetectionPipeline, DetectOptions  # noqa: E402
from ffdetect.models.backbone import architecture_for  # noqa: E402
from ffdetect.models.detector import Detector  # noqa: E402
from ffdetect.synthesis.media import view_matrix, warp_view  # noqa: E402
from ffdetect.synthesis.sources import named_photos  # noqa: E402

WIDTH, HEIGHT, FPS, SECONDS = 1280, 720, 30, 30
VARIANTS = {
    "before: sequential, full detection, MTCNN on all threads": {
        "pipelined": False,
        "detect_every": 1,
    },
    "sequential, full detection": {"pipelined": False, "detect_every": 1},
    "sequential, tracked": {"pipelined": False, "detect_every": 4},
    "pipelined, full detection (default)": {"pipelined": True, "detect_every": 1},
    "pipelined, tracked": {"pipelined": True, "detect_every": 4},
}
#: The variant whose model seconds stand for the model's own time (no overlap, no contention).
MODEL_ONLY = "sequential, full detection"


def make_video(path: Path) -> Path:
    """Write the 720p, 30 s benchmark video (two faces, slow pan and zoom) to ``path``."""
    import av

    halves = []
    for photo in named_photos().values():
        h, w = photo.shape[:2]
        halves.append(cv2.resize(photo, (WIDTH // 2, HEIGHT), interpolation=cv2.INTER_AREA))
    canvas = np.concatenate(halves, axis=1)
    with av.open(str(path), mode="w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=Fraction(FPS))
        stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        stream.options = {"crf": "23", "preset": "veryfast"}
        for t in range(FPS * SECONDS):
            move = view_matrix(
                (HEIGHT, WIDTH),
                2 * np.sin(t / 40),
                1 + 0.03 * np.sin(t / 70),
                (10 * np.sin(t / 50), 5 * np.cos(t / 60)),
            )
            frame = av.VideoFrame.from_ndarray(warp_view(canvas, move), format="rgb24")
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    return path


def save_random_model(size: str, folder: Path) -> Path:
    """A randomly initialised detector of ``size`` in ffdetect's model format."""
    torch.manual_seed(0)
    arch = architecture_for(size)
    return save_model(Detector.build(arch), ModelMeta(architecture=arch), folder / size)


def bench(size: str, frames: int, video: Path, model: Path, repeats: int) -> list[list[object]]:
    """Rows of the table for one model size and frame count."""
    pipelines = {
        name: DetectionPipeline.from_model(model, DetectOptions(frames=frames, **opts))
        for name, opts in VARIANTS.items()
    }
    before = next(iter(VARIANTS))  # the detector as it ran before: all PyTorch threads
    pipelines[before]._face_detector = make_detector("mtcnn", threads=torch.get_num_threads())
    for pipeline in pipelines.values():  # load MTCNN and touch the model before timing
        pipeline.face_detector.detect(np.zeros((64, 64, 3), np.uint8))
        pipeline.scorer([np.zeros((224, 224, 3), np.uint8)])
    stages: dict[str, list[dict[str, float]]] = {name: [] for name in VARIANTS}
    scores: dict[str, float] = {}

    def runner(name: str):
        def run() -> None:
            result = pipelines[name].run(video)
            if result.error:
                raise RuntimeError(result.error)
            stages[name].append(dict(pipelines[name].stage_seconds))
            scores[name] = result.score

        return run

    times = interleaved({name: runner(name) for name in VARIANTS}, repeats, warmup=0)
    base_wall = median(times[before])
    model_only = median([st["model"] for st in stages[MODEL_ONLY]])
    rows = []
    for name in VARIANTS:
        wall = median(times[name])
        per_stage = {s: median([st[s] for st in stages[name]]) for s in STAGES}
        rows.append(
            [
                size,
                frames,
                name,
                f"{wall:.1f}",
                f"{base_wall / wall:.2f}x",
                *(f"{per_stage[s]:.1f}" for s in STAGES),
                f"{100 * (1 - model_only / wall):.0f}%",
                f"{scores[name]:.4f}",
            ]
        )
    return rows


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark and write ``benchmarks/results/video.md``."""
    warnings.simplefilter("ignore")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", default=["base"])
    parser.add_argument("--frames", nargs="+", type=int, default=[8, 32])
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args(argv)
    report = Report("video", "Video end to end: ffdetect detect on a 720p, 30 s video")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        video = make_video(Path(tmp) / "video.mp4")
        for size in args.sizes:
            model = save_random_model(size, Path(tmp))
            for frames in args.frames:
                rows += bench(size, frames, video, model, args.repeats)
    report.add(
        f"## Seconds per video\n\n{WIDTH}x{HEIGHT}, {FPS} fps, {SECONDS} s, two faces per frame; "
        "stage columns are seconds inside each stage (they overlap in the pipelined run); "
        "'outside model' = 1 - the model's own seconds (its stage time in the sequential "
        "full-detection run, where nothing overlaps it) / wall; score = the video's score "
        "(random weights), "
        "to show the variants agree.\n\n"
        + markdown_table(
            ["size", "frames", "variant", "s/video", "speed-up", *STAGES, "outside model", "score"],
            rows,
        )
    )
    report.write()


if __name__ == "__main__":
    main()
