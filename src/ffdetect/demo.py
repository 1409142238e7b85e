"""``ffdetect demo``: the smallest honest end-to-end run that exists today.

It builds a tiny two-branch model with random weights, keeps its main branch (the deployed part),
scores face photos that installed packages ship, and applies the decision rule. The weights are
untrained, so the verdicts mean nothing about these faces: the demo shows the plumbing only.
"""

from __future__ import annotations

import numpy as np
import torch
from rich.console import Console
from rich.table import Table

from ffdetect.checkpoint.metadata import ModelMeta
from ffdetect.evaluation.calibration import decide
from ffdetect.inference.scoring import score_crops
from ffdetect.models.backbone import architecture_for
from ffdetect.models.detector import CompetitiveDetector
from ffdetect.sample_faces import center_square, lfw_faces, named_photos


def demo_faces() -> dict[str, np.ndarray]:
    """Named face images: two portraits (centre squares) and three small LFW crops."""
    faces = {name: center_square(img) for name, img in named_photos().items()}
    for i, face in enumerate(lfw_faces()[:3]):
        faces[f"lfw_{i}"] = face
    return faces


def run_untrained_demo(seed: int = 0, console: Console | None = None) -> list[dict]:
    """Score the demo faces with an untrained tiny model; returns and prints the rows."""
    console = console or Console()
    torch.manual_seed(seed)
    arch = architecture_for("tiny")
    competitive = CompetitiveDetector.build(arch).eval()
    detector = competitive.main_branch()
    meta = ModelMeta(kind="detector", architecture=arch)
    n_params = sum(p.numel() for p in detector.parameters())
    console.print(
        "[bold yellow]UNTRAINED MODEL[/bold yellow]: a tiny two-branch BEiT v2 "
        f"({n_params / 1e6:.1f}M parameters in the deployed main branch) with random weights. "
        "The scores below test the pipeline, not these faces."
    )
    faces = demo_faces()
    scores = score_crops(detector, meta, list(faces.values()))
    rows = []
    table = Table(title="ffdetect demo (untrained weights)")
    for column in ("face", "input", "p_fake", "confidence", "verdict"):
        table.add_column(column)
    for (name, face), score in zip(faces.items(), scores, strict=True):
        verdict = decide(score.p_fake, score.confidence, meta.calibration)
        rows.append(
            {
                "face": name,
                "p_fake": score.p_fake,
                "confidence": score.confidence,
                "verdict": verdict,
            }
        )
        table.add_row(
            name,
            f"{face.shape[1]}x{face.shape[0]}",
            f"{score.p_fake:.3f}",
            f"{score.confidence:.3f}",
            verdict,
        )
    console.print(table)
    console.print(
        f"decision rule: threshold {meta.calibration.threshold}, c_min {meta.calibration.c_min} "
        "(uncalibrated defaults). Real detection needs a trained model: convert the authors' "
        "checkpoint with `ffdetect convert` or train one (see README)."
    )
    return rows
