"""Metadata stored beside a model's weights: architecture, input, calibration, provenance.

Every field is checked when the metadata is built or read: a value of the wrong type, a
calibration threshold, abstention level or gamma that is not a finite number >= 0 raises
``ValueError`` naming the field (``read_meta`` adds the file), so a bad ``ffdetect.json`` is
refused at load instead of turning every later answer into nonsense. A number must be a JSON
number: unlike a YAML configuration (where ``3e-4`` may parse as a string), metadata holding
``"0.5"`` or ``true`` where a number belongs is refused.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
import types
import typing
from dataclasses import dataclass, field
from typing import Any

from ffdetect.config import from_dict as typed_from_dict

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

FORMAT_VERSION = 1
#: Version 2 adds ``input.flip_average``; only models that set it are written as version 2, so
#: installs that predate it refuse them instead of scoring one view against a two-view threshold.
FLIP_FORMAT_VERSION = 2
#: Version 3 adds ``input.fused``, written only by models that set it, for the same reason: an
#: older install would score their main branch alone against the fused prediction's threshold.
FUSED_FORMAT_VERSION = 3
READABLE_VERSIONS = (FORMAT_VERSION, FLIP_FORMAT_VERSION, FUSED_FORMAT_VERSION)

#: What a model directory holds: a deployable single-branch detector, the full two-branch
#: training model, or a bare backbone (pre-training output, fine-tuning init).
MODEL_KINDS = ("detector", "competitive", "backbone")


@dataclass
class Calibration:
    """Decision rule of METHOD.md section 3 (ffdetect's definition of the paper's third stage).

    A video's score is the mean of frame ``p_fake`` weighted by ``conf ** gamma``; it is called
    fake when ``score >= threshold`` and real otherwise, unless its confidence is below ``c_min``,
    in which case it is reported as ``uncertain``.
    """

    threshold: float = 0.5
    c_min: float = 0.0
    gamma: float = 1.0
    method: str = "default"
    target_fpr: float | None = None
    chosen_on: str | None = None
    stats: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # Scores and confidences lie in [0, 1]: a threshold above 1 calls nothing fake and a
        # c_min above 1 abstains on everything (both legitimate, if extreme, rules).
        for name in ("threshold", "c_min", "gamma"):
            _check_number(f"calibration {name}", getattr(self, name), low=0.0)
        if self.target_fpr is not None:
            _check_number("calibration target_fpr", self.target_fpr, low=0.0, high=1.0)
        if not isinstance(self.stats, dict):
            raise ValueError(f"calibration stats must be a mapping, got {self.stats!r}")

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (``ffdetect.json``'s ``calibration``)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Calibration:
        """Read :meth:`to_dict`'s form; unknown fields, wrong types and bad values raise."""
        return _from_json(cls, data, "calibration")


