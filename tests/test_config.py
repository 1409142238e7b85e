"""Typed configs: the shipped YAML files load, overrides apply, mistakes are named."""

from __future__ import annotations

from pathlib import Path

import pytest

from ffdetect.config import ConfigError, load_config
from ffdetect.train.config import TrainConfig

CONFIGS = Path(__file__).resolve().parents[1] / "configs"


@pytest.mark.parametrize("name", ["competitive", "baseline", "tiny-competitive", "tiny-baseline"])
def test_shipped_training_configs_load(name: str) -> None:
    cfg = load_config(TrainConfig, CONFIGS / f"{name}.yaml")
    assert cfg.method == name.removeprefix("tiny-")
    assert cfg.optim.name == "lamb" and cfg.optim.layer_decay == 0.75


def test_reference_recipe_matches_the_method() -> None:
    cfg = load_config(TrainConfig, CONFIGS / "competitive.yaml")
    assert (cfg.model.size, cfg.model.img_size, cfg.model.patch_size) == ("base", 224, 16)
    assert (cfg.optim.lr, cfg.optim.weight_decay) == (5e-5, 0.05)
    assert (cfg.schedule.epochs, cfg.schedule.warmup_epochs) == (10, 1.0)
    assert (cfg.schedule.warmup_lr, cfg.schedule.min_lr) == (1e-6, 1e-5)
    assert (cfg.data.batch_size, cfg.data.frames_per_video) == (64, 8)
    assert (cfg.loss.ce, cfg.loss.edl_main, cfg.loss.edl_competitor, cfg.loss.correlation) == (
        1,
        1,
        1,
        1,
    )
    assert cfg.loss.kl == 0.0 and cfg.run.select_metric == "video_auc"


def test_overrides_are_typed_and_nested() -> None:
    cfg = load_config(
        TrainConfig,
        CONFIGS / "tiny-competitive.yaml",
        ["optim.lr=3e-4", "model.init=/x", "run.max_steps=3"],
    )
    assert cfg.optim.lr == 3e-4 and cfg.model.init == "/x" and cfg.run.max_steps == 3


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("optim.lrr=1", "unknown keys \\['lrr'\\]"),
        ("optim.lr=fast", "expected float"),
        ("method", "key=value"),
    ],
)
def test_bad_overrides_are_named(override: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_config(TrainConfig, None, [override])


def test_unknown_method_is_refused() -> None:
    with pytest.raises(ValueError, match="competitive"):
        load_config(TrainConfig, None, ["method=triple"])


@pytest.mark.parametrize("key", ["flip_average", "fused"])
def test_scoring_keys_are_detector_keys_not_pretraining_ones(key: str) -> None:
    from ffdetect.pretrain.config import PretrainConfig

    assert getattr(load_config(TrainConfig, None, [f"model.{key}=true"]).model, key)
    with pytest.raises(ConfigError, match=f"model.{key} is a detector's scoring"):
        load_config(PretrainConfig, None, [f"model.{key}=true"])


def _float_fields(cls: type, prefix: str = "") -> list[str]:
    """Dotted names of every float field (plain, optional or a list) of the dataclass ``cls``;
    a list's name ends in ``[]``."""
    import dataclasses
    import typing

    names = []
    for name, hint in typing.get_type_hints(cls).items():
        if dataclasses.is_dataclass(hint):
            names += _float_fields(hint, f"{prefix}{name}.")
        elif typing.get_origin(hint) is list and typing.get_args(hint) == (float,):
            names.append(f"{prefix}{name}[]")
        elif float in (typing.get_args(hint) or (hint,)):
            names.append(f"{prefix}{name}")
    return names


def _every_float_field() -> list[tuple[type, str]]:
    from ffdetect.pretrain.config import PretrainConfig

    return [(cls, f) for cls in (TrainConfig, PretrainConfig) for f in _float_fields(cls)]


@pytest.mark.parametrize("value", ["nan", ".nan", ".inf", "-.inf", "1e999"])
@pytest.mark.parametrize(("cls", "field"), _every_float_field())
def test_non_finite_numbers_are_refused_in_every_float_field(
    cls: type, field: str, value: str
) -> None:
    name = field.removesuffix("[]")
    override = f"{name}=[0.5, {value}]" if field.endswith("[]") else f"{name}={value}"
    with pytest.raises(ConfigError, match=f"{name}: expected a finite number"):
        load_config(cls, None, [override])


def test_float_fields_are_found() -> None:
    fields = {f for _, f in _every_float_field()}
    assert {"optim.lr", "schedule.min_lr", "loss.ce", "mask.ratio", "optim.betas[]"} <= fields
