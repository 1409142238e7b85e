"""Our model format, safe loading, and strict conversion of the authors' checkpoint layouts."""

from __future__ import annotations

import argparse
import json
import os
import pickle
import sys
import types
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from ffdetect.checkpoint.convert import ConversionError, convert_checkpoint
from ffdetect.checkpoint.metadata import Calibration, ModelMeta
from ffdetect.checkpoint.model_format import (
    ModelFormatError,
    describe_model,
    load_detector,
    load_model,
    save_model,
    write_meta,
)
from ffdetect.checkpoint.safe_load import PickledObject, UnsafeCheckpointError, safe_torch_load
from ffdetect.cli import app
from ffdetect.models import CompetitiveDetector, Detector, FusedDetector, create_backbone

runner = CliRunner()
#: torch.save's two formats: the zip archive (default) and the legacy stream.
FORMATS = {"zip": True, "legacy": False}

AUTHORS_NAMES = {
    "main.": "backbone_model.",
    "competitor.": "backbone_model2.",
    "head.norm.": "norm_for_cls.",
    "head.fc.": "header.0.",
}


def _with_index_buffers(prefix: str, backbone: torch.nn.Module) -> dict[str, torch.Tensor]:
    """The ``relative_position_index`` buffers that the authors' files carry."""
    return {
        f"{prefix}blocks.{i}.attn.relative_position_index": b.attn.relative_position_index.clone()
        for i, b in enumerate(backbone.blocks)
    }


def authors_state_dict(
    model: CompetitiveDetector, two_branch: bool = True
) -> dict[str, torch.Tensor]:
    state = {}
    for key, value in model.state_dict().items():
        if key.startswith("competitor.") and not two_branch:
            continue
        prefix = next(p for p in AUTHORS_NAMES if key.startswith(p))
        state["module." + AUTHORS_NAMES[prefix] + key.removeprefix(prefix)] = value.clone()
    state.update(_with_index_buffers("module.backbone_model.", model.main))
    if two_branch:
        state.update(_with_index_buffers("module.backbone_model2.", model.competitor))
    return state


@pytest.fixture
def omegaconf_config():
    """A real OmegaConf ``DictConfig`` like the authors' CLI config (nested, lists, None)."""
    omegaconf = pytest.importorskip("omegaconf")
    return omegaconf.OmegaConf.create(
        {
            "lr": 5e-5,
            "model": {"name": "beitv2_base_patch16_224", "drop_path": 0.1, "init": None},
            "data": {"frames": 8, "methods": ["Deepfakes", "Face2Face", "FaceSwap"]},
            "amp": True,
        }
    )


def save_authors_file(path: Path, state: dict, config, fmt: str = "zip", **extra) -> Path:
    """The authors' training checkpoint: OrderedDict with state_dict, optimizer, args, ...."""
    checkpoint = OrderedDict(
        state_dict=state,
        optimizer=extra.pop("optimizer", {"state": {}, "param_groups": [{"lr": 5e-5}]}),
        epoch=9,
        global_step=1234,
        metrics={"auc": 0.9936, "acc": 0.97},
        args=config,
        **extra,
    )
    torch.save(checkpoint, path, _use_new_zipfile_serialization=FORMATS[fmt])
    return path


def block_omegaconf(monkeypatch) -> None:
    """Make ``import omegaconf`` fail from now on, as on a machine without it."""
    for name in [m for m in sys.modules if m.split(".")[0] == "omegaconf"]:
        monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.setitem(sys.modules, "omegaconf", None)


def _perturbed(model: torch.nn.Module) -> torch.nn.Module:
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.02 * torch.randn_like(p))
    return model


