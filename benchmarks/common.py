"""Shared helpers of the performance benchmarks: machine facts, matmul peak, timing, results.

Every benchmark measures ratios side by side in one process: the variants are timed in
alternating repeats (:func:`interleaved`) and compared by their medians, because the machine is
shared and absolute times drift. Results go to ``benchmarks/results/<name>.md`` with the machine,
the library versions, the command, the date and the load average before and after.
"""

from __future__ import annotations

import datetime as dt
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch

RESULTS = Path(__file__).resolve().parent / "results"
PEAK_SIZE = 4096


def device() -> torch.device:
    """CUDA when present (benchmarks then use bf16 autocast), else the CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def sync(dev: torch.device) -> None:
    """Wait for queued GPU work so that timings are real (no-op on the CPU)."""
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)


def cpu_model() -> str:
    """The CPU's model name from ``/proc/cpuinfo`` (or what ``platform`` knows)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def load_average() -> str:
    """The 1, 5 and 15 minute load averages, as text."""
    try:
        return ", ".join(f"{v:.2f}" for v in os.getloadavg())
    except OSError:
        return "n/a"


def versions() -> dict[str, str]:
    """Versions of the libraries that decide the speed."""
    out = {"python": platform.python_version(), "torch": torch.__version__}
    for name in ("timm", "onnxruntime", "numpy", "av", "cv2"):
        try:
            module = __import__(name)
            out[name] = str(getattr(module, "__version__", "?"))
        except ImportError:
            out[name] = "not installed"
    return out


def matmul_call(dev: torch.device | None = None) -> Callable[[], None]:
    """A timed call: one ``4096 x 4096`` matmul (fp32; bf16 on CUDA) of preallocated operands.

    It does ``2 * 4096**3`` FLOPs: divide by its seconds for the practical peak.
    """
    dev = dev or device()
    dtype = torch.bfloat16 if dev.type == "cuda" else torch.float32
    a = torch.randn(PEAK_SIZE, PEAK_SIZE, device=dev, dtype=dtype)
    b = torch.randn(PEAK_SIZE, PEAK_SIZE, device=dev, dtype=dtype)

    def run() -> None:
        a @ b
        sync(dev)

    return run


MATMUL_FLOPS = 2 * PEAK_SIZE**3


def matmul_peak(dev: torch.device | None = None, repeats: int = 3) -> float:
    """FLOP/s of a ``4096 x 4096`` matmul (best of ``repeats`` after one warm-up)."""
    run = matmul_call(dev)
    run()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return MATMUL_FLOPS / best


def interleaved(
    variants: dict[str, Callable[[], object]], repeats: int, warmup: int = 1
) -> dict[str, list[float]]:
    """Seconds per call of each variant, timed in alternating rounds (A B C A B C ...).

    ``warmup`` untimed rounds first. Alternating puts every variant under the same background
    load; compare medians.
    """
    for _ in range(warmup):
        for fn in variants.values():
            fn()
    times: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(repeats):
        for name, fn in variants.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return times


def median(values: Sequence[float]) -> float:
    """The median of a non-empty sequence."""
    return float(statistics.median(values))


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A GitHub markdown table; floats get 3 significant digits."""

    def cell(v: object) -> str:
        if isinstance(v, float):
            return f"{v:.3g}" if abs(v) < 1000 else f"{v:.0f}"
        return str(v)

    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


@dataclass
class Report:
    """A results file in the making: title, sections of markdown, and the run's facts."""

    name: str
    title: str
    started: float = field(default_factory=time.perf_counter)
    load_before: str = field(default_factory=load_average)
    sections: list[str] = field(default_factory=list)

    def add(self, text: str) -> None:
        """Append a markdown section and echo it to the terminal."""
        self.sections.append(text.strip())
        print(text.strip(), end="\n\n", flush=True)

    def write(self) -> Path:
        """Write ``benchmarks/results/<name>.md``; returns its path."""
        dev = device()
        facts = {
            "date": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
            "command": " ".join([Path(sys.executable).name, *sys.argv]),
            "machine": f"{cpu_model()}, {os.cpu_count()} CPU cores, torch threads "
            f"{torch.get_num_threads()}",
            "device": torch.cuda.get_device_name(dev) if dev.type == "cuda" else "CPU (no GPU)",
            "versions": ", ".join(f"{k} {v}" for k, v in versions().items()),
            "load average (1, 5, 15 min) before / after": f"{self.load_before} / {load_average()}",
            "wall time": f"{time.perf_counter() - self.started:.0f} s",
        }
        head = "\n".join(f"- {k}: {v}" for k, v in facts.items())
        text = f"# {self.title}\n\n{head}\n\n" + "\n\n".join(self.sections) + "\n"
        RESULTS.mkdir(parents=True, exist_ok=True)
        path = RESULTS / f"{self.name}.md"
        path.write_text(text)
        print(f"wrote {path}")
        return path
