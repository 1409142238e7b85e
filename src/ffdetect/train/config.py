"""The fine-tuning configuration (defaults = the reference recipe of METHOD.md section 2)."""

from __future__ import annotations

from dataclasses import dataclass, field

from ffdetect.losses.competitive import LossWeights


@dataclass
class ModelConfig:
    """Which network to train and where its initial weights come from."""

    size: str = "base"
    img_size: int = 224
    patch_size: int = 16
    depth: int | None = None  # override the size's depth (tiny test models)
    drop_path_rate: float = 0.1
    grad_checkpointing: bool = False
    init: str | None = None  # backbone checkpoint: ours (any kind) or a foreign BEiT v2 file


@dataclass
class OptimConfig:
    """LAMB with layer-wise lr decay; optional gradient clipping (off in the reference)."""

    name: str = "lamb"
    lr: float = 5e-5
    weight_decay: float = 0.05
    layer_decay: float = 0.75
    clip_grad: float | None = None


@dataclass
class ScheduleConfig:
    """Cosine schedule over ``epochs``, linear warm-up from ``warmup_lr``, floor ``min_lr``."""

    epochs: int = 10
    warmup_epochs: float = 1.0
    warmup_lr: float = 1e-6
    min_lr: float = 1e-5


@dataclass
class DataConfig:
    """Which faces are read and how they are augmented."""

    frames_per_video: int = 8
    batch_size: int = 64  # global batch, split over the processes
    eval_batch_size: int = 64
    num_workers: int = 4
    augment: bool = True
    cutout: bool = True
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
            raise ValueError(f"method must be 'competitive' or 'baseline', got {self.method!r}")
        if self.task not in ("deepfake", "pad"):
            raise ValueError(f"task must be 'deepfake' or 'pad', got {self.task!r}")
