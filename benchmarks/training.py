"""Training step: the two-branch step of ``ffdetect train`` against a plain reference step.

    python benchmarks/training.py [--size tiny] [--img-size 112] [--batch 8] [--repeats 3]

One step = :func:`ffdetect.train.engine.train_one_epoch` over one batch: both branches forward,
the competitive loss (CE + 2 x evidential + Pearson), backward, LAMB with layer-wise lr decay.
Variants, all from the same random weights and batch of face photos (112 px by default, to
fit the time budget on two cores):

- ``reference``: the backbones are :mod:`reference_model`'s plain BEiT (eager attention, fp32);
- ``deployed``: ffdetect's timm backbones (fused scaled-dot-product attention), fp32, exactly
  what ``ffdetect train`` runs on a CPU;
- ``deployed, bf16 autocast``: the same with ``run.cpu_bf16=true`` (``torch.autocast(bfloat16)``
  inside the step, on CPUs with AVX-512 BF16 or AMX; on CUDA this is ``run.amp``).

Images/s are medians of alternating rounds. Peak memory is the peak resident set of a fresh
process that builds the variant and runs two steps (``--memory-child``), minus that of a process
that only imports the libraries.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import warnings
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import Report, device, interleaved, markdown_table, median, sync  # noqa: E402
from inference import face_images  # noqa: E402
from reference_model import PlainBeit  # noqa: E402

from ffdetect.checkpoint.metadata import ModelMeta  # noqa: E402
from ffdetect.inference.preprocess import crops_to_tensor  # noqa: E402
from ffdetect.losses.competitive import CompetitiveLoss  # noqa: E402
from ffdetect.models.backbone import architecture_for  # noqa: E402
from ffdetect.models.detector import CompetitiveDetector  # noqa: E402
from ffdetect.train.config import OptimConfig, ScheduleConfig  # noqa: E402
from ffdetect.train.engine import StepContext, train_one_epoch  # noqa: E402
from ffdetect.train.optim import build_optimizer, build_scheduler  # noqa: E402

VARIANTS = ("reference", "deployed", "deployed, bf16 autocast")


def build(variant: str, size: str, img_size: int) -> CompetitiveDetector:
    """The two-branch model of ``variant``, from the same seed as every other variant."""
    torch.manual_seed(0)
    arch = architecture_for(size, img_size=img_size)
    model = CompetitiveDetector.build(arch)
    if variant == "reference":
        state = model.main.state_dict()
        main, competitor = PlainBeit(arch), PlainBeit(arch)
        for branch in (main, competitor):
            branch.load_state_dict({k: v for k, v in state.items() if "k_bias" not in k})
        model = CompetitiveDetector(main, competitor, model.head)
    return model.to(device())


def stepper(variant: str, size: str, img_size: int, batch: int):
    """A timed call that runs one training step of ``variant``."""
    dev = device()
    model = build(variant, size, img_size)
    meta = ModelMeta(architecture=architecture_for(size, img_size=img_size))
    images = crops_to_tensor(face_images(batch, img_size), meta).to(dev)
    labels = (torch.arange(batch) % 2).to(dev)
    data = [(images, labels, [f"v{i}" for i in range(batch)])]
    optimizer = build_optimizer(model, OptimConfig())
    scheduler = build_scheduler(optimizer, ScheduleConfig(), steps_per_epoch=1000)
    criterion = CompetitiveLoss()
    cuda = dev.type == "cuda"
    bf16 = variant.endswith("bf16 autocast")
    step = [0]

    def run() -> None:
        amp = cuda and variant != "reference"
        ctx = StepContext(0, 10, 1000, step[0], dev, amp=amp, cpu_bf16=bf16 and not cuda)
        step[0] = train_one_epoch(model, criterion, data, optimizer, scheduler, ctx)
        sync(dev)

    return run


def peak_rss_mb() -> float:
    """Peak resident set of this process in MiB: ``VmHWM`` (``ru_maxrss`` would include the
    parent's peak, which Linux carries across ``exec``)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return float(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def memory_child(variant: str, size: str, img_size: int, batch: int) -> None:
    """Print the peak RSS after two steps of ``variant`` (``idle``: after the imports only)."""
    if variant != "idle":
        run = stepper(variant, size, img_size, batch)
        run()
        run()
    print(json.dumps({"peak_mb": peak_rss_mb()}))


def measure_memory(variant: str, size: str, img_size: int, batch: int) -> float:
    """Peak RSS in MiB of a fresh process running ``variant`` (see :func:`memory_child`)."""
    command = [sys.executable, __file__, "--memory-child", variant, "--size", size]
    out = subprocess.run(
        [*command, "--img-size", str(img_size), "--batch", str(batch)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return float(json.loads(out.strip().splitlines()[-1])["peak_mb"])


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark and write ``benchmarks/results/training.md``."""
    warnings.simplefilter("ignore")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="tiny")
    parser.add_argument("--img-size", type=int, default=112)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--memory-child", default=None)
    args = parser.parse_args(argv)
    if args.memory_child:
        memory_child(args.memory_child, args.size, args.img_size, args.batch)
        return
    report = Report("training", "Training step: two-branch step vs plain reference step")
    calls = {v: stepper(v, args.size, args.img_size, args.batch) for v in VARIANTS}
    times = interleaved(calls, args.repeats)
    idle = measure_memory("idle", args.size, args.img_size, args.batch)
    ref_rate = args.batch / median(times["reference"])
    rows = []
    for variant in VARIANTS:
        rate = args.batch / median(times[variant])
        memory = measure_memory(variant, args.size, args.img_size, args.batch) - idle
        rounds = " ".join(f"{args.batch / t:.2f}" for t in times[variant])
        rows.append([variant, f"{rate:.2f}", f"{rate / ref_rate:.2f}x", f"{memory:.0f}", rounds])
    report.add(
        f"## {args.size}, {args.img_size} px, batch {args.batch}, two branches, LAMB\n\n"
        f"Peak memory: peak RSS of a fresh process running two steps minus {idle:.0f} MiB "
        "(a process that only imported the libraries).\n\n"
        + markdown_table(["variant", "images/s", "vs ref", "peak MiB", "rounds"], rows)
    )
    report.write()


if __name__ == "__main__":
    main()
