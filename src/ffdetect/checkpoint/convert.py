"""Turn foreign checkpoints into ffdetect models (timm's ``checkpoint_filter_fn`` pattern).

Two families of files are understood (METHOD.md section 1):

* BEiT v2 pre-training checkpoints, ``{"model": state_dict}`` with bare backbone keys: they become
  a ``backbone`` model (a fine-tuning init). Pre-training-only keys are dropped and reported, a
  shared relative-position table is copied into every block (METHOD.md; ``shared_rel_pos="zero"``
  reproduces the authors' ``strict=False`` load, which left every block's table at zero),
  ``relative_position_index`` buffers are recomputed, and an absolute ``pos_embed`` is an error
  (this architecture has none).
* The authors' fine-tuned detectors, ``{"state_dict": ...}`` with ``module.backbone_model.*``,
  optionally ``module.backbone_model2.*`` (two-branch file), ``module.norm_for_cls.*`` and
  ``module.header.0.*``: they become a ``competitive`` or a ``detector`` model.

Everything else is strict: a missing or unexpected key fails with its name.
"""

from __future__ import annotations

import hashlib
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from ffdetect.checkpoint.metadata import Architecture, ModelMeta
from ffdetect.checkpoint.networks import build_model, load_strict
from ffdetect.checkpoint.provenance import default_provenance
from ffdetect.checkpoint.safe_load import safe_torch_load
from ffdetect.errors import UserError
from ffdetect.models.backbone import BACKBONE_SIZES

PRETRAIN_ONLY_PREFIXES = (
    "mask_token",
    "lm_head.",
    "cls_pt_layers.",
    "cls_pt_norm.",
    "cls_pt_lm_head.",
)
SHARED_REL_POS_TABLE = "rel_pos_bias.relative_position_bias_table"
#: What a shared relative-position table becomes: copied into every block (METHOD.md section 1)
#: or zeros in every block (what the authors' ``strict=False`` load produced).
SHARED_REL_POS_MODES = ("copy", "zero")
CONTAINER_KEYS = ("state_dict", "model", "module")

#: Authors' fine-tuned layout -> our competitive layout.
AUTHORS_PREFIXES = {
    "backbone_model.": "main.",
    "backbone_model2.": "competitor.",
    "norm_for_cls.": "head.norm.",
    "header.0.": "head.fc.",
}


class ConversionError(UserError, ValueError):
    """The checkpoint cannot be turned into one of our models; the message says why."""


@dataclass
class ConversionResult:
    """A converted network, its metadata, and what was dropped or rewritten on the way."""

    model: nn.Module
    meta: ModelMeta
    layout: str
    notes: list[str] = field(default_factory=list)


def unwrap_state_dict(obj: object) -> dict[str, torch.Tensor]:
    """Find the state dict inside a checkpoint and strip DDP ``module.`` prefixes."""
    while isinstance(obj, dict):
        container = next((k for k in CONTAINER_KEYS if isinstance(obj.get(k), dict)), None)
        if container is None:
            break
        obj = obj[container]
    if not isinstance(obj, dict) or not obj:
        raise ConversionError("no state dict found (looked for 'state_dict', 'model', 'module')")
    not_tensors = sorted(k for k, v in obj.items() if not isinstance(v, torch.Tensor))
    if not_tensors:
        raise ConversionError(
            f"state dict entries that are not tensors: {', '.join(not_tensors[:20])}"
        )
    return {k.removeprefix("module."): v for k, v in obj.items()}


def checkpoint_filter_fn(
    state_dict: dict[str, torch.Tensor], shared_rel_pos: str = "copy"
) -> tuple[dict[str, torch.Tensor], list[str]]:
    """Bring a BEiT v2 backbone state dict to our parameter names; returns it and notes.

    A shared relative-position table is copied into every block (``shared_rel_pos="copy"``) or
    replaced by zeros in every block (``"zero"``, the authors' behaviour).
    """
    if shared_rel_pos not in SHARED_REL_POS_MODES:
        raise ConversionError(
            f"shared_rel_pos must be one of {', '.join(SHARED_REL_POS_MODES)}, "
            f"got {shared_rel_pos!r}"
        )
    notes: list[str] = []
    if "pos_embed" in state_dict:
        raise ConversionError(
            "the checkpoint has 'pos_embed' (absolute position embeddings); ffdetect's BEiT v2 "
            "backbone uses relative position bias only, so these weights do not fit it"
        )
    depth = len({int(m.group(1)) for k in state_dict if (m := re.match(r"blocks\.(\d+)\.", k))})
    out: dict[str, torch.Tensor] = {}
    dropped = []
    for key, value in state_dict.items():
        if key.endswith("relative_position_index"):
            continue
        if key.startswith(PRETRAIN_ONLY_PREFIXES):
            dropped.append(key)
            continue
        if key == SHARED_REL_POS_TABLE:
            table = value if shared_rel_pos == "copy" else torch.zeros_like(value)
            for i in range(depth):
                out[f"blocks.{i}.attn.relative_position_bias_table"] = table.clone()
            notes.append(
                f"copied the shared relative position table into all {depth} blocks"
                if shared_rel_pos == "copy"
                else f"set every block's relative position table to zero ({depth} blocks; the "
                "shared table was not used, as in the authors' strict=False load)"
            )
            continue
        out[key] = value
    if dropped:
        notes.append(f"dropped {len(dropped)} pre-training-only keys: {', '.join(sorted(dropped))}")
    return out, notes