@pytest.mark.parametrize("fmt", FORMATS)
def test_two_branch_authors_file_converts_bit_identically(
    tmp_path, tiny_arch, omegaconf_config, monkeypatch, fmt
) -> None:
    model = _perturbed(CompetitiveDetector.build(tiny_arch)).eval()
    src = save_authors_file(
        tmp_path / "authors.pth", authors_state_dict(model), omegaconf_config, fmt
    )
    block_omegaconf(monkeypatch)  # loading must not need omegaconf

    result = runner.invoke(app, ["convert", str(src), "--out", str(tmp_path / "conv")])
    assert result.exit_code == 0, result.output
    assert "authors-two-branch" in result.output
    assert sys.modules["omegaconf"] is None  # nothing tried to import it

    loaded, meta = load_model(tmp_path / "conv")
    assert meta.kind == "competitive" and meta.architecture.embed_dim == tiny_arch.embed_dim
    images = torch.randn(3, 3, tiny_arch.img_size, tiny_arch.img_size)
    with torch.no_grad():
        expected, got = model(images), loaded(images)
    for a, b in zip(expected, got, strict=True):
        assert torch.equal(a, b)
    detector, _ = load_detector(tmp_path / "conv")
    with torch.no_grad():
        assert torch.equal(detector(images), expected.main)


@pytest.mark.parametrize("fmt", FORMATS)
def test_main_branch_only_authors_file_becomes_a_detector(
    tmp_path, tiny_arch, omegaconf_config, fmt
) -> None:
    model = _perturbed(CompetitiveDetector.build(tiny_arch)).eval()
    src = save_authors_file(
        tmp_path / "main.pth", authors_state_dict(model, two_branch=False), omegaconf_config, fmt
    )
    result = convert_checkpoint(src)
    assert result.meta.kind == "detector" and result.layout == "authors-main-branch"
    images = torch.randn(2, 3, tiny_arch.img_size, tiny_arch.img_size)
    with torch.no_grad():
        assert torch.equal(result.model(images), model.main_branch()(images))


def test_missing_key_fails_and_names_it(tmp_path, tiny_arch, omegaconf_config) -> None:
    state = authors_state_dict(CompetitiveDetector.build(tiny_arch))
    del state["module.backbone_model2.blocks.1.attn.v_bias"]
    src = save_authors_file(tmp_path / "broken.pth", state, omegaconf_config)
    result = runner.invoke(app, ["convert", str(src), "--out", str(tmp_path / "out")])
    assert result.exit_code == 2
    assert "missing keys: competitor.blocks.1.attn.v_bias" in result.output
    assert not (tmp_path / "out").exists()


def test_unexpected_key_fails_and_names_it(tmp_path, tiny_arch, omegaconf_config) -> None:
    state = authors_state_dict(CompetitiveDetector.build(tiny_arch))
    state["module.backbone_model.head.weight"] = torch.zeros(2, tiny_arch.embed_dim)
    src = save_authors_file(tmp_path / "extra.pth", state, omegaconf_config)
    with pytest.raises(ModelFormatError, match="unexpected keys: main.head.weight"):
        convert_checkpoint(src)


def beit_pretrain_state(backbone: torch.nn.Module, shared_table: bool) -> dict[str, torch.Tensor]:
    state = {k: v.clone() for k, v in backbone.state_dict().items()}
    state.update(_with_index_buffers("", backbone))
    dim = backbone.embed_dim
    state["mask_token"] = torch.zeros(1, 1, dim)
    state["lm_head.weight"] = torch.zeros(8192, dim)
    state["cls_pt_layers.0.attn.qkv.weight"] = torch.zeros(3 * dim, dim)
    state["cls_pt_norm.weight"] = torch.ones(dim)
    if shared_table:
        table = backbone.blocks[0].attn.relative_position_bias_table.clone()
        for i in range(len(backbone.blocks)):
            del state[f"blocks.{i}.attn.relative_position_bias_table"]
        state["rel_pos_bias.relative_position_bias_table"] = table
    return state


def test_beit_pretraining_checkpoint_with_shared_table(tmp_path, tiny_arch) -> None:
    backbone = create_backbone(tiny_arch)
    torch.save({"model": beit_pretrain_state(backbone, shared_table=True)}, tmp_path / "beitv2.pth")
    result = runner.invoke(
        app, ["convert", str(tmp_path / "beitv2.pth"), "--out", str(tmp_path / "bb")]
    )
    assert result.exit_code == 0, result.output
    assert "dropped 4 pre-training-only keys" in result.output
    assert "copied the shared relative position table into all 2 blocks" in result.output
    loaded, meta = load_model(tmp_path / "bb")
    assert meta.kind == "backbone"
    expected = backbone.blocks[0].attn.relative_position_bias_table
    for block in loaded.blocks:
        assert torch.equal(block.attn.relative_position_bias_table, expected)


