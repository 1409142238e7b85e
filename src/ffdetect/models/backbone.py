"""BEiT v2 style ViT backbones built on timm's ``Beit`` (METHOD.md section 1).

Patch 16, CLS token pooled after the final LayerNorm, relative position bias in every block and
no absolute position embedding, LayerScale initialised at 0.1, q/v biases without k bias, and
stochastic depth rising linearly to ``drop_path_rate``. Parameter names equal those of the
authors' BEiT v2 checkpoints (timm recomputes the ``relative_position_index`` buffers).
"""

from __future__ import annotations

from dataclasses import dataclass

from timm.models.beit import Beit

from ffdetect.checkpoint.metadata import Architecture


@dataclass(frozen=True)
class BackboneSize:
    """Width, depth and heads of one registered size."""

    embed_dim: int
    depth: int
    num_heads: int


BACKBONE_SIZES: dict[str, BackboneSize] = {
    "tiny": BackboneSize(embed_dim=192, depth=12, num_heads=3),
    "small": BackboneSize(embed_dim=384, depth=12, num_heads=6),
    "base": BackboneSize(embed_dim=768, depth=12, num_heads=12),
}

LAYER_SCALE_INIT = 0.1
DROP_PATH_RATE = 0.1


def architecture_for(
    size: str, img_size: int = 224, patch_size: int = 16, depth: int | None = None
) -> Architecture:
    """The :class:`Architecture` record of a registered size (``depth`` may be overridden)."""
    if size not in BACKBONE_SIZES:
        raise ValueError(f"unknown backbone size {size!r}; choose from {sorted(BACKBONE_SIZES)}")
    spec = BACKBONE_SIZES[size]
    return Architecture(
        size=size,
        img_size=img_size,
        patch_size=patch_size,
        embed_dim=spec.embed_dim,
        depth=spec.depth if depth is None else depth,
        num_heads=spec.num_heads,
    )


def create_backbone(
    arch: Architecture | str,
    *,
    drop_path_rate: float = DROP_PATH_RATE,
    layer_scale_init: float = LAYER_SCALE_INIT,
    grad_checkpointing: bool = False,
) -> Beit:
    """Build a randomly initialised BEiT v2 backbone that returns the pooled CLS feature.

    ``arch`` is an :class:`Architecture` or the name of a registered size. Nothing is downloaded:
    weights come from :mod:`ffdetect.checkpoint` afterwards.
    """
    if isinstance(arch, str):
        arch = architecture_for(arch)
    model = Beit(
        img_size=arch.img_size,
        patch_size=arch.patch_size,
        num_classes=0,
        global_pool="token",
        embed_dim=arch.embed_dim,
        depth=arch.depth,
        num_heads=arch.num_heads,
        qkv_bias=True,
        mlp_ratio=4.0,
        drop_path_rate=drop_path_rate,
        init_values=layer_scale_init,
        use_abs_pos_emb=False,
        use_rel_pos_bias=True,
        use_shared_rel_pos_bias=False,
    )
    model.set_grad_checkpointing(grad_checkpointing)
    return model
