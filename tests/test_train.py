"""Fine-tuning: layer-wise lr decay, export, resume after SIGKILL, and DDP equivalence."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from ffdetect.checkpoint.model_format import load_detector
from ffdetect.config import ConfigError
from ffdetect.models import Detector, FusedDetector
from ffdetect.train.optim import build_optimizer, build_scheduler
from ffdetect.train.run import build_training_model, deployed_detector, train
from ffdetect.train.session import seed_everything

sys.path.insert(0, str(Path(__file__).parent))
from train_support import SyntheticFrames, tiny_config  # noqa: E402

SUPPORT = Path(__file__).parent / "train_support.py"


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(SUPPORT.parent), env.get("PYTHONPATH", "")])
    env["OMP_NUM_THREADS"] = "1"
    return env


def test_layer_wise_lr_decay_is_applied_by_the_scheduler() -> None:
    cfg = tiny_config(
        optim={"lr": 1e-3, "layer_decay": 0.5}, schedule={"epochs": 2, "warmup_epochs": 0.0}
    )
    model = build_training_model(cfg)
    optimizer = build_optimizer(model, cfg.optim)
    scheduler = build_scheduler(optimizer, cfg.schedule, steps_per_epoch=10)
    scheduler.step_update(5)
    lr_of = {}
    for group in optimizer.param_groups:
        for p in group["params"]:
            lr_of[p] = group["lr"]
    named = dict(model.named_parameters())
    head = lr_of[named["head.fc.weight"]]
    block1 = lr_of[named["main.blocks.1.mlp.fc1.weight"]]
    block0 = lr_of[named["main.blocks.0.mlp.fc1.weight"]]
    stem = lr_of[named["main.patch_embed.proj.weight"]]
    # layers (BEiT convention, depth + 2): stem 0, block i -> i + 1 (the final norm joins the
    # last block), head 3; scale 0.5 ** (3 - layer), the same in both branches
    assert block1 == pytest.approx(head * 0.5) and block0 == pytest.approx(head * 0.25)
    assert stem == pytest.approx(head * 0.125)
    assert lr_of[named["competitor.blocks.1.mlp.fc1.weight"]] == block1
    assert lr_of[named["main.norm.weight"]] == block1
    assert optimizer.__class__.__name__ == "Lamb"
    assert lr_of[named["main.cls_token"]] == stem
    no_decay = [g for g in optimizer.param_groups if g["weight_decay"] == 0.0]
    assert any(named["main.cls_token"] is p for g in no_decay for p in g["params"])


def test_short_run_exports_a_usable_model_and_logs_every_term(tmp_path) -> None:
    cfg = tiny_config(run={"max_steps": 3})
    result = train(cfg, SyntheticFrames(), SyntheticFrames(n_videos=4, seed=1), tmp_path / "run")
    assert result.steps == 3
    detector, meta = load_detector(tmp_path / "run" / "model")
    assert meta.kind == "detector" and meta.provenance["how"] == "ffdetect train"
    p = detector.p_fake(torch.randn(2, 3, 32, 32))
    assert p.shape == (2,)
    header = (tmp_path / "run" / "log.csv").read_text().splitlines()[0].split(",")
    assert {"ce_fused", "edl_main", "edl_competitor", "rho", "lr", "images_per_s"} <= set(header)
    assert (tmp_path / "run" / "val_results.csv").exists()
    assert (tmp_path / "run" / "val_results_frames.csv").exists()


def test_flip_average_scores_validation_as_the_exported_model_does(tmp_path) -> None:
    """Calibration reads the validation scores: they must be the deployed model's scores."""
    import csv

    cfg = tiny_config(model={"flip_average": True}, run={"max_steps": 3})
    val = SyntheticFrames(n_videos=4, seed=1)
    train(cfg, SyntheticFrames(), val, tmp_path / "run")
    detector, meta = load_detector(tmp_path / "run" / "model")
    assert meta.flip_average and detector.flip_average
    with open(tmp_path / "run" / "val_results_frames.csv", newline="") as fh:
        written = torch.tensor([float(row["predict"]) for row in csv.DictReader(fh)])
    assert torch.allclose(written, detector.p_fake(val.images), atol=1e-5)
    one_view = detector.with_flip_average(False).p_fake(val.images)
    assert not torch.allclose(written, one_view, atol=1e-4)


