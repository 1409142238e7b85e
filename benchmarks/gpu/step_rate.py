"""Training images/s of fine-tuning configs (random 64 px batches through the real step).

``python benchmarks/gpu/step_rate.py '{"A": ["data.batch_size=128"]}' [STEPS]``: each name's
overrides of demo_model/train-config.yaml; prints one line per config, then all rates as JSON.
Used by real_faces_recipe.sh to size the epochs to the time left.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from common import device, sync  # noqa: E402  (benchmarks/common.py)

from ffdetect.config import load_config
from ffdetect.losses.competitive import CompetitiveLoss
from ffdetect.train.config import TrainConfig
from ffdetect.train.engine import StepContext, train_one_epoch
from ffdetect.train.optim import build_optimizer, build_scheduler
from ffdetect.train.run import build_training_model


def step_rate(overrides: list[str], steps: int, warmup: int = 5) -> float:
    """Images/s of ``steps`` training steps of one config, after ``warmup`` untimed ones."""
    cfg = load_config(TrainConfig, "demo_model/train-config.yaml", overrides)
    dev = device()
    model = build_training_model(cfg).to(dev)
    optimizer = build_optimizer(model, cfg.optim)
    scheduler = build_scheduler(optimizer, cfg.schedule, 1000)
    criterion = CompetitiveLoss(cfg.loss)
    batch = cfg.data.batch_size
    size = cfg.model.img_size
    images = torch.randn(batch, 3, size, size, device=dev)
    labels = torch.arange(batch, device=dev) % 2
    data = [(images, labels, [str(i) for i in range(batch)])]
    step, start = 0, 0.0
    for i in range(steps + warmup):
        if i == warmup:
            sync(dev)
            start = time.perf_counter()
        ctx = StepContext(0, 10, 1000, step, dev, amp=cfg.run.amp, clip_grad=cfg.optim.clip_grad)
        step = train_one_epoch(model, criterion, data, optimizer, scheduler, ctx)
    sync(dev)
    return steps * batch / (time.perf_counter() - start)


def main(argv: list[str]) -> None:
    """Print the rate of each named config, then all of them as one JSON line."""
    steps = int(argv[1]) if len(argv) > 1 else 20
    rates = {}
    for name, overrides in json.loads(argv[0]).items():
        rates[name] = step_rate(overrides, steps)
        print(name, f"{rates[name]:.0f} img/s", flush=True)
    print(json.dumps(rates))


if __name__ == "__main__":
    main(sys.argv[1:])
