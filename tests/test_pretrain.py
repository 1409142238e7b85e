"""Pre-training: block masks, masked-only loss, targets, export, CLI, resume after kill, DDP."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
import yaml
from safetensors.torch import load_file
from scipy import ndimage
from typer.testing import CliRunner

from ffdetect.checkpoint.metadata import ModelMeta
from ffdetect.checkpoint.model_format import load_backbone_weights, read_meta, save_model
from ffdetect.cli import app
from ffdetect.config import from_dict, to_dict
from ffdetect.models.backbone import architecture_for, create_backbone
from ffdetect.pretrain.config import PretrainConfig
from ffdetect.pretrain.data import real_face_paths
from ffdetect.pretrain.masking import BlockMaskGenerator
from ffdetect.pretrain.model import MaskedImageModel, encode_masked
from ffdetect.pretrain.run import build_mim_model, mim_loss, pretrain
from ffdetect.pretrain.targets import PixelTarget, TokenTarget, patchify, unpatchify
from ffdetect.pretrain.tokenizer import build_tokenizer, load_tokenizer, save_tokenizer
from ffdetect.synthesis.sources import lfw_faces
from ffdetect.train.config import TrainConfig
from ffdetect.train.run import build_training_model

sys.path.insert(0, str(Path(__file__).parent))
from curves_support import png_size  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def tiny_cfg(**sections: dict) -> PretrainConfig:
    """Tiny width, 2 blocks, 32 px faces in 8 px patches (16 patches, 6 masked)."""
    data = {
        "model": {"size": "tiny", "img_size": 32, "patch_size": 8, "depth": 2, "drop_path_rate": 0},
        "optim": {"lr": 1e-3},
        "schedule": {"epochs": 2, "warmup_epochs": 0.5},
        "data": {"batch_size": 4, "num_workers": 0},
        "run": {"seed": 0, "log_every": 1, "reconstructions": 2},
    }
    for section, values in sections.items():
        data.setdefault(section, {}).update(values)
    return from_dict(PretrainConfig, data)


@pytest.fixture(scope="module")
def face_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Twelve package-shipped LFW faces as 32 px PNGs in nested folders."""
    root = tmp_path_factory.mktemp("faces")
    for i, face in enumerate(lfw_faces()[:12]):
        path = root / f"person{i % 3}" / f"{i:02d}.png"
        path.parent.mkdir(exist_ok=True)
        cv2.imwrite(str(path), cv2.resize(face, (32, 32)))
    (root / "notes.txt").write_text("not an image")
    return root


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["OMP_NUM_THREADS"] = "1"
    return env


# --- masking -------------------------------------------------------------------------------


@pytest.mark.parametrize(("grid", "ratio"), [((14, 14), 0.4), ((8, 8), 0.4), ((4, 4), 0.6)])
def test_block_masks_hit_the_ratio_exactly(grid: tuple[int, int], ratio: float) -> None:
    gen = BlockMaskGenerator(grid, ratio)
    rng = np.random.default_rng(0)
    masks = [gen(rng) for _ in range(200)]
    assert all(m.shape == grid and m.dtype == bool for m in masks)
    assert {int(m.sum()) for m in masks} == {round(ratio * grid[0] * grid[1])}
    assert len({m.tobytes() for m in masks}) > 100  # varied


def test_block_masks_are_blocks_and_deterministic() -> None:
    gen = BlockMaskGenerator((14, 14), 0.4, min_patches=4)
    masks = [gen(np.random.default_rng(s)) for s in range(200)]
    sizes = [
        int(s) for m in masks for s in np.bincount(ndimage.label(m)[0].ravel())[1:]
    ]  # 4-connected components
    assert np.mean(sizes) > 15  # random masking of 40% gives mostly tiny components
    assert np.median(sizes) >= 4
    # a masked patch usually has masked neighbours (block interiors), unlike random masking
    m = np.stack(masks)
    neighbours = (np.pad(m, ((0, 0), (1, 0), (0, 0)))[:, :-1] & m).sum() / m.sum()
    assert neighbours > 0.6
    again = gen(np.random.default_rng(7))
    assert np.array_equal(again, masks[7])
    rows = np.flatnonzero(masks[0].any(1))
    assert rows.size < 14 or np.flatnonzero(masks[0].any(0)).size < 14  # not salt and pepper


