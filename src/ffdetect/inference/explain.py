"""Where the model looked: attention rollout on the ViT, heat-map overlays, per-frame plots.

Attention rollout (Abnar and Zuidema, 2020): per block, the head-averaged attention matrix plus
the identity (the residual path), rows renormalised; the product over blocks gives how much each
patch flows into the CLS token that the head classifies. It shows where the model looked, not
why it decided: read it as a hint.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from contextlib import contextmanager
from pathlib import Path

import cv2
import numpy as np
import torch

from ffdetect.checkpoint.metadata import ModelMeta
from ffdetect.inference.preprocess import crops_to_tensor
from ffdetect.models.detector import Detector


@contextmanager
def _recorded_attention(detector: Detector):
    """Run the backbone's blocks unfused and record every attention matrix."""
    maps: list[torch.Tensor] = []
    handles, saved = [], []
    for block in detector.backbone.blocks:
        attn = block.attn
        saved.append((attn, attn.fused_attn))
        attn.fused_attn = False
        handles.append(attn.attn_drop.register_forward_hook(lambda m, i, o: maps.append(o)))
    try:
        yield maps
    finally:
        for h in handles:
            h.remove()
        for attn, fused in saved:
            attn.fused_attn = fused


@torch.inference_mode()
def attention_rollout(
    detector: Detector, meta: ModelMeta, crops: Sequence[np.ndarray], batch_size: int = 16
) -> list[np.ndarray]:
    """One ``(g, g)`` map in [0, 1] per crop (g = image size / patch size), CLS-to-patch flow.

    A ``flip_average`` model (``meta``) scores a crop and its mirror image: its map is the mean
    of the crop's map and the mirrored map of the mirror image, so a mirrored crop gets a
    mirrored map.
    """
    detector.eval()
    device = next(detector.parameters()).device
    grid = meta.architecture.img_size // meta.architecture.patch_size
    one_view = detector.with_flip_average(False)
    out: list[np.ndarray] = []
    for start in range(0, len(crops), batch_size):
        images = crops_to_tensor(crops[start : start + batch_size], meta).to(device)
        if meta.flip_average:
            images = torch.cat([images, images.flip(-1)])
        with _recorded_attention(one_view) as maps:
            one_view(images)
        rollout = None
        for attn in maps:
            a = attn.float().mean(dim=1)  # (B, N, N), heads averaged
            a = a + torch.eye(a.shape[-1], device=a.device)
            a = a / a.sum(dim=-1, keepdim=True)
            rollout = a if rollout is None else a @ rollout
        cls_flow = rollout[:, 0, 1:].reshape(-1, grid, grid)
        if meta.flip_average:
            direct, mirrored = cls_flow.unflatten(0, (2, -1))
            cls_flow = (direct + mirrored.flip(-1)) / 2
        cls_flow = cls_flow.cpu().numpy()
        for m in cls_flow:
            m = m - m.min()
            out.append(m / m.max() if m.max() > 0 else m)
    return out


def overlay(crop: np.ndarray, heat: np.ndarray, alpha: float = 0.45) -> np.ndarray:
    """The crop with a JET-coloured heat map blended on top (RGB uint8, crop's size)."""
    h, w = crop.shape[:2]
    heat = cv2.resize(heat.astype(np.float32), (w, h), interpolation=cv2.INTER_CUBIC)
    colour = cv2.applyColorMap(np.uint8(np.clip(heat, 0, 1) * 255), cv2.COLORMAP_JET)
    colour = cv2.cvtColor(colour, cv2.COLOR_BGR2RGB)
    return np.uint8(np.clip((1 - alpha) * crop + alpha * colour, 0, 255))


def explanation_panel(crop: np.ndarray, heat: np.ndarray, size: int = 224) -> np.ndarray:
    """Crop and overlay side by side, each ``size`` pixels (RGB uint8)."""
    crop = cv2.resize(crop, (size, size), interpolation=cv2.INTER_CUBIC)
    return np.concatenate([crop, overlay(crop, heat)], axis=1)


def png_bytes(rgb: np.ndarray) -> bytes:
    """An RGB uint8 array encoded as PNG."""
    ok, buf = cv2.imencode(".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    if not ok:
        raise RuntimeError("PNG encoding failed")
    return buf.tobytes()


def score_plot(tracks: dict[int, list[tuple[int, float]]], threshold: float, title: str) -> bytes:
    """PNG of per-frame ``p_fake`` for each face track, with the decision threshold."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6, 3), dpi=100)
    ax = fig.add_subplot()
    for track, points in sorted(tracks.items()):
        frames, scores = zip(*sorted(points), strict=True)
        ax.plot(frames, scores, marker="o", markersize=3, label=f"track {track}")
    ax.axhline(threshold, color="grey", linestyle="--", label=f"threshold {threshold:.3f}")
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel("frame")
    ax.set_ylabel("p_fake")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7, loc="best")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def write_bytes(path: Path, data: bytes) -> Path:
    """Write a file, creating its folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path
