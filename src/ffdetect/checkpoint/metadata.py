"""Metadata stored beside a model's weights: architecture, input, calibration, provenance."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

FORMAT_VERSION = 1

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

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Calibration:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown calibration fields: {sorted(unknown)}")
        return cls(**data)


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

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Architecture:
        return cls(**data)


@dataclass
class ModelMeta:
    """The JSON document written next to ``model.safetensors``."""

    kind: str = "detector"
    task: str = "deepfake"
    architecture: Architecture = field(default_factory=Architecture)
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD
    calibration: Calibration = field(default_factory=Calibration)
    provenance: dict[str, Any] = field(default_factory=dict)
    format_version: int = FORMAT_VERSION
    ffdetect_version: str = ""

    def __post_init__(self) -> None:
        if self.kind not in MODEL_KINDS:
            raise ValueError(f"model kind must be one of {MODEL_KINDS}, got {self.kind!r}")

    def to_dict(self) -> dict[str, Any]:
        return {
            "format_version": self.format_version,
            "ffdetect_version": self.ffdetect_version,
            "kind": self.kind,
            "task": self.task,
            "architecture": self.architecture.to_dict(),
            "input": {
                "size": self.architecture.img_size,
                "mean": list(self.mean),
                "std": list(self.std),
            },
            "calibration": self.calibration.to_dict(),
            "provenance": self.provenance,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelMeta:
        version = data.get("format_version")
        if version != FORMAT_VERSION:
            raise ValueError(
                f"unsupported model format version {version!r} (expected {FORMAT_VERSION})"
            )
        return cls(
            kind=data["kind"],
            task=data.get("task", "deepfake"),
            architecture=Architecture.from_dict(data["architecture"]),
            mean=tuple(data["input"]["mean"]),
            std=tuple(data["input"]["std"]),
            calibration=Calibration.from_dict(data.get("calibration", {})),
            provenance=data.get("provenance", {}),
            format_version=version,
            ffdetect_version=data.get("ffdetect_version", ""),
        )