def test_block_masks_reject_bad_ratios() -> None:
    with pytest.raises(ValueError, match="ratio"):
        BlockMaskGenerator((4, 4), 1.0)


# --- model and targets ---------------------------------------------------------------------


def _tiny_model(out_dim: int = 192, head_depth: int = 0) -> MaskedImageModel:
    arch = architecture_for("tiny", img_size=32, patch_size=8, depth=2)
    return MaskedImageModel(create_backbone(arch, drop_path_rate=0.0), out_dim, head_depth).eval()


def test_masked_encoder_is_the_backbone_when_nothing_is_masked() -> None:
    model = _tiny_model()
    x = torch.randn(2, 3, 32, 32)
    none = torch.zeros(2, 16, dtype=torch.bool)
    out = encode_masked(model.backbone, x, none, model.mask_token)
    torch.testing.assert_close(out, model.backbone.forward_features(x))
    some = none.clone()
    some[:, :5] = True
    changed = encode_masked(model.backbone, x, some, model.mask_token)
    assert not torch.allclose(changed, out)
    # a masked patch's content does not reach the encoder
    y = x.clone()
    y[:, :, :8, :8] += 5.0  # patch 0, masked
    torch.testing.assert_close(encode_masked(model.backbone, y, some, model.mask_token), changed)


def test_wrapper_keeps_the_backbone_parameter_names() -> None:
    model = _tiny_model(head_depth=1)
    plain = create_backbone(architecture_for("tiny", img_size=32, patch_size=8, depth=2))
    names = {k.removeprefix("backbone.") for k in model.state_dict() if k.startswith("backbone.")}
    assert names == set(plain.state_dict())
    assert "mask_token" in model.no_weight_decay()


def test_patchify_round_trips() -> None:
    x = torch.randn(2, 3, 32, 32)
    patches = patchify(x, 8)
    assert patches.shape == (2, 16, 192)
    torch.testing.assert_close(unpatchify(patches, 8, (4, 4)), x)
    # patch k is the k-th 8x8 square in raster order, as the patch embedding sees it
    torch.testing.assert_close(
        patches[:, 5].reshape(2, 8, 8, 3), x[:, :, 8:16, 8:16].permute(0, 2, 3, 1)
    )


