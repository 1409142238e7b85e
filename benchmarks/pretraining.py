"""Does masked-image pre-training on real faces help the tiny detector? Random init vs pre-trained.

    python benchmarks/pretraining.py [--seeds 0 1 2] [--epochs 10] [--pretrain-epochs N]
                                     [--out benchmarks/results/pretraining.md]

1. Builds the self-blended LFW task of the fine-tuning benchmark
   (:func:`ffdetect.synthesis.lfw_task.build_self_blended_task` with ``BENCHMARK_TASK``,
   identities split 60/20/20 with seed 0).
2. Pre-trains the tiny backbone (``configs/pretrain/tiny-pixel.yaml``) on real faces of the
   task's *training identities only*: the same build with 16 views per identity, real rows of
   the ``train`` split (the identity split depends only on the seed, so val/test identities are
   never seen; the script checks it).
3. Fine-tunes ``configs/tiny-competitive.yaml`` on the task from (a) random init and (b) the
   pre-trained backbone, same epochs and seeds, and scores the held-out test identities with
   ``evaluate_model`` (video AUC: plain mean of frame p_fake).

Everything goes through the project's own functions (``pretrain``, ``train``, ``evaluate_model``);
the equivalent commands are printed into the report.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import multiprocessing
import platform
import statistics
import sys
import tempfile
import textwrap
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import torch

from ffdetect.config import load_config
from ffdetect.evaluation.calibration import aggregate_frames
from ffdetect.evaluation.evaluate import evaluate_model
from ffdetect.evaluation.metrics import compute_metrics, read_frame_results
from ffdetect.pretrain.config import PretrainConfig
from ffdetect.pretrain.data import real_face_paths
from ffdetect.pretrain.run import pretrain
from ffdetect.synthesis.lfw_task import (
    BENCHMARK_TASK,
    BENCHMARK_TRAIN_OVERRIDES,
    build_self_blended_task,
)
from ffdetect.train.config import TrainConfig
from ffdetect.train.data import prepared_datasets
from ffdetect.train.run import train

ROOT = Path(__file__).resolve().parents[1]
PRETRAIN_CONFIG = ROOT / "configs" / "pretrain" / "tiny-pixel.yaml"
FINETUNE_CONFIG = ROOT / "configs" / "tiny-competitive.yaml"
TASK_SEED = 0


def identities(manifest: Path, splits: set[str]) -> set[str]:
    """LFW identity names (``lfw_NNN``, without a clip suffix) of the given splits of a task."""
    with manifest.open(newline="") as fh:
        rows = csv.DictReader(fh)
        return {r["video_id"].split("/")[-1][:7] for r in rows if r["split"] in splits}


def test_auc(run_dir: Path, task: Path) -> float:
    """Video AUC on the task's test identities (plain mean of frame p_fake)."""
    evaluate_model(run_dir / "model", task, "test", run_dir / "test", num_workers=0)
    frames = read_frame_results(run_dir / "test" / "selfblend-lfw_frames.csv")
    names, scores, _ = aggregate_frames(frames.videos, frames.scores, frames.confidences, 0.0)
    label_of = dict(zip(frames.videos, frames.labels.tolist(), strict=True))
    return float(compute_metrics([label_of[n] for n in names], scores).auc)


def finetune(task: Path, run_dir: Path, seed: int, epochs: int, init: Path | None) -> dict:
    """One fine-tuning run; returns its row of the results table."""
    torch.set_num_threads(1)  # runs go side by side, one core each
    overrides = [*BENCHMARK_TRAIN_OVERRIDES, f"run.seed={seed}", f"schedule.epochs={epochs}"]
    if init is not None:
        overrides.append(f"model.init={init}")
    cfg = load_config(TrainConfig, FINETUNE_CONFIG, overrides)
    started = time.perf_counter()
    train_set, val_set = prepared_datasets(cfg, task)
    result = train(cfg, train_set, val_set, run_dir)
    seconds = time.perf_counter() - started
    return {
        "init": "pre-trained" if init is not None else "random",
        "seed": seed,
        "val_auc": result.best_value,
        "best_epoch": result.best_epoch,
        "test_auc": test_auc(run_dir, task),
        "seconds": seconds,
    }


def _step_cost(model: torch.nn.Module, target: torch.nn.Module, cfg: PretrainConfig, batch: int):
    """(FLOPs, bytes saved for backward) of one bf16-autocast step at ``batch`` images."""
    from torch.utils.flop_counter import FlopCounterMode

    from ffdetect.pretrain.masking import BlockMaskGenerator
    from ffdetect.pretrain.run import mim_loss

    side = cfg.model.img_size // cfg.model.patch_size
    gen = BlockMaskGenerator((side, side), cfg.mask.ratio)
    mask = torch.from_numpy(np.stack([gen(np.random.default_rng(i)) for i in range(batch)]))
    images = torch.randn(batch, 3, cfg.model.img_size, cfg.model.img_size)
    storages: dict[int, int] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        storage = t.untyped_storage()
        storages[storage.data_ptr()] = storage.nbytes()  # each buffer once
        return t

    with FlopCounterMode(display=False) as flops:
        with (
            torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t),
            torch.autocast("cpu", dtype=torch.bfloat16),
        ):
            loss, _ = mim_loss(model, target, images, mask)
        loss.backward()
    model.zero_grad(set_to_none=True)
    return flops.get_total_flops(), sum(storages.values())


