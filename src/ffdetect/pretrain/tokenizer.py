"""BEiT v2 visual tokenizer (VQ-KD) reduced to what pre-training needs: images -> codes.

A VQ-KD checkpoint (``{"model": state_dict}``, as released with BEiT v2) holds a ViT encoder with
absolute position embeddings and a final ``fc_norm`` (``encoder.*``), a task layer
``Linear -> Tanh -> Linear`` (``encode_task_layer.*``) and an l2-normalised codebook
(``quantize.embedding.weight``); a patch's code is its nearest codebook entry by cosine.
The decoder and training-only keys are ignored. The encoder is rebuilt as timm's ``Beit`` with
the same parameter names and loaded strictly. The number of attention heads is not stored in
the file: it defaults to ``width / 64`` (12 for the released base tokenizers).

Input: our ImageNet-normalised faces, mapped back to [0, 1] and then to VQ-KD's ``default``
processing, ``[-1, 1]`` (or left ImageNet-normalised for ``process_type="imagenet_norm"``).
"""

from __future__ import annotations

import re
from pathlib import Path

import torch
import torch.nn.functional as F
from timm.models.beit import Beit
from torch import nn

from ffdetect.checkpoint.convert import unwrap_state_dict
from ffdetect.checkpoint.metadata import IMAGENET_MEAN, IMAGENET_STD
from ffdetect.checkpoint.model_format import load_strict
from ffdetect.checkpoint.safe_load import safe_torch_load

ENCODER = "encoder."
TASK_LAYER = "encode_task_layer."
CODEBOOK = "quantize.embedding.weight"


def _encoder(img_size: int, patch_size: int, dim: int, depth: int, heads: int) -> Beit:
    return Beit(
        img_size=img_size,
        patch_size=patch_size,
        num_classes=0,
        global_pool="avg",  # VQ-KD's use_mean_pooling: fc_norm, no final norm
        embed_dim=dim,
        depth=depth,
        num_heads=heads,
        qkv_bias=True,
        init_values=None,
        use_abs_pos_emb=True,
        use_rel_pos_bias=False,
    )


class VisualTokenizer(nn.Module):
    """Frozen VQ-KD encoder + quantiser; ``forward(images)`` gives codes ``[B, N]``."""

    def __init__(
        self,
        encoder: Beit,
        task_layer: nn.Sequential,
        codebook: torch.Tensor,
        process_type: str = "default",
    ) -> None:
        super().__init__()
        if process_type not in ("default", "imagenet_norm"):
            raise ValueError(f"unknown tokenizer process_type {process_type!r}")
        self.encoder = encoder
        self.task_layer = task_layer
        self.register_buffer("codebook", codebook.clone())
        self.process_type = process_type
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1))
        self.requires_grad_(False).eval()

    @property
    def grid(self) -> tuple[int, int]:
        """Code grid ``(H, W)``."""
        return tuple(self.encoder.patch_embed.grid_size)

    @property
    def codebook_size(self) -> int:
        return int(self.codebook.shape[0])

    @torch.no_grad()
    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = images.float()
        if self.process_type == "default":
            x = (x * self.std + self.mean) * 2.0 - 1.0
        size = tuple(self.encoder.patch_embed.img_size)
        if tuple(x.shape[-2:]) != size:
            x = F.interpolate(x, size=size, mode="bilinear", align_corners=False)
        feats = self.encoder.fc_norm(self.encoder.forward_features(x)[:, 1:])
        z = F.normalize(self.task_layer(feats), dim=-1)
        return (z @ F.normalize(self.codebook, dim=-1).t()).argmax(dim=-1)


def build_tokenizer(
    img_size: int,
    patch_size: int,
    dim: int,
    depth: int,
    heads: int,
    code_dim: int = 32,
    codebook_size: int = 8192,
    process_type: str = "default",
) -> VisualTokenizer:
    """A randomly initialised tokenizer of the given shape (tests, or a shell to load into)."""
    task = nn.Sequential(nn.Linear(dim, dim), nn.Tanh(), nn.Linear(dim, code_dim))
    codebook = F.normalize(torch.randn(codebook_size, code_dim), dim=-1)
    return VisualTokenizer(
        _encoder(img_size, patch_size, dim, depth, heads), task, codebook, process_type
    )


def tokenizer_state(tokenizer: VisualTokenizer) -> dict[str, torch.Tensor]:
    """The tokenizer's weights under VQ-KD's key names."""
    state = {ENCODER + k: v for k, v in tokenizer.encoder.state_dict().items()}
    state |= {TASK_LAYER + k: v for k, v in tokenizer.task_layer.state_dict().items()}
    state[CODEBOOK] = tokenizer.codebook
    return state


def save_tokenizer(tokenizer: VisualTokenizer, path: str | Path) -> Path:
    """Write ``{"model": state_dict}`` in VQ-KD's layout (what :func:`load_tokenizer` reads)."""
    path = Path(path)
    torch.save(
        {"model": {k: v.detach().cpu() for k, v in tokenizer_state(tokenizer).items()}}, path
    )
    return path


def load_tokenizer(
    path: str | Path, num_heads: int | None = None, process_type: str = "default"
) -> VisualTokenizer:
    """Read a VQ-KD tokenizer checkpoint without executing code from it; strict on the encoder."""
    state = unwrap_state_dict(safe_torch_load(path))
    if CODEBOOK not in state or f"{ENCODER}patch_embed.proj.weight" not in state:
        raise ValueError(
            f"{path} is not a VQ-KD tokenizer: needs {CODEBOOK} and {ENCODER}patch_embed.*"
        )
    enc = {k.removeprefix(ENCODER): v for k, v in state.items() if k.startswith(ENCODER)}
    proj = enc["patch_embed.proj.weight"]
    dim, patch = proj.shape[0], proj.shape[-1]
    if "pos_embed" not in enc:
        raise ValueError(f"{path}: the tokenizer encoder has no pos_embed")
    side = round((enc["pos_embed"].shape[1] - 1) ** 0.5)
    depth = len({int(m.group(1)) for k in enc if (m := re.match(r"blocks\.(\d+)\.", k))})
    codebook = state[CODEBOOK].float()
    tokenizer = build_tokenizer(
        side * patch,
        patch,
        dim,
        depth,
        num_heads or max(1, dim // 64),
        code_dim=codebook.shape[1],
        codebook_size=codebook.shape[0],
        process_type=process_type,
    )
    load_strict(tokenizer.encoder, enc, f"{path} (encoder)")
    task = {k.removeprefix(TASK_LAYER): v for k, v in state.items() if k.startswith(TASK_LAYER)}
    load_strict(tokenizer.task_layer, task, f"{path} (encode_task_layer)")
    tokenizer.codebook.copy_(codebook)
    return tokenizer.eval()