def test_absolute_position_embedding_is_reported(tmp_path, tiny_arch) -> None:
    state = beit_pretrain_state(create_backbone(tiny_arch), shared_table=False)
    state["pos_embed"] = torch.zeros(1, 17, tiny_arch.embed_dim)
    torch.save({"model": state}, tmp_path / "abs.pth")
    with pytest.raises(ConversionError, match="absolute position embeddings"):
        convert_checkpoint(tmp_path / "abs.pth")


class _Exploit:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


class _Global:
    """Pickles as ``GLOBAL module name``, whatever that names (see :class:`_CraftingPickler`)."""

    def __init__(self, module: str, name: str) -> None:
        self.module, self.name = module, name

    def __call__(self) -> None:  # pickle insists that a reduce function be callable
        raise AssertionError("never called while pickling")


class _Call:
    """Pickles as a call of ``module.name(*args)``: what a malicious file asks the loader for."""

    def __init__(self, module: str, name: str, *args) -> None:
        self.func, self.args = _Global(module, name), args

    def __reduce__(self):
        return self.func, self.args


class _CraftingPickler(pickle._Pickler):
    """The pure-Python pickler, writing :class:`_Global` as a raw GLOBAL opcode."""

    def save(self, obj, save_persistent_id=True):
        if isinstance(obj, _Global):
            self.write(pickle.GLOBAL + f"{obj.module}\n{obj.name}\n".encode())
            return
        super().save(obj, save_persistent_id)


CRAFTING = types.SimpleNamespace(__name__="crafting", Pickler=_CraftingPickler, dump=pickle.dump)


def save_crafted(path: Path, payload: object, fmt: str, tiny_arch) -> Path:
    """A backbone checkpoint carrying ``payload``, pickled with raw globals, in format ``fmt``."""
    obj = {"model": create_backbone(tiny_arch).state_dict(), "args": payload}
    torch.save(obj, path, pickle_module=CRAFTING, _use_new_zipfile_serialization=FORMATS[fmt])
    return path


def one_line_error(result, path: Path) -> str:
    """The CLI's error: exit status 2, one line naming the file, no traceback."""
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    assert str(path) in lines[0] and "Traceback" not in result.output
    return lines[0]


MALICIOUS = {
    "os.system via __reduce__": None,  # the real thing: pickled as posix.system on Linux
    "pathlib.os.system": ("pathlib", "os.system"),
    "pathlib.os module": ("pathlib.os", "system"),
    "omegaconf lookalike": ("omegaconf.dictconfig", "os.system"),
    "typing lookalike": ("typing", "Any.__class__"),
    "builtins.eval": ("builtins", "eval"),
    "builtins.getattr": ("builtins", "getattr"),
    "argparse._os": ("argparse", "_os.system"),
}


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("variant", MALICIOUS)
def test_malicious_pickle_is_refused_without_running_it(tmp_path, tiny_arch, fmt, variant):
    marker = tmp_path / "pwned"
    target = MALICIOUS[variant]
    if target is None:
        src = tmp_path / "evil.pth"
        obj = {"model": create_backbone(tiny_arch).state_dict(), "payload": _Exploit(marker)}
        torch.save(obj, src, _use_new_zipfile_serialization=FORMATS[fmt])
        name = f"{os.system.__module__}.system"
    else:
        payload = _Call(*target, f"touch {marker}")
        src = save_crafted(tmp_path / "evil.pth", payload, fmt, tiny_arch)
        name = ".".join(target)
    with pytest.raises(UnsafeCheckpointError, match="refusing to load") as info:
        safe_torch_load(src)
    assert name in str(info.value)
    line = one_line_error(
        runner.invoke(app, ["convert", str(src), "--out", str(tmp_path / "o")]), src
    )
    assert "refusing to load" in line and name in line
    assert not marker.exists() and not (tmp_path / "o").exists()


