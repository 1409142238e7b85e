"""The pre-training configuration (METHOD.md section 4): masked image modelling on real faces.

Defaults follow BEiT v2's recipe where it applies (AdamW with betas 0.9/0.98, weight decay 0.05,
gradient clipping at 3.0, cosine schedule with linear warm-up, about 40% of patches masked in
blocks, LayerScale 0.1, stochastic depth 0.1).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ffdetect.config import ConfigError
from ffdetect.train.config import ModelConfig, ScheduleConfig

TARGET_KINDS = ("pixel", "teacher", "tokens")


@dataclass
class PretrainModelConfig(ModelConfig):
    """The backbone being pre-trained (as in fine-tuning) and the prediction head."""

    head_depth: int = 0  # transformer blocks before the linear prediction head (0: linear only)

    def __post_init__(self) -> None:
        for name in ("flip_average", "fused"):
            if getattr(self, name):
                raise ConfigError(f"model.{name} is a detector's scoring: pre-training has none")


@dataclass
class MaskConfig:
    """BEiT block-wise masking: rectangles of at least ``min_patches`` until ``ratio`` is met."""

    ratio: float = 0.4
    min_patches: int = 4
    min_aspect: float = 0.3
    max_aspect: float | None = None  # None: 1 / min_aspect


@dataclass
class TargetConfig:
    """What the head predicts at masked patches.

    ``pixel``: per-patch normalised pixels (``norm_pix``), ``pixel_loss`` mse or l1.
    ``teacher``: final patch features of a frozen backbone read from ``teacher`` (any checkpoint
    that ``load_backbone_weights`` reads), ``teacher_loss`` cosine or smooth_l1.
    ``tokens``: codes of a BEiT v2 VQ-KD tokenizer read from ``tokenizer`` (cross-entropy).
    """

    kind: str = "pixel"
    norm_pix: bool = True
    pixel_loss: str = "mse"
    teacher: str | None = None
    teacher_loss: str = "cosine"
    tokenizer: str | None = None
    tokenizer_heads: int | None = None  # attention heads of the tokenizer (default width / 64)

    def __post_init__(self) -> None:
        if self.kind not in TARGET_KINDS:
            raise ValueError(f"target.kind must be one of {TARGET_KINDS}, got {self.kind!r}")
        if self.pixel_loss not in ("mse", "l1"):
            raise ValueError(f"target.pixel_loss must be mse or l1, got {self.pixel_loss!r}")
        if self.teacher_loss not in ("cosine", "smooth_l1"):
            raise ValueError(
                f"target.teacher_loss must be cosine or smooth_l1, got {self.teacher_loss!r}"
            )


@dataclass
class PretrainOptimConfig:
    """AdamW (any timm optimizer name) with BEiT v2's betas and gradient clipping."""

    name: str = "adamw"
    lr: float = 1.5e-3
    weight_decay: float = 0.05
    betas: list[float] = field(default_factory=lambda: [0.9, 0.98])
    clip_grad: float | None = 3.0


@dataclass
class PretrainDataConfig:
    """Which real faces are read and how they are augmented."""

    batch_size: int = 256  # global, split over the processes
    num_workers: int = 8
    splits: list[str] | None = None  # prepared dir: these splits (None: every split but test)
    frames_per_video: int | None = None  # prepared dir: faces per video (None: all)
    crop_scale: list[float] = field(default_factory=lambda: [0.5, 1.0])  # random resized crop
    flip: bool = True
    colour_jitter: float = 0.0  # probability of brightness/contrast jitter


@dataclass
class PretrainRunConfig:
    """Reproducibility, precision and bookkeeping."""

    seed: int = 0
    deterministic: bool = False
    amp: bool = True  # bf16 autocast on CUDA; ignored on CPU
    log_every: int = 10
    max_steps: int | None = None
    reconstructions: int = 8  # faces in RUN_DIR/reconstruction.png (pixel target; 0: none)


@dataclass
class PretrainConfig:
    """Everything ``ffdetect pretrain`` needs besides the data and output paths."""

    model: PretrainModelConfig = field(default_factory=PretrainModelConfig)
    mask: MaskConfig = field(default_factory=MaskConfig)
    target: TargetConfig = field(default_factory=TargetConfig)
    optim: PretrainOptimConfig = field(default_factory=PretrainOptimConfig)
    schedule: ScheduleConfig = field(
        default_factory=lambda: ScheduleConfig(
            epochs=300, warmup_epochs=10.0, warmup_lr=1e-6, min_lr=1e-5
        )
    )
    data: PretrainDataConfig = field(default_factory=PretrainDataConfig)
    run: PretrainRunConfig = field(default_factory=PretrainRunConfig)
