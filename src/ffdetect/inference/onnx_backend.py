"""ONNX export of a deployed detector and scoring with ONNX Runtime.

The exported graph takes normalised images ``(N, 3, S, S)`` (dynamic batch) and returns the
logits ``(N, 2)``; preprocessing and the evidential confidence stay in Python, shared with the
PyTorch path, so both backends answer the same question. Export tries PyTorch's dynamo exporter
first and falls back to the legacy TorchScript exporter where dynamo fails. The export is
written to a temporary file, checked, flushed to disk and only then renamed over the target, so
an interrupted or failed export leaves the previous file unchanged; an ONNX file that ONNX
Runtime cannot load (truncated, corrupt) is an :class:`OnnxModelError` naming it.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from ffdetect.checkpoint.metadata import ModelMeta
from ffdetect.checkpoint.model_format import atomic_write
from ffdetect.errors import UserError
from ffdetect.inference.preprocess import crops_to_tensor
from ffdetect.inference.scoring import FaceScore, as_meta_scores
from ffdetect.models.detector import Detector
from ffdetect.models.heads import scores_from_logits

INPUT_NAME = "images"
OUTPUT_NAME = "logits"
OPSET = 17
FLIP_KEY = "ffdetect.flip_average"  # ONNX metadata: the graph scores each image with its mirror
FUSED_KEY = "ffdetect.fused"  # ONNX metadata: the graph scores with both branches' fusion


class OnnxExportError(RuntimeError):
    """Neither exporter produced a model that matches PyTorch."""


class OnnxModelError(UserError, RuntimeError):
    """An ONNX file that ONNX Runtime cannot load (truncated, corrupt, not ONNX)."""


def _export_dynamo(detector: Detector, example: torch.Tensor, path: Path) -> None:
    batch = torch.export.Dim("batch", min=1, max=1024)
    torch.onnx.export(
        detector,
        (example,),
        str(path),
        input_names=[INPUT_NAME],
        output_names=[OUTPUT_NAME],
        dynamic_shapes={"images": {0: batch}},
        opset_version=max(OPSET, 18),
        dynamo=True,
        external_data=False,
    )


def _export_legacy(detector: Detector, example: torch.Tensor, path: Path) -> None:
    torch.onnx.export(
        detector,
        (example,),
        str(path),
        input_names=[INPUT_NAME],
        output_names=[OUTPUT_NAME],
        dynamic_axes={INPUT_NAME: {0: "batch"}, OUTPUT_NAME: {0: "batch"}},
        opset_version=OPSET,
        dynamo=False,
    )


def export_onnx(
    detector: Detector, meta: ModelMeta, path: str | Path, exporter: str = "auto"
) -> tuple[Path, str, float]:
    """Export ``detector`` to ``path``; returns the path, the exporter used and the largest
    ``|p_fake|`` difference to PyTorch on a random batch of 3 (checked to be < 1e-4).

    ``path`` is replaced atomically: on any failure it keeps its previous content (or stays
    absent) and no temporary file is left.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    detector = as_meta_scores(detector, meta).float().cpu()
    order = {"auto": ("dynamo", "legacy"), "dynamo": ("dynamo",), "legacy": ("legacy",)}[exporter]
    outcome: list[tuple[str, float]] = []
    atomic_write(
        path, lambda tmp: outcome.append(_export_checked(detector, meta, Path(tmp), order))
    )
    used, diff = outcome[0]
    return path, used, diff


def _export_checked(
    detector: Detector, meta: ModelMeta, path: Path, order: Sequence[str]
) -> tuple[str, float]:
    """Write ``path`` with the first exporter of ``order`` whose graph matches PyTorch; returns
    that exporter's name and the difference. Raises :class:`OnnxExportError` when none does."""
    size = meta.architecture.img_size
    example = torch.randn(2, 3, size, size)
    errors = []
    for name in order:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                (_export_dynamo if name == "dynamo" else _export_legacy)(detector, example, path)
            diff = _check(detector, path, size)
        except Exception as exc:  # noqa: BLE001 - try the next exporter
            errors.append(f"{name}: {type(exc).__name__}: {str(exc).splitlines()[0][:300]}")
            continue
        if diff < 1e-4:
            _record_scoring(path, meta)
            return name, diff
        errors.append(f"{name}: p_fake differs from PyTorch by {diff:.2e}")
    raise OnnxExportError("ONNX export failed; " + "; ".join(errors))


def _scoring(meta: ModelMeta) -> dict[str, str]:
    """How ``meta`` scores a face, as the ONNX metadata records it."""
    return {FLIP_KEY: str(meta.flip_average).lower(), FUSED_KEY: str(meta.fused).lower()}


def _record_scoring(path: Path, meta: ModelMeta) -> None:
    """Store how the graph scores (mirror averaging, fusion) in the ONNX file, so a scorer can
    refuse a stale export."""
    import onnx

    model = onnx.load(str(path))
    for key, value in _scoring(meta).items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.save(model, str(path))


def _check(detector: Detector, path: Path, size: int) -> float:
    images = torch.randn(3, 3, size, size)
    with torch.inference_mode():
        ref = torch.softmax(detector(images), -1)[:, 1].numpy()
    logits = _session(path).run([OUTPUT_NAME], {INPUT_NAME: images.numpy()})[0]
    got = torch.softmax(torch.from_numpy(logits), -1)[:, 1].numpy()
    return float(np.abs(ref - got).max())


def _session(path: str | Path, threads: int | None = None):
    try:
        import onnxruntime as ort
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise RuntimeError(
            "the ONNX backend needs onnxruntime: pip install 'ffdetect[onnx]'"
        ) from exc
    opts = ort.SessionOptions()
    if threads:
        opts.intra_op_num_threads = threads
    try:
        return ort.InferenceSession(
            str(path), sess_options=opts, providers=["CPUExecutionProvider"]
        )
    except Exception as exc:  # noqa: BLE001 - onnxruntime's own types (InvalidProtobuf, Fail...)
        reason = str(exc).strip().splitlines()[0].rsplit("failed:", 1)[-1].strip()
        raise OnnxModelError(
            f"{path}: not a readable ONNX model, truncated or corrupt ({reason}); "
            "make it again with `ffdetect export`"
        ) from None


class OnnxScorer:
    """Scores RGB uint8 crops with an exported model; the same answers as ``score_crops``."""

    def __init__(self, path: str | Path, meta: ModelMeta, batch_size: int = 32) -> None:
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"{path} not found: make it with `ffdetect export --onnx`")
        self.session = _session(path)
        recorded = self.session.get_modelmeta().custom_metadata_map
        for key, expected in _scoring(meta).items():
            stored = recorded.get(key, "false")  # exports that predate a key score without it
            if stored != expected:
                name = key.removeprefix("ffdetect.")
                raise ValueError(
                    f"{path} was exported with {name} {stored} but the model says {expected}: "
                    "export it again with `ffdetect export`"
                )
        self.meta = meta
        self.batch_size = batch_size

    def __call__(self, crops: Sequence[np.ndarray]) -> list[FaceScore]:
        """One :class:`FaceScore` per crop."""
        scores: list[FaceScore] = []
        for start in range(0, len(crops), self.batch_size):
            images = crops_to_tensor(crops[start : start + self.batch_size], self.meta).numpy()
            logits = torch.from_numpy(self.session.run([OUTPUT_NAME], {INPUT_NAME: images})[0])
            p_fake, conf = scores_from_logits(logits)
            scores.extend(FaceScore(p, c) for p, c in zip(p_fake, conf, strict=True))
        return scores