@dataclass
class Architecture:
    """Everything needed to rebuild the network before loading its weights."""

    size: str = "base"
    img_size: int = 224
    patch_size: int = 16
    embed_dim: int = 768
    depth: int = 12
    num_heads: int = 12
    num_classes: int = 2

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.name != "size" and (isinstance(value, bool) or not isinstance(value, int)):
                raise ValueError(f"architecture {f.name} must be an integer, got {value!r}")
            if f.name != "size" and value < 1:
                raise ValueError(f"architecture {f.name} must be >= 1, got {value}")

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (``ffdetect.json``'s ``architecture``)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Architecture:
        """Read :meth:`to_dict`'s form; unknown fields and wrong types raise ``ValueError``."""
        return _from_json(cls, data, "architecture")


@dataclass
class ModelMeta:
    """The JSON document written next to ``model.safetensors``."""

    kind: str = "detector"
    task: str = "deepfake"
    architecture: Architecture = field(default_factory=Architecture)
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD
    # Score each face as the mean logits of it and its mirror image (``Detector.flip_average``).
    flip_average: bool = False
    # Score a ``competitive`` model with its fused prediction (``FusedDetector``), not the main
    # branch alone.
    fused: bool = False
    calibration: Calibration = field(default_factory=Calibration)
    provenance: dict[str, Any] = field(default_factory=dict)
    format_version: int = FORMAT_VERSION
    ffdetect_version: str = ""

    def __post_init__(self) -> None:
        if self.kind not in MODEL_KINDS:
            raise ValueError(f"model kind must be one of {MODEL_KINDS}, got {self.kind!r}")
        if not isinstance(self.flip_average, bool):
            raise ValueError(f"input flip_average must be true or false, got {self.flip_average!r}")
        if self.flip_average and self.kind == "backbone":
            raise ValueError("input flip_average is a detector's scoring: a backbone has none")
        if not isinstance(self.fused, bool):
            raise ValueError(f"input fused must be true or false, got {self.fused!r}")
        if self.fused and self.kind != "competitive":
            raise ValueError(
                f"input fused needs a competitive model's two branches, not a {self.kind}"
            )
        self.format_version = self.required_version()

    def required_version(self) -> int:
        """The format version to write: the stored one, raised to what the set fields need (2
        for ``flip_average``, 3 for ``fused``), so an install that predates a field refuses it."""
        needed = [self.format_version]
        needed += [FLIP_FORMAT_VERSION] if self.flip_average else []
        needed += [FUSED_FORMAT_VERSION] if self.fused else []
        return max(needed)

    def to_dict(self) -> dict[str, Any]:
        """The JSON document (``ffdetect.json``)."""
        return {
            "format_version": self.required_version(),
            "ffdetect_version": self.ffdetect_version,
            "kind": self.kind,
            "task": self.task,
            "architecture": self.architecture.to_dict(),
            "input": {
                "size": self.architecture.img_size,
                "mean": list(self.mean),
                "std": list(self.std),
                "flip_average": self.flip_average,
            }
            | ({"fused": True} if self.fused else {}),
            "calibration": self.calibration.to_dict(),
            "provenance": self.provenance,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelMeta:
        """Read :meth:`to_dict`'s form, checking every field (``ValueError`` names the bad one)."""
        data = _mapping(data, "the metadata")
        version = data.get("format_version")
        if type(version) is not int or version not in READABLE_VERSIONS:
            raise ValueError(
                f"unsupported model format version {version!r} (this ffdetect reads "
                f"{' and '.join(map(str, READABLE_VERSIONS))})"
            )
        for key in ("kind", "architecture", "input"):
            if key not in data:
                raise ValueError(f"no {key!r} field")
        kind, task, written_by = (
            data["kind"],
            data.get("task", "deepfake"),
            data.get("ffdetect_version", ""),
        )
        for name, value in (("kind", kind), ("task", task), ("ffdetect_version", written_by)):
            if not isinstance(value, str):
                raise ValueError(f"{name} must be a string, got {value!r}")
        provenance = data.get("provenance", {})
        if not isinstance(provenance, dict):
            raise ValueError(f"provenance must be a mapping, got {provenance!r}")
        image_input = _mapping(data["input"], "input")
        return cls(
            kind=kind,
            task=task,
            architecture=Architecture.from_dict(data["architecture"]),
            mean=_triple(image_input.get("mean"), "input mean", positive=False),
            std=_triple(image_input.get("std"), "input std", positive=True),
            flip_average=image_input.get("flip_average", False),
            fused=image_input.get("fused", False),
            calibration=Calibration.from_dict(data.get("calibration", {})),
            provenance=provenance,
            format_version=version,
            ffdetect_version=written_by,
        )


def _from_json(cls: type[Any], data: Any, where: str) -> Any:
    """Build the dataclass ``cls`` from its JSON object; a string in a numeric field is refused
    (the typed reader would parse it, as YAML configurations need)."""
    data = _mapping(data, where)
    hints = typing.get_type_hints(cls)
    for name, value in data.items():
        hint = hints.get(name)
        union = typing.get_origin(hint) in (typing.Union, types.UnionType)
        numeric = {float, int} & set(typing.get_args(hint) if union else (hint,))
        if numeric and isinstance(value, str):
            kind = "float" if float in numeric else "int"
            raise ValueError(f"{where}.{name}: expected {kind}, got {value!r}")
    return typed_from_dict(cls, data, where)


def _check_number(name: str, value: Any, low: float, high: float = math.inf) -> None:
    """``value`` must be a real number (not a bool), finite, within ``[low, high]``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be a number, got {value!r}")
    if not (math.isfinite(value) and low <= value <= high):
        bounds = f">= {low:g}" if high == math.inf else f"in [{low:g}, {high:g}]"
        raise ValueError(f"{name} must be a finite number {bounds}, got {value!r}")


def _mapping(value: Any, name: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ValueError(f"{name} must be a JSON object, got {value!r}")
    return value


def _triple(value: Any, name: str, positive: bool) -> tuple[float, float, float]:
    """Three finite numbers (per-channel normalisation); ``positive``: each > 0."""
    if not isinstance(value, list | tuple) or len(value) != 3:
        raise ValueError(f"{name} must be a list of 3 numbers, got {value!r}")
    for v in value:
        _check_number(name, v, low=-math.inf if not positive else 0.0)
        if positive and v == 0:
            raise ValueError(f"{name} must be > 0, got {value!r}")
    return (float(value[0]), float(value[1]), float(value[2]))
