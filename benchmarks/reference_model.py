"""The plain reference of the deployed detector: the same BEiT v2 network written out by hand.

Eager attention ``softmax(q k^T / sqrt(d) + bias) v``, fp32, no fused kernels, no caching; the
parameter names equal those of :class:`ffdetect.models.detector.Detector`, so the deployed
model's weights load into it with strict key checks and the outputs can be compared.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ffdetect.checkpoint.metadata import Architecture
from ffdetect.models.detector import Detector
from ffdetect.models.heads import ClassifierHead


def relative_position_index(grid: int) -> torch.Tensor:
    """BEiT's ``(grid^2 + 1, grid^2 + 1)`` index into the relative position table (CLS last 3)."""
    coords = torch.stack(torch.meshgrid(torch.arange(grid), torch.arange(grid), indexing="ij"))
    coords = coords.flatten(1)
    rel = (coords[:, :, None] - coords[:, None, :]).permute(1, 2, 0) + (grid - 1)
    rel[:, :, 0] *= 2 * grid - 1
    n = grid * grid + 1
    num_relative = (2 * grid - 1) ** 2 + 3
    index = torch.zeros(n, n, dtype=torch.long)
    index[1:, 1:] = rel.sum(-1)
    index[0, 0:] = num_relative - 3
    index[0:, 0] = num_relative - 2
    index[0, 0] = num_relative - 1
    return index


class PlainAttention(nn.Module):
    """Multi-head self-attention with relative position bias, computed step by step."""

    def __init__(self, dim: int, heads: int, grid: int) -> None:
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim, bias=False)
        self.q_bias = nn.Parameter(torch.zeros(dim))
        self.v_bias = nn.Parameter(torch.zeros(dim))
        self.register_buffer("k_bias", torch.zeros(dim), persistent=False)
        self.relative_position_bias_table = nn.Parameter(
            torch.zeros((2 * grid - 1) ** 2 + 3, heads)
        )
        self.register_buffer(
            "relative_position_index", relative_position_index(grid), persistent=False
        )
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, c = x.shape
        bias = torch.cat((self.q_bias, self.k_bias, self.v_bias))
        qkv = F.linear(x, self.qkv.weight, bias).reshape(b, n, 3, self.heads, c // self.heads)
        q, k, v = qkv.permute(2, 0, 3, 1, 4)
        scores = (q * (c // self.heads) ** -0.5) @ k.transpose(-2, -1)
        rel = self.relative_position_bias_table[self.relative_position_index.view(-1)]
        scores = scores + rel.view(n, n, -1).permute(2, 0, 1)
        out = scores.softmax(dim=-1) @ v
        return self.proj(out.transpose(1, 2).reshape(b, n, c))


class PlainMlp(nn.Module):
    """Linear, exact GELU, linear."""

    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(F.gelu(self.fc1(x)))


class PlainBlock(nn.Module):
    """Pre-norm transformer block with LayerScale."""

    def __init__(self, dim: int, heads: int, grid: int) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = PlainAttention(dim, heads, grid)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = PlainMlp(dim, 4 * dim)
        self.gamma_1 = nn.Parameter(torch.ones(dim))
        self.gamma_2 = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.gamma_1 * self.attn(self.norm1(x))
        return x + self.gamma_2 * self.mlp(self.norm2(x))


class PatchEmbed(nn.Module):
    """Non-overlapping patches to tokens."""

    def __init__(self, patch: int, dim: int) -> None:
        super().__init__()
        self.proj = nn.Conv2d(3, dim, patch, stride=patch)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x).flatten(2).transpose(1, 2)


class PlainBeit(nn.Module):
    """CLS token + blocks + final norm; returns the CLS feature."""

    def __init__(self, arch: Architecture) -> None:
        super().__init__()
        grid = arch.img_size // arch.patch_size
        self.patch_embed = PatchEmbed(arch.patch_size, arch.embed_dim)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, arch.embed_dim))
        self.blocks = nn.ModuleList(
            PlainBlock(arch.embed_dim, arch.num_heads, grid) for _ in range(arch.depth)
        )
        self.norm = nn.LayerNorm(arch.embed_dim, eps=1e-6)

    def no_weight_decay(self) -> set[str]:
        """Parameters without weight decay, as timm's ``Beit`` names them."""
        names = {n for n, _ in self.named_parameters() if "relative_position_bias_table" in n}
        return {"pos_embed", "cls_token", *names}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.patch_embed(x)
        x = torch.cat((self.cls_token.expand(x.shape[0], -1, -1), x), dim=1)
        for block in self.blocks:
            x = block(x)
        return self.norm(x)[:, 0]


class PlainDetector(nn.Module):
    """The reference of :class:`Detector`: plain backbone + the same head."""

    def __init__(self, arch: Architecture) -> None:
        super().__init__()
        self.backbone = PlainBeit(arch)
        self.head = ClassifierHead(arch.embed_dim)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.head(self.backbone(images))


def plain_copy(detector: Detector, arch: Architecture) -> PlainDetector:
    """A :class:`PlainDetector` holding ``detector``'s weights (strict key check)."""
    plain = PlainDetector(arch)
    state = {k: v for k, v in detector.state_dict().items() if not k.endswith("k_bias")}
    plain.load_state_dict(state, strict=True)
    return plain.eval()