def infer_architecture(
    state_dict: dict[str, torch.Tensor], size: str | None = None
) -> Architecture:
    """Read width, depth, heads, patch and input size off a backbone state dict."""
    try:
        embed_dim = state_dict["cls_token"].shape[-1]
        patch_size = state_dict["patch_embed.proj.weight"].shape[-1]
        table = state_dict["blocks.0.attn.relative_position_bias_table"]
    except KeyError as exc:
        raise ConversionError(f"not a BEiT v2 backbone: missing key {exc.args[0]}") from exc
    depth = len({int(m.group(1)) for k in state_dict if (m := re.match(r"blocks\.(\d+)\.", k))})
    num_heads = table.shape[1]
    window = (math.isqrt(table.shape[0] - 3) + 1) // 2
    if (2 * window - 1) ** 2 + 3 != table.shape[0]:
        raise ConversionError(f"relative position table of {table.shape[0]} rows is not square")
    name = next(
        (
            n
            for n, s in BACKBONE_SIZES.items()
            if (s.embed_dim, s.num_heads) == (embed_dim, num_heads)
        ),
        "custom",
    )
    if size is not None and size != name:
        raise ConversionError(
            f"--size {size} given, but the checkpoint is {name} ({embed_dim} wide)"
        )
    return Architecture(
        size=name,
        img_size=window * patch_size,
        patch_size=patch_size,
        embed_dim=embed_dim,
        depth=depth,
        num_heads=num_heads,
    )


def _is_authors_layout(state_dict: dict[str, torch.Tensor]) -> bool:
    return any(k.startswith("backbone_model.") for k in state_dict)


def _convert_authors(
    state_dict: dict[str, torch.Tensor], size: str | None, shared_rel_pos: str
) -> tuple[dict, Architecture, str, list[str]]:
    parts: dict[str, dict[str, torch.Tensor]] = {p: {} for p in AUTHORS_PREFIXES}
    unexpected = []
    for key, value in state_dict.items():
        prefix = next((p for p in AUTHORS_PREFIXES if key.startswith(p)), None)
        if prefix is None:
            unexpected.append(key)
        else:
            parts[prefix][key.removeprefix(prefix)] = value
    if unexpected:
        raise ConversionError(
            f"unexpected keys in the fine-tuned checkpoint: {', '.join(sorted(unexpected))}"
        )
    notes: list[str] = []
    main, main_notes = checkpoint_filter_fn(parts["backbone_model."], shared_rel_pos)
    notes += [f"main branch: {n}" for n in main_notes]
    arch = infer_architecture(main, size)
    out = {f"main.{k}": v for k, v in main.items()}
    two_branch = bool(parts["backbone_model2."])
    if two_branch:
        competitor, comp_notes = checkpoint_filter_fn(parts["backbone_model2."], shared_rel_pos)
        notes += [f"competitor branch: {n}" for n in comp_notes]
        out.update({f"competitor.{k}": v for k, v in competitor.items()})
    for prefix in ("norm_for_cls.", "header.0."):
        out.update({AUTHORS_PREFIXES[prefix] + k: v for k, v in parts[prefix].items()})
    if not two_branch:
        out = {
            ("backbone." + k.removeprefix("main.")) if k.startswith("main.") else k: v
            for k, v in out.items()
        }
    layout = "authors-two-branch" if two_branch else "authors-main-branch"
    return out, arch, layout, notes


def convert_state_dict(
    state_dict: dict[str, torch.Tensor], size: str | None = None, shared_rel_pos: str = "copy"
) -> tuple[dict[str, torch.Tensor], Architecture, str, str, list[str]]:
    """Map a foreign state dict to ours; returns (state, architecture, kind, layout, notes)."""
    if _is_authors_layout(state_dict):
        state, arch, layout, notes = _convert_authors(state_dict, size, shared_rel_pos)
        kind = "competitive" if layout == "authors-two-branch" else "detector"
        return state, arch, kind, layout, notes
    state, notes = checkpoint_filter_fn(state_dict, shared_rel_pos)
    return state, infer_architecture(state, size), "backbone", "beitv2-backbone", notes


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def convert_checkpoint(
    src: str | Path,
    size: str | None = None,
    main_only: bool = False,
    shared_rel_pos: str = "copy",
) -> ConversionResult:
    """Load a foreign checkpoint safely and return it as one of our networks, strictly checked.

    Every failure is a :class:`~ffdetect.errors.UserError` whose message names ``src``.
    """
    src = Path(src)
    loaded = safe_torch_load(src)
    try:
        state, arch, kind, layout, notes = convert_state_dict(
            unwrap_state_dict(loaded), size, shared_rel_pos
        )
    except ConversionError as exc:
        raise ConversionError(f"{src}: {exc}") from exc
    meta = ModelMeta(kind=kind, architecture=arch)
    model = build_model(meta)
    load_strict(model, state, str(src))
    if main_only and kind == "competitive":
        model = model.main_branch()
        meta.kind = "detector"
        notes.append("kept the main branch only (the deployed model)")
    meta.provenance = default_provenance(
        "converted", source=src.name, source_sha256=_sha256(src), layout=layout, notes=notes
    )
    return ConversionResult(model=model.eval(), meta=meta, layout=layout, notes=notes)