class _NanOutside:
    """Wraps a target: targets of visible patches become NaN (so using them would show)."""

    def __init__(self, target: torch.nn.Module, mask: torch.Tensor) -> None:
        self.inner, self.mask, self.kind = target, mask.flatten(1), target.kind

    def targets(self, images: torch.Tensor) -> torch.Tensor:
        t = self.inner.targets(images).clone()
        if t.is_floating_point():
            t[~self.mask] = float("nan")
        else:
            t[~self.mask] = -100_000  # an invalid class index
        return t

    def loss(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return self.inner.loss(pred, target)


@pytest.mark.parametrize("kind", ["pixel", "tokens"])
def test_loss_is_computed_on_masked_patches_only(kind: str) -> None:
    x = torch.randn(3, 3, 32, 32)
    mask = torch.from_numpy(
        np.stack([BlockMaskGenerator((4, 4))(np.random.default_rng(i)) for i in range(3)])
    )
    if kind == "pixel":
        target = PixelTarget(8)
    else:
        target = TokenTarget(build_tokenizer(32, 8, 32, 1, 2, code_dim=8, codebook_size=16), (4, 4))
    model = _tiny_model(target.out_dim)
    loss, terms = mim_loss(model, target, x, mask)
    guarded, _ = mim_loss(model, _NanOutside(target, mask), x, mask)
    assert torch.isfinite(guarded) and guarded.item() == pytest.approx(loss.item())
    # by hand: the target's loss over the masked patches
    flat = mask.flatten(1)
    expected = target.loss(model(x, flat), target.targets(x)[flat])
    assert loss.item() == pytest.approx(expected.item())
    assert (kind == "tokens") == ("token_acc" in terms)


def test_pixel_targets_are_normalised_per_patch() -> None:
    x = torch.rand(2, 3, 32, 32) * 4 + 1
    t = PixelTarget(8, norm_pix=True).targets(x)
    torch.testing.assert_close(t.mean(-1), torch.zeros(2, 16), atol=1e-4, rtol=0)
    torch.testing.assert_close(t.std(-1, unbiased=False), torch.ones(2, 16), atol=1e-3, rtol=0)


def test_tokenizer_file_round_trips_and_codes_index_the_codebook(tmp_path: Path) -> None:
    tok = build_tokenizer(32, 8, 32, 2, 2, code_dim=8, codebook_size=16)
    path = save_tokenizer(tok, tmp_path / "vqkd.pth")
    state = torch.load(path, weights_only=True)["model"]
    assert "quantize.embedding.weight" in state and "encoder.fc_norm.weight" in state
    assert "encode_task_layer.2.weight" in state
    again = load_tokenizer(path, num_heads=2)
    x = torch.randn(2, 3, 32, 32)
    codes = again(x)
    assert codes.shape == (2, 16) and codes.dtype == torch.long
    assert codes.min() >= 0 and codes.max() < 16
    assert torch.equal(codes, tok(x))


# --- data ----------------------------------------------------------------------------------


def test_image_folder_is_read_recursively(face_folder: Path) -> None:
    paths = real_face_paths(face_folder)
    assert len(paths) == 12 and all(p.suffix == ".png" for p in paths)


def test_prepared_dir_gives_real_faces_outside_test(tmp_path: Path) -> None:
    from ffdetect.synthesis.lfw_task import build_self_blended_task

    build_self_blended_task(tmp_path / "task", size=32, frames=2, seed=0, n_identities=10)
    paths = real_face_paths(tmp_path / "task")
    assert paths and all("/real/" in p.as_posix() for p in paths)
    with (tmp_path / "task" / "manifest.csv").open() as fh:
        manifest = list(csv.DictReader(fh))
    split_of = {r["crop_path"]: r["split"] for r in manifest}
    splits = {split_of[p.relative_to(tmp_path / "task").as_posix()] for p in paths}
    assert "test" not in splits and splits <= {"train", "val"}
    only_train = real_face_paths(tmp_path / "task", splits=["train"])
    assert {split_of[p.relative_to(tmp_path / "task").as_posix()] for p in only_train} == {"train"}
    with pytest.raises(ValueError, match="no real faces"):
        real_face_paths(tmp_path / "task", splits=["nonexistent"])


# --- training ------------------------------------------------------------------------------


def test_one_step_changes_the_backbone_and_exports_a_backbone_model(
    face_folder: Path, tmp_path: Path
) -> None:
    cfg = tiny_cfg(run={"max_steps": 1})
    torch.manual_seed(0)
    before = build_mim_model(cfg, 192).backbone.state_dict()
    result = pretrain(cfg, real_face_paths(face_folder), tmp_path / "run")
    assert result.steps == 1
    meta = read_meta(result.model_dir)
    assert meta.kind == "backbone" and meta.provenance["how"] == "ffdetect pretrain"
    after = load_file(str(result.model_dir / "model.safetensors"))
    assert after.keys() == before.keys()
    moved = [k for k in after if not torch.equal(after[k], before[k])]
    assert "patch_embed.proj.weight" in moved and "blocks.1.attn.qkv.weight" in moved
    assert (tmp_path / "run" / "reconstruction.png").stat().st_size > 0
    picture = cv2.imread(str(tmp_path / "run" / "reconstruction.png"))
    assert picture.shape[0] == 2 * picture.shape[1] // 3  # 2 faces x (input, mask, prediction)
    header = (tmp_path / "run" / "log.csv").read_text().splitlines()[0].split(",")
    assert {"loss", "lr", "grad_norm", "images_per_s"} <= set(header)

    # fine-tuning takes the exported backbone unchanged
    train_cfg = from_dict(
        TrainConfig,
        {
            "model": {
                "size": "tiny",
                "img_size": 32,
                "patch_size": 8,
                "depth": 2,
                "init": str(result.model_dir),
            }
        },
    )
    detector = build_training_model(train_cfg)
    for key, value in after.items():
        assert torch.equal(detector.main.state_dict()[key], value), key
        assert torch.equal(detector.competitor.state_dict()[key], value), key


def test_continues_from_a_backbone_checkpoint(tmp_path: Path) -> None:
    arch = architecture_for("tiny", img_size=32, patch_size=8, depth=2)
    torch.manual_seed(123)
    source = create_backbone(arch)
    save_model(source, ModelMeta(kind="backbone", architecture=arch), tmp_path / "init")
    cfg = tiny_cfg(model={"init": str(tmp_path / "init")})
    model = build_mim_model(cfg, 192)
    for key, value in source.state_dict().items():
        assert torch.equal(model.backbone.state_dict()[key], value), key
    wrong = tiny_cfg(model={"init": str(tmp_path / "init"), "depth": 3})
    with pytest.raises(Exception, match="missing keys: blocks.2"):
        build_mim_model(wrong, 192)


def test_teacher_and_token_targets_train(face_folder: Path, tmp_path: Path) -> None:
    # teacher: a different (16 px patch, 1 block) backbone, so features are resized to the grid
    t_arch = architecture_for("tiny", img_size=32, patch_size=16, depth=1)
    save_model(
        create_backbone(t_arch),
        ModelMeta(kind="backbone", architecture=t_arch),
        tmp_path / "teacher",
    )
    faces = real_face_paths(face_folder)
    for loss in ("cosine", "smooth_l1"):
        cfg = tiny_cfg(
            target={"kind": "teacher", "teacher": str(tmp_path / "teacher"), "teacher_loss": loss},
            run={"max_steps": 2},
        )
        result = pretrain(cfg, faces, tmp_path / f"teacher-{loss}")
        assert result.steps == 2 and np.isfinite(result.last_loss)
        assert not (tmp_path / f"teacher-{loss}" / "reconstruction.png").exists()
    tok = save_tokenizer(
        build_tokenizer(32, 8, 32, 1, 2, code_dim=8, codebook_size=16), tmp_path / "vqkd.pth"
    )
    cfg = tiny_cfg(
        target={"kind": "tokens", "tokenizer": str(tok), "tokenizer_heads": 2}, run={"max_steps": 2}
    )
    result = pretrain(cfg, faces, tmp_path / "tokens")
    assert result.steps == 2
    assert result.last_loss == pytest.approx(np.log(16), rel=0.3)  # near-uniform at the start
    assert "token_acc" in (tmp_path / "tokens" / "log.csv").read_text().splitlines()[0]


def test_missing_teacher_path_is_a_clear_error() -> None:
    from ffdetect.pretrain.targets import build_target

    with pytest.raises(ValueError, match="target.teacher"):
        build_target(tiny_cfg(target={"kind": "teacher"}).target, 8, (4, 4))
    with pytest.raises(ValueError, match="target.kind"):
        tiny_cfg(target={"kind": "clip"})


def _write_config(path: Path, cfg: PretrainConfig) -> Path:
    path.write_text(yaml.safe_dump(to_dict(cfg), sort_keys=False))
    return path


def test_cli_runs_with_overrides_and_refuses_to_overwrite(
    face_folder: Path, tmp_path: Path
) -> None:
    config = _write_config(tmp_path / "tiny.yaml", tiny_cfg())
    args = [
        "pretrain",
        "--config",
        str(config),
        "--data",
        str(face_folder),
        "--out",
        str(tmp_path / "run"),
        "--max-steps",
        "2",
        "mask.ratio=0.5",
    ]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "exported" in result.output
    saved = yaml.safe_load((tmp_path / "run" / "config.yaml").read_text())
    assert saved["mask"]["ratio"] == 0.5 and saved["run"]["max_steps"] == 2
    _, meta = load_backbone_weights(tmp_path / "run" / "model")
    assert meta.kind == "backbone"
    again = CliRunner().invoke(app, args)
    assert again.exit_code == 2 and "--resume" in again.output
    bad = CliRunner().invoke(app, [*args[:-1], "mask.nope=1"])
    assert bad.exit_code == 2 and "unknown keys" in bad.output


def test_shipped_configs_load() -> None:
    from ffdetect.config import load_config

    for path in sorted((ROOT / "configs" / "pretrain").glob("*.yaml")):
        cfg = load_config(PretrainConfig, path)
        assert cfg.model.img_size % cfg.model.patch_size == 0, path


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "ffdetect.cli", "pretrain", *args]