def test_fused_run_validates_and_exports_the_fused_prediction(tmp_path) -> None:
    """With ``model.fused`` validation and the exported model score both branches' fusion."""
    import csv

    # Stochastic depth makes the branches diverge (without it they stay identical).
    model = {"flip_average": True, "fused": True, "drop_path_rate": 0.1}
    cfg = tiny_config(model=model, run={"max_steps": 3})
    val = SyntheticFrames(n_videos=4, seed=1)
    train(cfg, SyntheticFrames(), val, tmp_path / "run")
    detector, meta = load_detector(tmp_path / "run" / "model")
    assert meta.kind == "competitive" and meta.fused and isinstance(detector, FusedDetector)
    with open(tmp_path / "run" / "val_results_frames.csv", newline="") as fh:
        written = torch.tensor([float(row["predict"]) for row in csv.DictReader(fh)])
    assert torch.allclose(written, detector.p_fake(val.images), atol=1e-5)
    main = Detector(detector.backbone, detector.head, flip_average=True).p_fake(val.images)
    assert not torch.allclose(written, main, atol=1e-4)
    with pytest.raises(ConfigError, match="competitive"):
        tiny_config(method="baseline", model={"fused": True})


def test_training_learns_the_synthetic_cue(tmp_path) -> None:
    cfg = tiny_config(
        schedule={"epochs": 6, "warmup_epochs": 1.0}, optim={"lr": 2e-3, "clip_grad": 1.0}
    )
    result = train(
        cfg, SyntheticFrames(n_videos=16), SyntheticFrames(n_videos=8, seed=1), tmp_path / "run"
    )
    assert result.best_value is not None and result.best_value > 0.9


def _weights(run: Path) -> dict[str, torch.Tensor]:
    return load_file(str(run / "model" / "model.safetensors"))


def test_resume_after_sigkill_matches_an_unbroken_run(tmp_path) -> None:
    args = ["schedule.epochs=4"]
    subprocess.run(
        [sys.executable, str(SUPPORT), str(tmp_path / "unbroken"), *args], check=True, env=_env()
    )

    killed = tmp_path / "killed"
    proc = subprocess.Popen([sys.executable, str(SUPPORT), str(killed), *args], env=_env())
    deadline = time.time() + 120
    while not (killed / "checkpoints" / "last.pt").exists():
        assert proc.poll() is None, "the run ended before its first checkpoint"
        assert time.time() < deadline
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (killed / "model").exists(), "killed too late: the run had already finished"
    subprocess.run(
        [sys.executable, str(SUPPORT), str(killed), "--resume", *args], check=True, env=_env()
    )

    a, b = _weights(tmp_path / "unbroken"), _weights(killed)
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


def test_rerun_without_resume_refuses_to_overwrite(tmp_path) -> None:
    cfg = tiny_config(run={"max_steps": 1})
    train(cfg, SyntheticFrames(), None, tmp_path / "run")
    with pytest.raises(FileExistsError, match="--resume"):
        train(cfg, SyntheticFrames(), None, tmp_path / "run")


@pytest.mark.skipif(
    shutil.which("torchrun") is None and not Path(sys.executable).with_name("torchrun").exists(),
    reason="torchrun not installed",
)
def test_two_process_ddp_equals_single_process_on_the_same_global_batch(tmp_path) -> None:
    args = ["schedule.epochs=2", "run.deterministic=false"]
    subprocess.run(
        [sys.executable, str(SUPPORT), str(tmp_path / "single"), *args], check=True, env=_env()
    )
    torchrun = Path(sys.executable).with_name("torchrun")
    subprocess.run(
        [
            str(torchrun),
            "--standalone",
            "--nproc_per_node",
            "2",
            str(SUPPORT),
            str(tmp_path / "ddp"),
            *args,
        ],
        check=True,
        env=_env(),
        timeout=300,
    )
    a, b = _weights(tmp_path / "single"), _weights(tmp_path / "ddp")
    seed_everything(0)  # the runs' initial weights, to measure how far training moved them
    init = deployed_detector(build_training_model(tiny_config())).state_dict()
    moved = max((a[k] - init[k]).abs().max().item() for k in a)
    apart = max((a[k] - b[k]).abs().max().item() for k in a)
    assert moved > 1e-3
    assert apart < 1e-2 * moved, (apart, moved)