@pytest.mark.parametrize("fmt", FORMATS)
def test_placeholders_are_inert_and_keep_the_state(tmp_path, tiny_arch, fmt) -> None:
    """An allowed class called with arguments becomes a placeholder; nothing else runs."""
    payload = [
        _Call("argparse", "Namespace"),
        _Call("omegaconf.dictconfig", "DictConfig", "rm -rf /"),
        _Call("builtins", "dict"),
    ]
    src = save_crafted(tmp_path / "ok.pth", payload, fmt, tiny_arch)
    namespace, config, plain = safe_torch_load(src)["args"]
    assert isinstance(namespace, PickledObject) and isinstance(config, PickledObject)
    assert config.args == ("rm -rf /",) and "DictConfig" in repr(config)
    assert plain == {}


@pytest.mark.parametrize("fmt", FORMATS)
def test_real_configs_load_as_placeholders_without_their_libraries(
    tmp_path, tiny_arch, omegaconf_config, fmt, monkeypatch
) -> None:
    namespace = argparse.Namespace(model="beit_base_patch16_224", lr=1.5e-3, layer_scale=0.1)
    src = tmp_path / "configs.pth"
    torch.save(
        {"args": omegaconf_config, "namespace": namespace, "path": Path("/data/ffpp")},
        src,
        _use_new_zipfile_serialization=FORMATS[fmt],
    )
    block_omegaconf(monkeypatch)
    loaded = safe_torch_load(src)
    assert all(isinstance(loaded[k], PickledObject) for k in ("args", "namespace", "path"))
    assert loaded["namespace"].state == vars(namespace)
    assert "omegaconf.dictconfig.DictConfig" in repr(loaded["args"])
    assert "_content" in loaded["args"].state


@pytest.mark.parametrize(
    "content",
    [b"definitely not a checkpoint", b"PK\x03\x04truncated zip", b"\x80\x02K\x01."],
    ids=["junk", "truncated-zip", "one-pickle"],
)
def test_unreadable_files_are_one_clear_line(tmp_path, content) -> None:
    src = tmp_path / "junk.pth"
    src.write_bytes(content)
    result = runner.invoke(app, ["convert", str(src), "--out", str(tmp_path / "o")])
    assert "not a readable PyTorch checkpoint" in one_line_error(result, src)