@pytest.mark.slow
def test_resume_after_sigkill_matches_an_unbroken_run(face_folder: Path, tmp_path: Path) -> None:
    config = _write_config(
        tmp_path / "tiny.yaml",
        tiny_cfg(schedule={"epochs": 4}, run={"deterministic": True, "reconstructions": 0}),
    )
    common = ["--config", str(config), "--data", str(face_folder)]
    subprocess.run(
        _cli(*common, "--out", str(tmp_path / "unbroken")),
        check=True,
        env=_env(),
        capture_output=True,
    )

    killed = tmp_path / "killed"
    proc = subprocess.Popen(
        _cli(*common, "--out", str(killed)),
        env=_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 120
    while not (killed / "checkpoints" / "last.pt").exists():
        assert proc.poll() is None, "the run ended before its first checkpoint"
        assert time.time() < deadline
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (killed / "model").exists(), "killed too late: the run had already finished"
    subprocess.run(
        _cli(*common, "--out", str(killed), "--resume"), check=True, env=_env(), capture_output=True
    )

    a = load_file(str(tmp_path / "unbroken" / "model" / "model.safetensors"))
    b = load_file(str(killed / "model" / "model.safetensors"))
    for key in a:
        assert torch.equal(a[key], b[key]), key
    steps = [int(r.split(",")[2]) for r in (killed / "log.csv").read_text().splitlines()[1:]]
    assert steps == sorted(set(steps))  # no duplicated rows from the killed epoch


@pytest.mark.slow
def test_two_process_ddp_equals_single_process(face_folder: Path, tmp_path: Path) -> None:
    torchrun = Path(sys.executable).with_name("torchrun")
    if not torchrun.exists():
        pytest.skip("torchrun not installed")
    config = _write_config(
        tmp_path / "tiny.yaml", tiny_cfg(schedule={"epochs": 2}, run={"reconstructions": 0})
    )
    common = ["--config", str(config), "--data", str(face_folder)]
    subprocess.run(
        _cli(*common, "--out", str(tmp_path / "single")),
        check=True,
        env=_env(),
        capture_output=True,
    )
    subprocess.run(
        [
            str(torchrun),
            "--standalone",
            "--nproc_per_node",
            "2",
            "-m",
            "ffdetect.cli",
            "pretrain",
            *common,
            "--out",
            str(tmp_path / "ddp"),
        ],
        check=True,
        env=_env(),
        timeout=300,
        capture_output=True,
    )
    a = load_file(str(tmp_path / "single" / "model" / "model.safetensors"))
    b = load_file(str(tmp_path / "ddp" / "model" / "model.safetensors"))
    torch.manual_seed(0)
    init = build_mim_model(tiny_cfg(), 192).backbone.state_dict()
    moved = max((a[k] - init[k]).abs().max().item() for k in a)
    apart = max((a[k] - b[k]).abs().max().item() for k in a)
    assert moved > 1e-3
    assert apart < 1e-2 * moved, (apart, moved)


@pytest.mark.parametrize(
    ("override", "line"),
    [
        (
            "data.batch_size=16",
            "error: 12 real faces are fewer than one batch (data.batch_size=16): "
            "set data.batch_size=12 or less",
        ),
        ("optim.lr=nan", "optim.lr: expected a finite number, got 'nan'"),
    ],
)
def test_cli_refuses_a_batch_larger_than_the_data_or_a_nan_lr_in_one_line(
    face_folder: Path, tmp_path: Path, override: str, line: str
) -> None:
    """One line naming the option, exit 2, before any progress bar."""
    config = _write_config(tmp_path / "tiny.yaml", tiny_cfg())
    args = ["--config", str(config), "--data", str(face_folder), "--out", str(tmp_path / "run")]
    result = CliRunner().invoke(app, ["pretrain", *args, override])
    assert result.exit_code == 2, result.output
    assert result.output.startswith("error: ") and line in result.output, result.output
    assert len(result.output.splitlines()) == 1 and "0/0" not in result.output
    assert not (tmp_path / "run").exists()


def test_curves_png_is_written_every_epoch_and_redrawn_on_resume(
    face_folder: Path, tmp_path: Path
) -> None:
    run, faces = tmp_path / "run", real_face_paths(face_folder)
    pretrain(tiny_cfg(run={"max_steps": 3, "reconstructions": 0}), faces, run)
    curves = run / "curves.png"
    assert png_size(curves) == (700, 900)
    first = curves.read_bytes()
    pretrain(tiny_cfg(run={"reconstructions": 0}), faces, run, resume=True)
    assert png_size(curves) == (700, 900) and curves.read_bytes() != first
    assert not list(run.glob(".curves.png.*"))
