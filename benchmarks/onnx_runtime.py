"""ONNX Runtime vs PyTorch for the deployed detector, batch 1 and 32.

    python benchmarks/onnx_runtime.py [--sizes tiny base] [--repeats 3]

The detector (random weights, 224 px) is exported with :func:`ffdetect.inference.onnx_backend.
export_onnx` (what ``ffdetect export`` runs) and scored on the same face photos by PyTorch
(fused attention, inference mode), by ONNX Runtime (CPU provider, all cores) and by ONNX
Runtime after its dynamic int8 quantization of the matmul weights
(``onnxruntime.quantization.quantize_dynamic``). Frames/s are medians of alternating rounds;
``p_fake diff`` is the largest difference to PyTorch fp32.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import Report, interleaved, markdown_table, median  # noqa: E402
from inference import BATCH, SINGLE_FRAMES, batched, face_images, one_at_a_time  # noqa: E402

from ffdetect.checkpoint.metadata import ModelMeta  # noqa: E402
from ffdetect.inference.onnx_backend import INPUT_NAME, OUTPUT_NAME, export_onnx  # noqa: E402
from ffdetect.inference.onnx_backend import _session as onnx_session  # noqa: E402
from ffdetect.inference.preprocess import crops_to_tensor  # noqa: E402
from ffdetect.models.backbone import architecture_for  # noqa: E402
from ffdetect.models.detector import Detector  # noqa: E402
from ffdetect.models.fast import for_inference  # noqa: E402


class OrtModel:
    """An ONNX Runtime session called like a PyTorch model (tensor in, logits tensor out)."""

    def __init__(self, path: Path) -> None:
        self.session = onnx_session(path)

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        feeds = {INPUT_NAME: images.numpy()}
        return torch.from_numpy(self.session.run([OUTPUT_NAME], feeds)[0])


def quantized_copy(path: Path) -> Path:
    """ONNX Runtime's dynamic int8 quantization of ``path`` (weights of MatMul / Gemm)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    out = path.with_name(path.stem + "_int8.onnx")
    quantize_dynamic(str(path), str(out), weight_type=QuantType.QInt8)
    return out


def bench_size(size: str, repeats: int, work: Path, report: Report) -> list[list[object]]:
    """Rows of the table for one size."""
    arch = architecture_for(size)
    meta = ModelMeta(architecture=arch)
    torch.manual_seed(0)
    detector = Detector.build(arch)
    deployed = for_inference(detector)
    start = time.perf_counter()
    path, exporter, diff = export_onnx(detector, meta, work / f"{size}.onnx")
    report.add(
        f"{size}: exported with the {exporter} exporter in {time.perf_counter() - start:.0f} s "
        f"(export check: p_fake diff {diff:.1e})"
    )
    models = {"PyTorch": deployed, "ONNX Runtime": OrtModel(path)}
    models["ONNX Runtime int8"] = OrtModel(quantized_copy(path))
    images = crops_to_tensor(face_images(BATCH, arch.img_size), meta)
    with torch.inference_mode():
        reference = torch.softmax(deployed(images), -1)[:, 1].numpy()
    calls, frames, diffs = {}, {}, {}
    for name, model in models.items():
        with torch.inference_mode():
            p = torch.softmax(model(images), -1)[:, 1].numpy()
        diffs[name] = float(np.abs(p - reference).max())
        calls[f"{name}, batch 1"] = one_at_a_time(model, images[:SINGLE_FRAMES])
        frames[f"{name}, batch 1"] = SINGLE_FRAMES
        calls[f"{name}, batch {BATCH}"] = batched(model, images, bf16=False)
        frames[f"{name}, batch {BATCH}"] = BATCH
    times = interleaved(calls, repeats)
    rows = []
    for name in calls:
        backend, batch = name.rsplit(", ", 1)
        fps = frames[name] / median(times[name])
        torch_fps = frames[name] / median(times[f"PyTorch, {batch}"])
        rounds = " ".join(f"{frames[name] / t:.2f}" for t in times[name])
        rows.append(
            [size, backend, batch, f"{fps:.2f}", f"{fps / torch_fps:.2f}x", f"{diffs[backend]:.1e}"]
            + [rounds]
        )
    return rows


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark and write ``benchmarks/results/onnx.md``."""
    warnings.simplefilter("ignore")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", default=["tiny", "base"])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    report = Report("onnx", "ONNX Runtime vs PyTorch for the deployed detector")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for size in args.sizes:
            rows += bench_size(size, args.repeats, Path(tmp), report)
    report.add(
        "## Frames/s at 224 px\n\n"
        + markdown_table(
            ["size", "backend", "batch", "frames/s", "vs PyTorch", "p_fake diff", "rounds"], rows
        )
    )
    report.write()


if __name__ == "__main__":
    main()