@pytest.mark.skipif(
    shutil.which("torchrun") is None and not Path(sys.executable).with_name("torchrun").exists(),
    reason="torchrun not installed",
)
def test_torchrun_cli_prints_once(tmp_path) -> None:
    """Under a 2-process gloo torchrun, only rank 0 prints the summary, the bar and "exported"."""
    from prepared_support import write_prepared

    data = write_prepared(tmp_path / "data", size=32)
    config = Path(__file__).resolve().parents[1] / "configs" / "tiny-competitive.yaml"
    torchrun = Path(sys.executable).with_name("torchrun")
    run = tmp_path / "run"
    done = subprocess.run(
        [
            str(torchrun),
            "--standalone",
            "--nproc_per_node",
            "2",
            "-m",
            "ffdetect.cli",
            "train",
            "--config",
            str(config),
            "--data",
            str(data),
            "--out",
            str(run),
            "--max-steps",
            "2",
            "model.img_size=32",
            "model.depth=1",
            "data.batch_size=8",
            "schedule.epochs=1",
        ],
        capture_output=True,
        text=True,
        env=_env(),
        timeout=300,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert output.count("training faces") == 1, output
    assert output.count(f"exported {run / 'model'}") == 1, output
    assert output.count("train ") == 1, output  # the progress bar's label
    assert (run / "model" / "model.safetensors").is_file()


def test_authors_weight_decay_set_decays_tokens_and_tables() -> None:
    beit = tiny_config()
    authors = tiny_config(optim={"no_decay": "authors"})
    model = build_training_model(beit)
    named = {id(p): n for n, p in model.named_parameters()}

    def decayed(cfg) -> set[str]:
        groups = build_optimizer(model, cfg.optim).param_groups
        return {named[id(p)] for g in groups if g["weight_decay"] > 0 for p in g["params"]}

    extra = decayed(authors) - decayed(beit)
    assert "main.cls_token" in extra and "main.blocks.0.attn.relative_position_bias_table" in extra
    assert not any(n.endswith(("bias", "gamma_1")) and "table" not in n for n in extra)


def test_per_epoch_schedule_holds_the_lr_within_an_epoch() -> None:
    cfg = tiny_config(
        optim={"lr": 1e-3, "layer_decay": 1.0},
        schedule={"epochs": 4, "warmup_epochs": 1.0, "warmup_lr": 1e-6, "step": "epoch"},
    )
    optimizer = build_optimizer(build_training_model(cfg), cfg.optim)
    scheduler = build_scheduler(optimizer, cfg.schedule, steps_per_epoch=10)

    def lr_at(epoch: int, update: int) -> float:
        scheduler.step(epoch)
        scheduler.step_update(epoch * 10 + update)
        return optimizer.param_groups[0]["lr"]

    assert lr_at(0, 0) == lr_at(0, 9) == pytest.approx(1e-6)  # the whole warm-up epoch
    second = lr_at(1, 3)
    assert lr_at(1, 8) == second and 5e-4 < second < 1e-3  # cosine, evaluated at epoch 1
    assert lr_at(2, 0) < second


def test_authors_cutout_comes_after_normalisation_with_one_size() -> None:
    import numpy as np

    from ffdetect.data.transforms import eval_transform, recipe_cutout, train_transform

    white = np.full((64, 64, 3), 255, dtype=np.uint8)
    ours = train_transform(64, cutout=True, cutout_style="ffdetect")
    theirs = train_transform(64, cutout=True, cutout_style="authors")
    ours.set_random_seed(3)
    theirs.set_random_seed(3)
    black = ours(image=white)["image"].amin().item()
    mean_colour = theirs(image=white)["image"].amin().item()
    assert black < -1.5 and mean_colour == pytest.approx(0.0, abs=1e-6)
    holes = recipe_cutout("authors").get_params_dependent_on_data({"shape": (224, 224)}, {})
    assert len({s for _, _, s in holes["holes"]}) == 1
    assert eval_transform(64)(image=white)["image"].amin().item() > 2.0
    assert eval_transform(64, "authors")(image=white)["image"].amin().item() == 0.0


def test_group_sampler_keeps_twins_together_and_splits_batches_like_one_process() -> None:
    from ffdetect.train.distributed import DistInfo
    from ffdetect.train.session import GroupSampler

    groups = [[2 * k, 2 * k + 1] for k in range(21)]  # 42 samples: 5 batches of 8, 2 left
    alone = GroupSampler(groups, batch_size=8, seed=3, info=DistInfo())
    ranks = [GroupSampler(groups, 8, 3, DistInfo(rank=r, world_size=2)) for r in (0, 1)]
    orders = {}
    for epoch in (0, 1):
        for s in (alone, *ranks):
            s.set_epoch(epoch)
        order, shares = list(alone), [list(s) for s in ranks]
        assert len(order) == len(alone) == 40 and len(set(order)) == 40
        for b in range(5):
            batch = order[8 * b : 8 * b + 8]
            assert {i // 2 for i in batch} == {i // 2 for i in batch[::2]}  # whole twins only
            assert sorted(batch) == sorted(
                shares[0][4 * b : 4 * b + 4] + shares[1][4 * b : 4 * b + 4]
            )
        orders[epoch] = order
    assert orders[0] != orders[1]


def test_paired_training_reads_twins_from_a_prepared_directory(tmp_path) -> None:
    from ffdetect.train.data import prepared_datasets, twin_groups
    from prepared_support import write_prepared

    cfg = tiny_config(data={"paired": True, "frames_per_video": 2})
    twins = write_prepared(tmp_path / "twins", size=32, twins=True)
    train_set, val_set = prepared_datasets(cfg, twins)
    groups = twin_groups(train_set)
    samples = train_set.base.samples
    assert len(groups) == 4 and all(len(g) == 4 for g in groups)  # 2 frames of real/X + fake/X
    for g in groups:
        assert sorted(int(samples[i]["label"]) for i in g) == [0, 0, 1, 1]
    result = train(cfg, train_set, val_set, tmp_path / "run")
    assert (tmp_path / "run" / "model").is_dir() and result is not None

    plain = write_prepared(tmp_path / "plain", size=32)
    with pytest.raises(ValueError, match="no real video has a fake twin"):
        twin_groups(prepared_datasets(cfg, plain)[0])


@pytest.mark.parametrize(
    ("override", "line"),
    [
        (
            "data.batch_size=32",
            "error: 16 training faces are fewer than one batch (data.batch_size=32): "
            "set data.batch_size=16 or less",
        ),
        ("optim.lr=nan", "error: configs/tiny-competitive.yaml.optim.lr: expected a finite number"),
    ],
)
def test_cli_refuses_a_batch_larger_than_the_data_or_a_nan_lr_in_one_line(
    tmp_path, monkeypatch, override: str, line: str
) -> None:
    """One line naming the option, exit 2, before any progress bar."""
    from typer.testing import CliRunner

    from ffdetect.cli import app
    from prepared_support import write_prepared

    monkeypatch.chdir(Path(__file__).resolve().parents[1])
    data = write_prepared(tmp_path / "data", size=32)
    args = ["--data", str(data), "--out", str(tmp_path / "run"), "model.img_size=32", override]
    result = CliRunner().invoke(app, ["train", "--config", "configs/tiny-competitive.yaml", *args])
    assert result.exit_code == 2, result.output
    assert result.output.splitlines()[0].startswith(line), result.output
    assert len(result.output.splitlines()) == 1 and "0/0" not in result.output
    assert not (tmp_path / "run").exists()


def test_batch_size_that_does_not_split_over_the_processes_names_a_multiple() -> None:
    from ffdetect.train.batches import BatchSizeError, batches_per_epoch

    assert batches_per_epoch(17, 8, "training faces", processes=2) == 2
    with pytest.raises(BatchSizeError, match="set data.batch_size to a multiple of 2"):
        batches_per_epoch(100, 9, "training faces", processes=2)
    with pytest.raises(BatchSizeError, match="set data.batch_size=6 or a smaller multiple of 2"):
        batches_per_epoch(7, 8, "training faces", processes=2)


def test_curves_png_is_written_every_epoch_and_redrawn_on_resume(tmp_path) -> None:
    from curves_support import png_size

    run = tmp_path / "run"
    frames, val = SyntheticFrames(n_videos=4), SyntheticFrames(n_videos=2, seed=1)
    train(tiny_config(schedule={"epochs": 2}, run={"max_steps": 2}), frames, val, run)
    curves = run / "curves.png"
    assert png_size(curves) == (700, 900)
    first = curves.read_bytes()
    assert not list(run.glob(".curves.png.*"))  # no temporary left behind
    train(tiny_config(schedule={"epochs": 2}), frames, val, run, resume=True)
    assert png_size(curves) == (700, 900) and curves.read_bytes() != first
