"""The fine-tuning configuration (defaults = the reference recipe of METHOD.md section 2)."""

from __future__ import annotations

from dataclasses import dataclass, field

from ffdetect.checkpoint.convert import SHARED_REL_POS_MODES
from ffdetect.config import ConfigError
from ffdetect.data.transforms import COLOUR_LIMITS, CUTOUT_STYLES
from ffdetect.losses.competitive import LossWeights

NO_DECAY_SETS = ("beit", "authors")
SCHEDULE_STEPS = ("update", "epoch")


@dataclass
class ModelConfig:
    """Which network to train and where its initial weights come from."""

    size: str = "base"
    img_size: int = 224
    patch_size: int = 16
    depth: int | None = None  # override the size's depth (tiny test models)
    drop_path_rate: float = 0.1
    grad_checkpointing: bool = False
    # Score each validation face, and each face the exported model sees, as the mean logits of
    # it and its mirror image (test-time augmentation, stored in the model's metadata).
    flip_average: bool = False
    # Score validation faces, and export the model to score every face, with the fused
    # prediction of both branches (FusedDetector) instead of the main branch alone (METHOD.md).
    fused: bool = False
    init: str | None = None  # backbone checkpoint: ours (any kind) or a foreign BEiT v2 file
    # A foreign init's shared relative position table: "copy" into every block (METHOD.md) or
    # "zero" in every block (what the authors' strict=False load left).
    init_shared_rel_pos: str = "copy"


@dataclass
class OptimConfig:
    """LAMB with layer-wise lr decay; optional gradient clipping (off in the reference)."""

    name: str = "lamb"
    lr: float = 5e-5
    weight_decay: float = 0.05
    layer_decay: float = 0.75
    clip_grad: float | None = None
    # Parameters without weight decay: "beit" (biases, norms, LayerScale, CLS token, relative
    # position tables: the BEiT convention) or "authors" (biases, norms and LayerScale only).
    no_decay: str = "beit"

    def __post_init__(self) -> None:
        if self.no_decay not in NO_DECAY_SETS:
            raise ConfigError(
                f"optim.no_decay must be one of {NO_DECAY_SETS}, got {self.no_decay!r}"
            )


@dataclass
class ScheduleConfig:
    """Cosine schedule over ``epochs``, linear warm-up from ``warmup_lr``, floor ``min_lr``."""

    epochs: int = 10
    warmup_epochs: float = 1.0
    warmup_lr: float = 1e-6
    min_lr: float = 1e-5
    step: str = "update"  # lr set every "update" (BEiT/MAE), or once per "epoch" (the authors)

    def __post_init__(self) -> None:
        if self.step not in SCHEDULE_STEPS:
            raise ConfigError(f"schedule.step must be one of {SCHEDULE_STEPS}, got {self.step!r}")


@dataclass
class DataConfig:
    """Which faces are read and how they are augmented."""

    frames_per_video: int = 8
    batch_size: int = 64  # global batch, split over the processes
    eval_batch_size: int = 64
    num_workers: int = 4
    augment: bool = True
    cutout: bool = True
    cutout_style: str = "ffdetect"  # or "authors": after normalisation, one size per image
    val_cutout: bool = False  # the authors also cut out validation images
    colour_limits: str = "authors"  # or "albumentations" (its default jitter limits)
    # Keep each fake in the batch of its real twin (SBI training): videos ``real/X`` and
    # ``fake/X`` (ids equal after their first path component) are drawn together.
    paired: bool = False

    def __post_init__(self) -> None:
        if self.cutout_style not in CUTOUT_STYLES:
            raise ConfigError(
                f"data.cutout_style must be one of {CUTOUT_STYLES}, got {self.cutout_style!r}"
            )
        if self.colour_limits not in COLOUR_LIMITS:
            raise ConfigError(
                f"data.colour_limits must be one of {tuple(COLOUR_LIMITS)}, "
                f"got {self.colour_limits!r}"
            )

    train_split: str = "train"
    val_split: str = "val"


@dataclass
class RunConfig:
    """Reproducibility, precision and bookkeeping."""

    seed: int = 0
    deterministic: bool = False
    amp: bool = True  # bf16 autocast on CUDA; ignored on CPU
    cpu_bf16: bool = False  # bf16 autocast of training steps on CPUs with native bf16 (opt-in)
    select_metric: str = "video_auc"
    eval_every: int = 1
    log_every: int = 1
    max_steps: int | None = None


@dataclass
class TrainConfig:
    """Everything ``ffdetect train`` needs besides the data and output paths."""

    method: str = "competitive"  # or "baseline": one branch, cross-entropy
    task: str = "deepfake"  # or "pad": class 1 = presentation attack (stored in the model)
    model: ModelConfig = field(default_factory=ModelConfig)
    loss: LossWeights = field(default_factory=LossWeights)
    optim: OptimConfig = field(default_factory=OptimConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    data: DataConfig = field(default_factory=DataConfig)
    run: RunConfig = field(default_factory=RunConfig)

    def __post_init__(self) -> None:
        if self.method not in ("competitive", "baseline"):
            raise ConfigError(f"method must be 'competitive' or 'baseline', got {self.method!r}")
        if self.task not in ("deepfake", "pad"):
            raise ConfigError(f"task must be 'deepfake' or 'pad', got {self.task!r}")
        if self.model.fused and self.method != "competitive":
            raise ConfigError("model.fused scores both branches: it needs method 'competitive'")
        if self.model.init_shared_rel_pos not in SHARED_REL_POS_MODES:
            raise ConfigError(
                f"model.init_shared_rel_pos must be one of {SHARED_REL_POS_MODES}, "
                f"got {self.model.init_shared_rel_pos!r}"
            )


def recipe_warnings(cfg: TrainConfig) -> list[str]:
    """Settings that are almost certainly a mistake, one line each (printed by ``train``)."""
    warnings = []
    if cfg.model.size == "base" and not cfg.model.init:
        warnings.append(
            f"training a base backbone from scratch (no --init / model.init) at lr "
            f"{cfg.optim.lr:g}: this recipe fine-tunes a pre-trained BEiT v2 backbone; pass "
            "--init with one (`ffdetect pretrain` output or a converted BEiT v2 checkpoint)"
        )
    return warnings
