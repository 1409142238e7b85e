"""The masked-image-modelling wrapper around an unchanged BEiT v2 backbone.

``MaskedImageModel.backbone`` is the very :class:`timm.models.beit.Beit` that fine-tuning loads:
its parameter names are untouched, so exporting it gives a plain ``backbone`` model. The wrapper
adds a learnable mask token and a light head, and runs the backbone's own modules (patch
embedding, CLS token, blocks with their relative position bias, final norm) on the masked
sequence.
"""

from __future__ import annotations

import torch
from timm.layers import trunc_normal_
from timm.models.beit import Beit, Block
from torch import nn
from torch.utils.checkpoint import checkpoint


def encode_masked(
    backbone: Beit, images: torch.Tensor, mask: torch.Tensor, mask_token: torch.Tensor
) -> torch.Tensor:
    """Tokens ``[B, 1 + N, D]`` after the final norm, masked patch embeddings replaced.

    ``mask`` is ``[B, N]`` (or ``[B, H, W]``) boolean, True where the patch is hidden.
    """
    x = backbone.patch_embed(images)
    hidden = mask.flatten(1).unsqueeze(-1).to(x.dtype)
    x = x * (1.0 - hidden) + mask_token.to(x.dtype) * hidden
    x = torch.cat((backbone.cls_token.expand(x.shape[0], -1, -1), x), dim=1)
    if backbone.pos_embed is not None:
        x = x + backbone.pos_embed
    x = backbone.pos_drop(x)
    rel_pos_bias = backbone.rel_pos_bias() if backbone.rel_pos_bias is not None else None
    for blk in backbone.blocks:
        if backbone.grad_checkpointing and torch.is_grad_enabled():
            x = checkpoint(blk, x, shared_rel_pos_bias=rel_pos_bias, use_reentrant=False)
        else:
            x = blk(x, shared_rel_pos_bias=rel_pos_bias)
    return backbone.norm(x)


class MaskedImageModel(nn.Module):
    """Backbone + mask token + head; ``forward`` predicts targets at the masked patches only."""

    def __init__(self, backbone: Beit, out_dim: int, head_depth: int = 0) -> None:
        super().__init__()
        self.backbone = backbone
        dim = backbone.embed_dim
        self.mask_token = nn.Parameter(torch.zeros(1, 1, dim))
        trunc_normal_(self.mask_token, std=0.02)
        heads = backbone.blocks[0].attn.num_heads
        self.head_blocks = nn.ModuleList(
            Block(
                dim=dim,
                num_heads=heads,
                qkv_bias=True,
                init_values=0.1,
                window_size=backbone.patch_embed.grid_size,
            )
            for _ in range(head_depth)
        )
        self.head_norm = nn.LayerNorm(dim, eps=1e-6) if head_depth else nn.Identity()
        self.head = nn.Linear(dim, out_dim)
        trunc_normal_(self.head.weight, std=0.02)
        nn.init.zeros_(self.head.bias)

    @property
    def grid(self) -> tuple[int, int]:
        """Patch grid ``(H, W)`` of the backbone."""
        return tuple(self.backbone.patch_embed.grid_size)

    @torch.jit.ignore
    def no_weight_decay(self) -> set[str]:
        """Parameters AdamW must not decay: the mask token and what the backbone lists."""
        names = {"mask_token"} | {f"backbone.{n}" for n in self.backbone.no_weight_decay()}
        names |= {n for n, _ in self.named_parameters() if "relative_position_bias_table" in n}
        return names

    def forward(self, images: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Predictions ``[M, out_dim]`` for the ``M`` masked patches, in ``mask``'s row order."""
        mask = mask.flatten(1)
        x = encode_masked(self.backbone, images, mask, self.mask_token)
        for blk in self.head_blocks:
            x = blk(x)
        x = x[:, 1:][mask]
        return self.head(self.head_norm(x))
