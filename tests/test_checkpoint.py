"""Our model format, safe loading, and strict conversion of the authors' checkpoint layouts."""

from __future__ import annotations

import os
import sys
import types
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from ffdetect.checkpoint.convert import ConversionError, convert_checkpoint
from ffdetect.checkpoint.metadata import Calibration, ModelMeta
from ffdetect.checkpoint.model_format import ModelFormatError, load_detector, load_model, save_model
from ffdetect.checkpoint.safe_load import UnsafeCheckpointError, safe_torch_load
from ffdetect.cli import app
from ffdetect.models import CompetitiveDetector, Detector, create_backbone

runner = CliRunner()

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
def fake_omegaconf(monkeypatch):
    """A stand-in ``omegaconf.dictconfig.DictConfig`` so that tests can pickle a config object."""
    module = types.ModuleType("omegaconf.dictconfig")

    class DictConfig:
        def __init__(self, content: dict) -> None:
            self._content = content

    DictConfig.__module__ = "omegaconf.dictconfig"
    DictConfig.__qualname__ = "DictConfig"
    module.DictConfig = DictConfig
    monkeypatch.setitem(sys.modules, "omegaconf", types.ModuleType("omegaconf"))
    monkeypatch.setitem(sys.modules, "omegaconf.dictconfig", module)
    return DictConfig


def save_authors_file(path: Path, state: dict, config_cls) -> Path:
    torch.save(
        {
            "state_dict": state,
            "optimizer": {"state": {}, "param_groups": [{"lr": 5e-5}]},
            "config": config_cls({"lr": 5e-5, "model": "beitv2"}),
            "epoch": 9,
        },
        path,
    )
    return path


def _perturbed(model: torch.nn.Module) -> torch.nn.Module:
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.02 * torch.randn_like(p))
    return model


def test_two_branch_authors_file_converts_bit_identically(
    tmp_path, tiny_arch, fake_omegaconf
) -> None:
    model = _perturbed(CompetitiveDetector.build(tiny_arch)).eval()
    src = save_authors_file(tmp_path / "authors.pth", authors_state_dict(model), fake_omegaconf)
    sys.modules.pop("omegaconf.dictconfig")  # loading must not need the real class

    result = runner.invoke(app, ["convert", str(src), "--out", str(tmp_path / "conv")])
    assert result.exit_code == 0, result.output
    assert "authors-two-branch" in result.output

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


def test_main_branch_only_authors_file_becomes_a_detector(
    tmp_path, tiny_arch, fake_omegaconf
) -> None:
    model = _perturbed(CompetitiveDetector.build(tiny_arch)).eval()
    src = save_authors_file(
        tmp_path / "main.pth", authors_state_dict(model, two_branch=False), fake_omegaconf
    )
    result = convert_checkpoint(src)
    assert result.meta.kind == "detector" and result.layout == "authors-main-branch"
    images = torch.randn(2, 3, tiny_arch.img_size, tiny_arch.img_size)
    with torch.no_grad():
        assert torch.equal(result.model(images), model.main_branch()(images))


def test_missing_key_fails_and_names_it(tmp_path, tiny_arch, fake_omegaconf) -> None:
    state = authors_state_dict(CompetitiveDetector.build(tiny_arch))
    del state["module.backbone_model2.blocks.1.attn.v_bias"]
    src = save_authors_file(tmp_path / "broken.pth", state, fake_omegaconf)
    result = runner.invoke(app, ["convert", str(src), "--out", str(tmp_path / "out")])
    assert result.exit_code != 0
    assert "missing keys: competitor.blocks.1.attn.v_bias" in result.output
    assert not (tmp_path / "out").exists()


def test_unexpected_key_fails_and_names_it(tmp_path, tiny_arch, fake_omegaconf) -> None:
    state = authors_state_dict(CompetitiveDetector.build(tiny_arch))
    state["module.backbone_model.head.weight"] = torch.zeros(2, tiny_arch.embed_dim)
    src = save_authors_file(tmp_path / "extra.pth", state, fake_omegaconf)
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


def test_malicious_pickle_is_refused_without_running_it(tmp_path, tiny_arch) -> None:
    marker = tmp_path / "pwned"
    state = create_backbone(tiny_arch).state_dict()
    torch.save({"model": state, "payload": _Exploit(marker)}, tmp_path / "evil.pth")
    with pytest.raises(UnsafeCheckpointError, match="system"):
        safe_torch_load(tmp_path / "evil.pth")
    result = runner.invoke(
        app, ["convert", str(tmp_path / "evil.pth"), "--out", str(tmp_path / "o")]
    )
    assert result.exit_code != 0 and "refusing to load" in result.output
    assert not marker.exists()


def test_not_a_checkpoint_is_a_clear_error(tmp_path) -> None:
    (tmp_path / "junk.pth").write_bytes(b"definitely not a checkpoint")
    result = runner.invoke(
        app, ["convert", str(tmp_path / "junk.pth"), "--out", str(tmp_path / "o")]
    )
    assert result.exit_code != 0 and "junk.pth" in result.output


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