@pytest.mark.parametrize("fmt", FORMATS)
def test_truncated_checkpoint_is_one_clear_line(tmp_path, tiny_arch, fmt) -> None:
    src = tmp_path / "cut.pth"
    obj = {"model": create_backbone(tiny_arch).state_dict()}
    torch.save(obj, src, _use_new_zipfile_serialization=FORMATS[fmt])
    src.write_bytes(src.read_bytes()[: src.stat().st_size * 2 // 3])
    result = runner.invoke(app, ["convert", str(src), "--out", str(tmp_path / "o")])
    assert "not a readable PyTorch checkpoint" in one_line_error(result, src)


def test_missing_checkpoint_is_one_clear_line(tmp_path) -> None:
    src = tmp_path / "nowhere.pth"
    result = runner.invoke(app, ["convert", str(src), "--out", str(tmp_path / "o")])
    assert "not found" in one_line_error(result, src)


def test_unilm_legacy_checkpoint_with_namespace_and_shared_table(tmp_path, tiny_arch) -> None:
    """unilm's BEiT v2 pre-training file: legacy format, argparse args, a shared table."""
    backbone = _perturbed(create_backbone(tiny_arch))
    src = tmp_path / "beitv2-face.pth"
    torch.save(
        {
            "model": beit_pretrain_state(backbone, shared_table=True),
            "optimizer": {"state": {}, "param_groups": [{"lr": 1.5e-3, "weight_decay": 0.05}]},
            "epoch": 299,
            "args": argparse.Namespace(model="beit_base_patch16_224", mask_ratio=0.4),
            "scaler": {"scale": 65536.0, "growth_factor": 2.0},
        },
        src,
        _use_new_zipfile_serialization=False,
    )
    result = runner.invoke(app, ["convert", str(src), "--out", str(tmp_path / "bb")])
    assert result.exit_code == 0, result.output
    loaded, meta = load_model(tmp_path / "bb")
    assert meta.kind == "backbone"
    with torch.no_grad():
        table = backbone.blocks[0].attn.relative_position_bias_table
        assert all(torch.equal(b.attn.relative_position_bias_table, table) for b in loaded.blocks)

    zeroed = runner.invoke(
        app, ["convert", str(src), "--out", str(tmp_path / "z"), "--shared-rel-pos", "zero"]
    )
    assert zeroed.exit_code == 0, zeroed.output
    assert "set every block's relative position table to zero" in zeroed.output
    loaded, _ = load_model(tmp_path / "z")
    assert all(not b.attn.relative_position_bias_table.any() for b in loaded.blocks)
    assert torch.equal(loaded.blocks[1].attn.qkv.weight, backbone.blocks[1].attn.qkv.weight)


def test_model_format_round_trip_and_info(tmp_path, tiny_arch) -> None:
    detector = _perturbed(Detector.build(tiny_arch)).eval()
    meta = ModelMeta(
        kind="detector", architecture=tiny_arch, calibration=Calibration(threshold=0.42, c_min=0.3)
    )
    save_model(detector, meta, tmp_path / "m")
    assert sorted(p.name for p in (tmp_path / "m").iterdir()) == [
        "ffdetect.json",
        "model.safetensors",
    ]
    loaded, meta2 = load_detector(tmp_path / "m")
    images = torch.randn(2, 3, tiny_arch.img_size, tiny_arch.img_size)
    with torch.no_grad():
        assert torch.equal(loaded(images), detector(images))
    assert meta2.calibration.threshold == 0.42 and meta2.calibration.c_min == 0.3
    result = runner.invoke(app, ["info", str(tmp_path / "m")])
    assert result.exit_code == 0, result.output
    assert "0.42" in result.output and "backbone" in result.output


def test_flip_average_is_stored_and_loaded(tmp_path, tiny_arch) -> None:
    detector = _perturbed(Detector.build(tiny_arch)).eval()
    flip_meta = ModelMeta(architecture=tiny_arch, flip_average=True)
    with pytest.raises(ValueError, match="flip_average"):  # the detector scores one view
        save_model(detector, flip_meta, tmp_path / "m")
    save_model(detector.with_flip_average(True), flip_meta, tmp_path / "m")
    loaded, meta = load_detector(tmp_path / "m")
    assert meta.flip_average and loaded.flip_average
    # Written as format 2, which installs that predate the key refuse instead of misreading.
    assert json.loads((tmp_path / "m" / "ffdetect.json").read_text())["format_version"] == 2
    images = torch.randn(2, 3, tiny_arch.img_size, tiny_arch.img_size)
    with torch.no_grad():
        expected = (detector(images) + detector(images.flip(-1))) / 2
        assert torch.allclose(loaded(images), expected, atol=1e-5)
    # Models written before the field existed (format 1) keep scoring one view.
    meta_file = tmp_path / "m" / "ffdetect.json"
    data = json.loads(meta_file.read_text())
    del data["input"]["flip_average"]
    data["format_version"] = 1
    meta_file.write_text(json.dumps(data))
    assert not load_detector(tmp_path / "m")[0].flip_average
    with pytest.raises(ValueError, match="backbone has none"):
        ModelMeta(kind="backbone", architecture=tiny_arch, flip_average=True)


def test_fused_scoring_is_stored_and_loaded(tmp_path, tiny_arch) -> None:
    model = CompetitiveDetector.build(tiny_arch).eval()
    with torch.no_grad():
        for p in model.competitor.parameters():
            p.add_(0.5 * torch.randn_like(p))
    images = torch.randn(2, 3, tiny_arch.img_size, tiny_arch.img_size)
    meta = ModelMeta(kind="competitive", architecture=tiny_arch, flip_average=True, fused=True)
    save_model(model, meta, tmp_path / "m")
    # Written as format 3: installs that predate the key refuse it instead of scoring the main
    # branch alone against the fused prediction's threshold.
    data = json.loads((tmp_path / "m" / "ffdetect.json").read_text())
    assert data["format_version"] == 3 and data["input"]["fused"] is True
    loaded, meta2 = load_detector(tmp_path / "m")
    assert isinstance(loaded, FusedDetector) and meta2.fused and loaded.flip_average
    with torch.no_grad():
        expected = (model(images).fused + model(images.flip(-1)).fused) / 2
        assert torch.allclose(loaded(images), expected, atol=1e-5)
    # Without the key the same weights score with the main branch, as METHOD.md deploys.
    save_model(model, ModelMeta(kind="competitive", architecture=tiny_arch), tmp_path / "main")
    main, _ = load_detector(tmp_path / "main")
    assert type(main) is Detector
    with torch.no_grad():
        assert torch.equal(main(images), model(images).main)
    with pytest.raises(ValueError, match="two branches"):
        ModelMeta(kind="detector", architecture=tiny_arch, fused=True)
    assert describe_model(tmp_path / "m")["input"]["fused"] is True
    with pytest.raises(TypeError, match="kind 'competitive' and fused=True"):
        save_model(loaded, ModelMeta(architecture=tiny_arch, flip_average=True), tmp_path / "x")
    # Setting the field after construction still writes the version that older installs refuse.
    later = ModelMeta(kind="competitive", architecture=tiny_arch)
    later.fused = True
    write_meta(tmp_path / "main", later)
    assert json.loads((tmp_path / "main" / "ffdetect.json").read_text())["format_version"] == 3


def test_loading_a_bare_backbone_as_detector_is_an_error(tmp_path, tiny_arch) -> None:
    save_model(
        create_backbone(tiny_arch),
        ModelMeta(kind="backbone", architecture=tiny_arch),
        tmp_path / "b",
    )
    with pytest.raises(ModelFormatError, match="not a detector"):
        load_detector(tmp_path / "b")


def test_info_on_a_foreign_file_says_to_convert(tmp_path) -> None:
    result = runner.invoke(app, ["info", str(tmp_path)])
    assert result.exit_code != 0 and "ffdetect convert" in result.output


def _reference_main_branch(state: dict[str, torch.Tensor], arch) -> torch.nn.Module:
    """The authors' main branch rebuilt straight from their keys: a timm BEiT (METHOD.md
    section 1 options) plus LayerNorm + Linear, loaded strictly, with no ffdetect code."""
    from timm.models.beit import Beit

    backbone = Beit(
        img_size=arch.img_size,
        patch_size=arch.patch_size,
        num_classes=0,
        global_pool="token",
        embed_dim=arch.embed_dim,
        depth=arch.depth,
        num_heads=arch.num_heads,
        qkv_bias=True,
        init_values=0.1,
        use_abs_pos_emb=False,
        use_rel_pos_bias=True,
    )
    prefix = "module.backbone_model."
    index = {k: v for k, v in state.items() if k.endswith("relative_position_index")}
    weights = {
        k.removeprefix(prefix): v
        for k, v in state.items()
        if k.startswith(prefix) and k not in index
    }
    backbone.load_state_dict(weights, strict=True)
    for i, block in enumerate(backbone.blocks):  # the buffers timm recomputes equal theirs
        assert torch.equal(
            block.attn.relative_position_index,
            index[f"{prefix}blocks.{i}.attn.relative_position_index"],
        )
    norm, fc = torch.nn.LayerNorm(arch.embed_dim), torch.nn.Linear(arch.embed_dim, 2)
    norm.load_state_dict({k: state[f"module.norm_for_cls.{k}"] for k in ("weight", "bias")})
    fc.load_state_dict({k: state[f"module.header.0.{k}"] for k in ("weight", "bias")})
    return torch.nn.Sequential(backbone, norm, fc).eval()


def _official_crops(shared_fixtures: Path) -> dict[str, np.ndarray]:
    from PIL import Image

    folder = shared_fixtures / "official_samples"
    names = [
        line.split(",")[0].split("/")[-1]
        for line in (folder / "official_scores.csv").read_text().splitlines()[1:]
    ]
    return {n: np.asarray(Image.open(folder / n).convert("RGB")) for n in names}


def _reference_input(crop, size: int) -> torch.Tensor:
    """ImageNet normalisation written out here (bilinear resize for the one 640x480 frame)."""
    import cv2

    if crop.shape[:2] != (size, size):
        crop = cv2.resize(crop, (size, size), interpolation=cv2.INTER_LINEAR)
    mean, std = np.array([0.485, 0.456, 0.406]), np.array([0.229, 0.224, 0.225])
    x = (crop.astype(np.float64) / 255.0 - mean) / std
    return torch.from_numpy(x.astype(np.float32)).permute(2, 0, 1)


@pytest.mark.parametrize("fmt", FORMATS)
def test_authors_training_checkpoint_scores_official_samples_like_the_reference(
    tmp_path, shared_fixtures, omegaconf_config, monkeypatch, fmt
) -> None:
    """Done-when of issue 12: their full two-branch checkpoint (DDP keys, index buffers, timm
    LAMB state, epoch, global_step, metrics, a real OmegaConf config), zip and legacy, converts;
    its main branch scores the official sample crops within 1e-5 of the reference."""
    from timm.optim import Lamb

    from ffdetect.checkpoint.metadata import Architecture
    from ffdetect.inference.scoring import score_crops

    arch = Architecture(
        size="tiny", img_size=224, patch_size=16, embed_dim=192, depth=2, num_heads=3
    )
    model = _perturbed(CompetitiveDetector.build(arch))
    with torch.no_grad():
        model.head.fc.weight.mul_(20.0)  # spread the scores away from 0.5
    optimizer = Lamb(model.parameters(), lr=5e-5, weight_decay=0.05)
    model(torch.randn(2, 3, 224, 224)).fused.sum().backward()
    optimizer.step()
    state = authors_state_dict(model.eval())
    src = save_authors_file(
        tmp_path / "checkpoint.pth", state, omegaconf_config, fmt, optimizer=optimizer.state_dict()
    )
    block_omegaconf(monkeypatch)

    result = runner.invoke(app, ["convert", str(src), "--out", str(tmp_path / "conv")])
    assert result.exit_code == 0, result.output
    assert "authors-two-branch" in result.output

    crops = _official_crops(shared_fixtures)
    detector, meta = load_detector(tmp_path / "conv")
    got = torch.tensor([s.p_fake for s in score_crops(detector, meta, list(crops.values()))])
    reference = _reference_main_branch(state, arch)
    with torch.no_grad():
        images = torch.stack([_reference_input(c, 224) for c in crops.values()])
        expected = reference(images).softmax(-1)[:, 1].double()
    assert len(crops) == 7 and expected.std() > 1e-3  # the scores are not all alike
    assert (got - expected).abs().max().item() < 1e-5


def _checkpoint_imports() -> dict[str, set[str]]:
    """Which ``ffdetect.checkpoint`` submodules each submodule imports, at any depth (function
    bodies included)."""
    import ast

    import ffdetect.checkpoint as package

    folder = Path(package.__file__).parent
    graph: dict[str, set[str]] = {}
    for source in folder.glob("*.py"):
        targets = set()
        for node in ast.walk(ast.parse(source.read_text())):
            names = [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            names += [a.name for a in node.names] if isinstance(node, ast.Import) else []
            targets |= {n.split(".")[2] for n in names if n.startswith("ffdetect.checkpoint.")}
        graph[source.stem] = targets - {source.stem}
    return graph


def test_checkpoint_modules_import_one_way() -> None:
    """No import cycle among the checkpoint modules (convert <-> model_format was one)."""
    graph = _checkpoint_imports()
    assert "model_format" not in graph["convert"]

    def reaches(start: str, goal: str, seen: frozenset[str] = frozenset()) -> bool:
        return any(n == goal or (n not in seen and reaches(n, goal, seen | {n}))
                   for n in graph.get(start, ()))  # fmt: skip

    assert [m for m in graph if reaches(m, m)] == []
