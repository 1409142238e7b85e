"""ffdetect's model format: a directory with ``model.safetensors`` and ``ffdetect.json``.

The weights file holds only tensors; the JSON holds :class:`ModelMeta` (architecture, input size,
normalisation, calibration, provenance). Both files are written atomically (temporary file, then
rename), the JSON last, so a reader never sees a half-written model.

Networks are built from metadata by :mod:`.networks`; :func:`load_backbone_weights` also reads
foreign checkpoints through :mod:`.convert`. Imports go one way: this module uses ``convert``,
which never imports this one.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file
from torch import nn

from ffdetect import __version__
from ffdetect.checkpoint.convert import convert_checkpoint
from ffdetect.checkpoint.metadata import ModelMeta
from ffdetect.checkpoint.networks import ModelFormatError, backbone_state, build_model, load_strict
from ffdetect.checkpoint.provenance import default_provenance as default_provenance  # re-export
from ffdetect.models.detector import CompetitiveDetector, Detector, FusedDetector

WEIGHTS_NAME = "model.safetensors"
META_NAME = "ffdetect.json"
#: Deepest nesting of lists and objects accepted in ``ffdetect.json`` (ours nests 4 deep; a
#: deeper document could exhaust the recursion limit of whatever later prints or rewrites it).
MAX_META_DEPTH = 64


def atomic_write(path: Path, write: Callable[[str], object]) -> None:
    """Make ``path`` with ``write(tmp)``, which writes a temporary file in the same folder; the
    temporary is flushed to disk and renamed over ``path``. If ``write`` fails or the process is
    interrupted, the temporary is removed and ``path`` is left as it was."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(tmp)
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def save_model(model: nn.Module, meta: ModelMeta, path: str | Path) -> Path:
    """Write ``model`` (matching ``meta.kind``) and its metadata into the directory ``path``."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    meta.ffdetect_version = __version__
    expected = {"detector": Detector, "competitive": CompetitiveDetector}.get(meta.kind, nn.Module)
    if not isinstance(model, expected):
        raise TypeError(
            f"a {meta.kind!r} model must be a {expected.__name__}, got {type(model).__name__}"
        )
    if isinstance(model, FusedDetector):
        raise TypeError(
            "a FusedDetector is saved as the CompetitiveDetector it views, with kind "
            "'competitive' and fused=True (its state dict has no 'detector' layout)"
        )
    if isinstance(model, Detector) and model.flip_average != meta.flip_average:
        raise ValueError(
            f"the detector's flip_average ({model.flip_average}) differs from the metadata's "
            f"({meta.flip_average}): the saved model would score differently"
        )
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    atomic_write(path / WEIGHTS_NAME, lambda tmp: save_file(state, tmp, metadata={"format": "pt"}))
    text = json.dumps(meta.to_dict(), indent=2)
    atomic_write(path / META_NAME, lambda tmp: Path(tmp).write_text(text + "\n"))
    return path


def read_meta(path: str | Path) -> ModelMeta:
    """The metadata of a model directory."""
    path = _model_dir(path)
    meta_file = path / META_NAME
    if not meta_file.is_file():
        raise ModelFormatError(
            f"{path} is not an ffdetect model (no {META_NAME}); convert foreign checkpoints with "
            "`ffdetect convert`"
        )
    data = _read_json(meta_file)
    try:
        return ModelMeta.from_dict(data)
    except (ValueError, TypeError) as exc:
        raise ModelFormatError(f"{meta_file}: {exc}") from None


def _read_json(path: Path) -> Any:
    """The JSON document in ``path``; any failure (unreadable, not JSON, nested too deep for
    Python's decoder or deeper than :data:`MAX_META_DEPTH`) is a :class:`ModelFormatError`
    naming the file."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except RecursionError:
        raise ModelFormatError(
            f"{path}: not readable JSON (nested deeper than Python can decode)"
        ) from None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ModelFormatError(f"{path}: not readable JSON ({exc})") from None
    if _depth(data) > MAX_META_DEPTH:
        raise ModelFormatError(f"{path}: nested deeper than {MAX_META_DEPTH} levels")
    return data


def _depth(value: Any) -> int:
    """How deeply ``value``'s lists and dicts nest (0 for a scalar), without recursion."""
    deepest, stack = 0, [(value, 0)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict | list):
            deepest = max(deepest, depth + 1)
            stack += [(v, depth + 1) for v in (node.values() if isinstance(node, dict) else node)]
    return deepest


def read_weights(path: Path) -> dict[str, torch.Tensor]:
    """The tensors of a ``model.safetensors`` file; :class:`ModelFormatError` names the file
    when it is missing, truncated or not a safetensors file."""
    if not path.is_file():
        raise ModelFormatError(f"{path.parent} has metadata but no {path.name}")
    try:
        return load_file(str(path))
    except Exception as exc:  # safetensors raises SafetensorError, OSError or ValueError
        raise ModelFormatError(f"{path}: not a readable safetensors file ({exc})") from None


def write_meta(path: str | Path, meta: ModelMeta) -> None:
    """Replace a model directory's metadata (e.g. after calibration), atomically."""
    path = _model_dir(path)
    text = json.dumps(meta.to_dict(), indent=2)
    atomic_write(path / META_NAME, lambda tmp: Path(tmp).write_text(text + "\n"))


def _model_dir(path: str | Path) -> Path:
    path = Path(path)
    return path.parent if path.name in (WEIGHTS_NAME, META_NAME) else path


def load_model(path: str | Path) -> tuple[nn.Module, ModelMeta]:
    """Load any ffdetect model directory as the network its metadata names."""
    path = _model_dir(path)
    meta = read_meta(path)
    weights = path / WEIGHTS_NAME
    state = read_weights(weights)
    model = build_model(meta)
    load_strict(model, state, str(weights))
    model.eval()
    return model, meta


def load_detector(path: str | Path) -> tuple[Detector, ModelMeta]:
    """The deployable detector: a ``detector`` model, or a ``competitive`` one's main branch
    (its fused prediction, a :class:`FusedDetector`, when the metadata sets ``input.fused``)."""
    model, meta = load_model(path)
    if isinstance(model, CompetitiveDetector):
        model = model.fused_detector() if meta.fused else model.main_branch()
    if not isinstance(model, Detector):
        raise ModelFormatError(
            f"{path} holds a bare {meta.kind}, not a detector: fine-tune it with `ffdetect train`"
        )
    return model.with_flip_average(meta.flip_average).eval(), meta


def describe_model(path: str | Path) -> dict[str, dict[str, Any]]:
    """Human-readable facts about a model directory, grouped by section (for ``ffdetect info``)."""
    from safetensors import safe_open

    path = _model_dir(path)
    meta = read_meta(path)
    counts: dict[str, int] = {}
    weights = path / WEIGHTS_NAME
    try:
        with safe_open(str(weights), framework="pt") as fh:
            for key in fh.keys():  # noqa: SIM118 - safe_open is not a dict
                group = key.split(".", 1)[0] if meta.kind != "backbone" else "backbone"
                counts[group] = counts.get(group, 0) + math.prod(fh.get_slice(key).get_shape())
    except Exception as exc:  # safetensors raises SafetensorError, OSError or ValueError
        raise ModelFormatError(f"{weights}: not a readable safetensors file ({exc})") from None
    arch = meta.architecture.to_dict()
    return {
        "model": {
            "kind": meta.kind,
            "task": meta.task,
            "format": meta.format_version,
            "written by ffdetect": meta.ffdetect_version,
        },
        "architecture": arch,
        "parameters": {k: f"{v / 1e6:.2f}M" for k, v in counts.items()}
        | {"total": f"{sum(counts.values()) / 1e6:.2f}M"},
        "input": {
            "size": arch["img_size"],
            "mean": meta.mean,
            "std": meta.std,
            "flip_average": meta.flip_average,
            "fused": meta.fused,
        },
        "calibration": meta.calibration.to_dict(),
        "provenance": meta.provenance,
    }


def load_backbone_weights(
    path: str | Path, shared_rel_pos: str = "copy"
) -> tuple[dict[str, torch.Tensor], ModelMeta]:
    """Backbone weights from any loadable checkpoint: one of our model directories (any kind;
    the main branch of a competitive model) or a foreign file that ``ffdetect convert`` reads
    (``shared_rel_pos``: see :func:`ffdetect.checkpoint.convert.checkpoint_filter_fn`).
    """
    path = Path(path)
    if (_model_dir(path) / META_NAME).is_file():
        model, meta = load_model(path)
        return backbone_state(model), meta
    result = convert_checkpoint(path, shared_rel_pos=shared_rel_pos)
    return backbone_state(result.model), result.meta
