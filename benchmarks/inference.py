"""Model inference: the deployed detector against a plain reference and the machine's peak.

    python benchmarks/inference.py [--sizes tiny base] [--repeats 3] [--compile-sizes base]
        [--no-int8] [--trained MODEL]

For each size at 224 px: frames/s of the plain reference (:mod:`reference_model`, eager
attention, fp32, one frame at a time) and of the deployed :class:`Detector` (fused attention,
inference mode) at batch 1 and 32, optionally compiled (``torch.compile``, weight freezing) and
int8 (dynamic quantization of the linear layers). FLOPs are counted with
``torch.utils.flop_counter``; achieved FLOP/s is divided by the 4096^2 fp32 matmul peak, which is
timed in the same alternating rounds as the models. All variants hold the same random weights
and see the same face photos; their ``p_fake`` is compared with the reference's.

A trained model is needed to judge int8 numerics: a tiny baseline is trained here on the
learning task of ``benchmarks/learning.py`` (the offline self-blended LFW faces of
:mod:`ffdetect.synthesis.lfw_task`; ``--train-epochs``, or bring one with ``--trained MODEL``)
and scored in fp32 and int8 on that task's test split: max ``|p_fake|`` difference on the real
crops, and the video AUC of both. On CUDA the deployed variants run in bf16 autocast and int8 /
compile are skipped.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (  # noqa: E402
    MATMUL_FLOPS,
    Report,
    device,
    interleaved,
    markdown_table,
    matmul_call,
    median,
    sync,
)
from reference_model import plain_copy  # noqa: E402

from ffdetect.checkpoint.metadata import ModelMeta  # noqa: E402
from ffdetect.data.detectors import torch_threads  # noqa: E402
from ffdetect.inference.preprocess import crops_to_tensor  # noqa: E402
from ffdetect.models.backbone import architecture_for  # noqa: E402
from ffdetect.models.detector import Detector  # noqa: E402
from ffdetect.models.fast import for_inference, quantize_int8  # noqa: E402
from ffdetect.synthesis.media import random_view, warp_view  # noqa: E402
from ffdetect.synthesis.sources import center_square, named_photos  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
BATCH = 32
SINGLE_FRAMES = 8  # frames per timed call of the one-frame-at-a-time variants


def face_images(n: int, size: int, seed: int = 0) -> list[np.ndarray]:
    """``n`` face photos (the shipped portraits under small random camera moves), RGB uint8."""
    import cv2

    rng = np.random.default_rng(seed)
    photos = [cv2.resize(center_square(p), (size, size)) for p in named_photos().values()]
    return [warp_view(photos[i % len(photos)], random_view((size, size), rng)) for i in range(n)]


def flops_per_frame(model: torch.nn.Module, size: int) -> float:
    """FLOPs of one frame through ``model`` (matmuls, convolutions and attention)."""
    with FlopCounterMode(display=False) as counter, torch.inference_mode():
        model(torch.zeros(1, 3, size, size))
    return float(counter.get_total_flops())


def one_at_a_time(model, images: torch.Tensor):
    """A timed call: every frame of ``images`` through ``model`` on its own."""

    def run() -> None:
        with torch.inference_mode():
            for i in range(images.shape[0]):
                model(images[i : i + 1])
        sync(images.device)

    return run


def batched(model, images: torch.Tensor, bf16: bool):
    """A timed call: ``images`` through ``model`` as one batch (bf16 autocast on CUDA)."""

    def run() -> None:
        with torch.inference_mode(), torch.autocast("cuda", torch.bfloat16, enabled=bf16):
            model(images)
        sync(images.device)

    return run


def p_fake(model, images: torch.Tensor, batch: int = BATCH) -> np.ndarray:
    """``p_fake`` of every image (batches of ``batch``)."""
    out = []
    with torch.inference_mode():
        for start in range(0, images.shape[0], batch):
            out.append(torch.softmax(model(images[start : start + batch]).float(), -1)[:, 1])
    return torch.cat(out).cpu().numpy()


def bench_size(size: str, args: argparse.Namespace, report: Report) -> list[list[object]]:
    """Time every variant of one size; returns its table rows."""
    dev = device()
    arch = architecture_for(size)
    torch.manual_seed(0)
    detector = Detector.build(arch).eval()
    meta = ModelMeta(kind="detector", architecture=arch)
    images = crops_to_tensor(face_images(BATCH, arch.img_size), meta).to(dev)
    reference = plain_copy(detector, arch).to(dev)
    deployed = for_inference(detector.to(dev))
    flops = flops_per_frame(reference.cpu(), arch.img_size)
    reference.to(dev)
    single = images[:SINGLE_FRAMES]
    variants = {
        "reference, 1 frame at a time": (one_at_a_time(reference, single), SINGLE_FRAMES),
        "deployed, batch 1": (one_at_a_time(deployed, single), SINGLE_FRAMES),
        f"deployed, batch {BATCH}": (batched(deployed, images, dev.type == "cuda"), BATCH),
    }
    ref_p = p_fake(reference, images)

    def diff(model, batch: int) -> float:
        n = BATCH if batch == BATCH else SINGLE_FRAMES
        return float(np.abs(p_fake(model, images[:n], batch) - ref_p[:n]).max())

    diffs = {
        "deployed, batch 1": diff(deployed, 1),
        f"deployed, batch {BATCH}": diff(deployed, BATCH),
    }
    if size in args.compile_sizes and dev.type == "cpu":
        compiled = for_inference(detector, compile=True)
        t0 = time.perf_counter()
        diffs[f"compiled, batch {BATCH}"] = diff(compiled, BATCH)
        report.add(
            f"{size}: torch.compile (inductor, freezing) took {time.perf_counter() - t0:.0f} s"
        )
        variants[f"compiled, batch {BATCH}"] = (batched(compiled, images, False), BATCH)
    if args.int8 and dev.type == "cpu":
        int8 = quantize_int8(detector)
        diffs["int8, batch 1"] = diff(int8, 1)
        diffs[f"int8, batch {BATCH}"] = diff(int8, BATCH)
        variants["int8, batch 1"] = (one_at_a_time(int8, single), SINGLE_FRAMES)
        variants[f"int8, batch {BATCH}"] = (batched(int8, images, False), BATCH)
    peak_fn = {"matmul 4096^2": (matmul_call(dev), 1)}
    times = interleaved({k: fn for k, (fn, _) in {**variants, **peak_fn}.items()}, args.repeats)
    peak = MATMUL_FLOPS / median(times["matmul 4096^2"])
    ref_fps = SINGLE_FRAMES / median(times["reference, 1 frame at a time"])
    rows = []
    for name, (_, frames) in variants.items():
        fps = frames / median(times[name])
        rows.append(
            [
                size,
                name,
                f"{fps:.2f}",
                f"{fps / ref_fps:.2f}x",
                f"{fps * flops / 1e9:.0f}",
                "n/a (int8)" if name.startswith("int8") else f"{100 * fps * flops / peak:.0f}%",
                "-" if name.startswith("reference") else f"{diffs[name]:.1e}",
                " ".join(f"{frames / t:.2f}" for t in times[name]),
            ]
        )
    report.add(
        f"{size}: {flops / 1e9:.2f} GFLOP per frame; matmul peak (median of the rounds) "
        f"{peak / 1e9:.0f} GFLOP/s"
    )
    return rows


def train_task_model(task: Path, work: Path, epochs: int) -> Path:
    """A tiny baseline trained on the learning task (``benchmarks/learning.py``'s recipe, seed 0,
    ``epochs`` epochs); returns its model directory."""
    from ffdetect.config import load_config
    from ffdetect.synthesis.lfw_task import BENCHMARK_TRAIN_OVERRIDES
    from ffdetect.train.config import TrainConfig
    from ffdetect.train.data import prepared_datasets
    from ffdetect.train.run import train

    overrides = [*BENCHMARK_TRAIN_OVERRIDES, "run.seed=0", f"schedule.epochs={epochs}"]
    cfg = load_config(TrainConfig, ROOT / "configs" / "tiny-baseline.yaml", overrides)
    train_set, val_set = prepared_datasets(cfg, task)
    with torch_threads(1):  # as learning.py: the tiny model's small ops run best on one thread
        train(cfg, train_set, val_set, work / "run")
    return work / "run" / "model"


def int8_numerics(trained: Path | None, epochs: int, report: Report) -> None:
    """fp32 vs int8 on a trained model: p_fake on real crops and video AUC on the learning task
    (the test split of :mod:`ffdetect.synthesis.lfw_task`'s benchmark task)."""
    import cv2
    from sklearn.metrics import roc_auc_score

    from ffdetect.checkpoint.model_format import load_detector
    from ffdetect.data.manifest import read_csv
    from ffdetect.synthesis.lfw_task import BENCHMARK_TASK, build_self_blended_task

    with tempfile.TemporaryDirectory() as tmp:
        manifest = build_self_blended_task(Path(tmp) / "task", **BENCHMARK_TASK)
        started = time.perf_counter()
        model_dir = trained or train_task_model(manifest.parent, Path(tmp), epochs)
        train_s = time.perf_counter() - started
        rows = [r for r in read_csv(manifest) if r["split"] == "test"]
        crops = [
            cv2.cvtColor(cv2.imread(str(manifest.parent / r["crop_path"])), cv2.COLOR_BGR2RGB)
            for r in rows
        ]
        detector, meta = load_detector(model_dir)
        digest = hashlib.sha256((model_dir / "model.safetensors").read_bytes()).hexdigest()[:12]
    for_inference(detector)
    int8 = quantize_int8(detector)
    images = crops_to_tensor(crops, meta)
    p32, p8 = p_fake(detector, images), p_fake(int8, images)
    labels = np.array([int(r["label"]) for r in rows])
    videos = [r["video_id"] for r in rows]
    names = sorted(set(videos))
    index = {v: i for i, v in enumerate(names)}
    ids = np.array([index[v] for v in videos])
    video_label = np.array([labels[ids == i][0] for i in range(len(names))])

    def video_auc(p: np.ndarray) -> float:
        return float(roc_auc_score(video_label, [p[ids == i].mean() for i in range(len(names))]))

    real = labels == 0
    source = (
        f"`{trained}`"
        if trained
        else f"configs/tiny-baseline.yaml trained here for {epochs} epochs ({train_s:.0f} s)"
    )
    report.add(
        f"## int8 numerics on a trained model\n\nModel: {source} (sha256 {digest}..., "
        f"{meta.architecture.depth} blocks, {meta.architecture.img_size} px); the learning task's "
        f"test split ({BENCHMARK_TASK}, {len(names)} videos of unseen identities, {len(rows)} "
        f"crops, {int(real.sum())} real).\n\n"
        + markdown_table(
            ["quantity", "value"],
            [
                ["max abs p_fake diff, real crops", f"{np.abs(p32 - p8)[real].max():.4f}"],
                ["max abs p_fake diff, all crops", f"{np.abs(p32 - p8).max():.4f}"],
                ["video AUC fp32", f"{video_auc(p32):.4f}"],
                ["video AUC int8", f"{video_auc(p8):.4f}"],
            ],
        )
    )


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark and write ``benchmarks/results/inference.md``."""
    warnings.simplefilter("ignore")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", default=["tiny", "base"])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--compile-sizes", nargs="*", default=[])
    parser.add_argument("--no-int8", dest="int8", action="store_false")
    parser.add_argument("--trained", type=Path, default=None, help="default: train one here")
    parser.add_argument("--train-epochs", type=int, default=10)
    args = parser.parse_args(argv)
    report = Report("inference", "Model inference: deployed detector vs plain reference")
    rows = []
    for size in args.sizes:
        rows += bench_size(size, args, report)
    report.add(
        "## Frames/s at 224 px\n\nMedians over alternating rounds; ratio to the reference run "
        "one frame at a time; FLOP/s from the counted FLOPs; peak = 4096^2 fp32 matmul in the "
        "same rounds (fp32 only: int8 is not measured against it); p_fake diff = max abs "
        "difference to the reference on the face photos each variant ran (32 at batch 32, 8 one "
        "at a time; random weights).\n\n"
        + markdown_table(
            [
                "size",
                "variant",
                "frames/s",
                "vs ref",
                "GFLOP/s",
                "of peak",
                "p_fake diff",
                "rounds",
            ],
            rows,
        )
    )
    if args.int8 and device().type == "cpu":
        int8_numerics(args.trained, args.train_epochs, report)
    report.write()


if __name__ == "__main__":
    main()