def estimate_base() -> str:
    """FLOPs and activation memory per image of one base-size pre-training step, on CPU.

    FLOPs are counted with ``torch.utils.flop_counter`` over forward + backward. Activation
    memory is what autograd saves for backward (saved-tensor hooks, each buffer once) under bf16
    autocast, the precision of a GPU run, as the difference between batches of 3 and 1 images
    (so bf16 weight copies, saved once per step, are not counted per image). Weights, gradients
    and AdamW state are counted from the parameters (fp32).
    """
    from ffdetect.pretrain.run import build_mim_model
    from ffdetect.pretrain.targets import PixelTarget

    cfg = load_config(PretrainConfig, ROOT / "configs" / "pretrain" / "base-pixel.yaml")
    target = PixelTarget(cfg.model.patch_size)
    model = build_mim_model(cfg, target.out_dim).train()
    flops1, saved1 = _step_cost(model, target, cfg, 1)
    flops3, saved3 = _step_cost(model, target, cfg, 3)
    params = sum(p.numel() for p in model.parameters())
    state_gb = params * 4 * 4 / 1e9  # fp32 weights, gradients, AdamW exp_avg and exp_avg_sq
    return (
        f"base-pixel step, measured on CPU: {(flops3 - flops1) / 2 / 1e9:.1f} GFLOP per image "
        f"(forward + backward), {(saved3 - saved1) / 2 / 1e6:.0f} MB of activations saved for "
        f"backward per image under bf16 autocast ({saved1 / 1e6:.0f} MB at batch 1), "
        f"{params / 1e6:.1f} M parameters = {state_gb:.2f} GB of fp32 weights + gradients + "
        "AdamW state"
    )


def mean_sd(values: list[float]) -> str:
    if len(values) == 1:
        return f"{values[0]:.3f}"
    return f"{statistics.mean(values):.3f} ± {statistics.stdev(values):.3f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, default=10, help="fine-tuning epochs (both arms)")
    parser.add_argument("--jobs", type=int, default=2, help="fine-tuning runs side by side")
    parser.add_argument("--pretrain-epochs", type=int, default=None, help="default: the config's")
    parser.add_argument("--pretrain-views", type=int, default=16, help="views per identity")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/pretraining.md")
    parser.add_argument("--work", type=Path, default=None, help="keep runs here (default: temp)")
    parser.add_argument(
        "--estimate-base", action="store_true", help="only print the base recipe's cost per image"
    )
    args = parser.parse_args()
    if args.estimate_base:
        print(estimate_base())
        return
    started = time.perf_counter()

    with tempfile.TemporaryDirectory() as tmp:
        work = args.work or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        task = work / "task"
        faces_dir = work / "pretrain-faces"
        build_self_blended_task(task, seed=TASK_SEED, **BENCHMARK_TASK)
        build_self_blended_task(
            faces_dir, size=BENCHMARK_TASK["size"], frames=args.pretrain_views, seed=TASK_SEED
        )
        seen = identities(faces_dir / "manifest.csv", {"train"})
        held_out = identities(task / "manifest.csv", {"val", "test"})
        if seen & held_out or seen != identities(task / "manifest.csv", {"train"}):
            raise SystemExit("pre-training faces overlap the held-out identities")

        overrides = ["data.splits=[train]", f"model.img_size={BENCHMARK_TASK['size']}"]
        if args.pretrain_epochs is not None:
            overrides.append(f"schedule.epochs={args.pretrain_epochs}")
        pcfg = load_config(PretrainConfig, PRETRAIN_CONFIG, overrides)
        faces = real_face_paths(faces_dir, pcfg.data.splits)
        t0 = time.perf_counter()
        pre = pretrain(pcfg, faces, work / "pretrain")
        pretrain_s = time.perf_counter() - t0
        print(f"pre-trained {pre.steps} steps in {pretrain_s:.0f} s, loss {pre.last_loss:.4f}")
        with (work / "pretrain" / "epochs.csv").open() as fh:
            curve = [float(r["loss"]) for r in csv.DictReader(fh)]

        jobs = [
            (
                task,
                work / f"{'pretrained' if init else 'random'}-seed{seed}",
                seed,
                args.epochs,
                init,
            )
            for seed in args.seeds
            for init in (None, pre.model_dir)
        ]
        ctx = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=args.jobs, mp_context=ctx) as pool:
            rows = list(pool.map(finetune, *zip(*jobs, strict=True)))
        for row in rows:
            print(row, flush=True)
        n_test = len(identities(task / "manifest.csv", {"test"}))
        picture = work / "pretrain" / "reconstruction.png"
        if picture.exists():
            dest = args.out.with_name("pretraining_reconstruction.png")
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_bytes(picture.read_bytes())

    elapsed = time.perf_counter() - started
    text = report(rows, args, pcfg, len(faces), pre.steps, pretrain_s, curve, n_test, elapsed)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print(text)


def report(
    rows: list[dict],
    args: argparse.Namespace,
    pcfg: PretrainConfig,
    n_faces: int,
    steps: int,
    pretrain_s: float,
    curve: list[float],
    n_test: int,
    elapsed: float,
) -> str:
    """The markdown results file."""
    seeds = " ".join(str(s) for s in args.seeds)
    ep = pcfg.schedule.epochs
    commands = [
        "# the benchmark (one command):",
        "python benchmarks/pretraining.py " + " ".join(sys.argv[1:]),
        "# what it does, as CLI commands (TASK: the self-blended task; FACES: the same build with "
        f"{args.pretrain_views} views per identity):",
        f"ffdetect pretrain --config configs/pretrain/tiny-pixel.yaml --data FACES --out PRE "
        f"data.splits=[train] model.img_size={BENCHMARK_TASK['size']} schedule.epochs={ep}",
        f"ffdetect train --config configs/tiny-competitive.yaml --data TASK --out RAND_s "
        f"{' '.join(BENCHMARK_TRAIN_OVERRIDES)} run.seed=s schedule.epochs={args.epochs}",
        f"ffdetect train --config configs/tiny-competitive.yaml --data TASK --out PRE_s "
        f"--init PRE/model {' '.join(BENCHMARK_TRAIN_OVERRIDES)} run.seed=s "
        f"schedule.epochs={args.epochs}",
        "ffdetect evaluate --model RUN/model --data TASK --split test --out RUN/test",
    ]
    setup = (
        f"Pre-training: {n_faces} real faces of the 60 training identities ({args.pretrain_views} "
        f"jittered {BENCHMARK_TASK['size']} px "
        f"views each; no validation or test identity), tiny width, 4 blocks, 8 px patches, "
        f"{pcfg.mask.ratio:.0%} of patches masked in blocks, pixel targets (per-patch "
        f"normalised), linear head, AdamW lr {pcfg.optim.lr:g}, batch {pcfg.data.batch_size}, "
        f"{ep} epochs = {steps} steps in {pretrain_s / 60:.1f} min. Fine-tuning: "
        f"configs/tiny-competitive.yaml ({', '.join(BENCHMARK_TRAIN_OVERRIDES)}) for "
        f"{args.epochs} epochs (60 steps of 32 faces), best "
        f"epoch by validation video AUC, seeds {seeds}, identical for both arms except the "
        f"backbone init. Test: {n_test} held-out identities (four real and four fake videos "
        "each; blend strength 3, as in benchmarks/results/learning.md)."
    )
    lines = [
        "# Pre-training benchmark: tiny backbone, random init vs masked-image pre-training",
        "",
        f"Date {dt.date.today()}, {platform.machine()}, {args.jobs} fine-tuning runs side by "
        "side, 1 thread each (2 cores shared with other jobs), "
        f"Python {platform.python_version()}, torch {torch.__version__}; "
        f"wall time {elapsed / 60:.1f} min.",
        "",
        "```",
        *commands,
        "```",
        "",
        *textwrap.wrap(setup, 98),
        "",
        "Pre-training loss (masked-patch MSE of normalised pixels) per epoch: "
        + ", ".join(f"{v:.3f}" for v in curve),
        "",
        "| init | seed | test video AUC | val video AUC (selection) | best epoch | train s |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        val = "n/a" if r["val_auc"] is None else f"{r['val_auc']:.3f}"
        lines.append(
            f"| {r['init']} | {r['seed']} | {r['test_auc']:.3f} | {val} | {r['best_epoch']} | "
            f"{r['seconds']:.0f} |"
        )
    lines += ["", "Mean ± standard deviation over seeds:", ""]
    lines += ["| init | test video AUC | val video AUC |", "| --- | --- | --- |"]
    for init in ("random", "pre-trained"):
        sub = [r for r in rows if r["init"] == init]
        vals = [r["val_auc"] for r in sub if r["val_auc"] is not None]
        lines.append(
            f"| {init} | {mean_sd([r['test_auc'] for r in sub])} | "
            f"{mean_sd(vals) if vals else 'n/a'} |"
        )
    diffs = [
        p["test_auc"] - r["test_auc"]
        for p, r in zip(
            [r for r in rows if r["init"] == "pre-trained"],
            [r for r in rows if r["init"] == "random"],
            strict=True,
        )
    ]
    lines += [
        "",
        "Paired difference (pre-trained - random) per seed: "
        + ", ".join(f"{d:+.3f}" for d in diffs)
        + f"; mean {np.mean(diffs):+.3f}.",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
