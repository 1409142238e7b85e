"""``ffdetect evaluate``: stream a prepared split through a model into result files.

Frame predictions are appended to ``<dataset>_frames.csv`` as they are computed; besides one
batch of images, only two floats per frame are held for the video scores, so memory does not grow
with the images of the dataset. Video scores use the model's
calibration (confidence weights ``conf ** gamma``, METHOD.md section 3).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import torch
from torch.utils.data import DataLoader

from ffdetect.checkpoint.model_format import load_detector
from ffdetect.data.torch_datasets import FaceFrames
from ffdetect.data.transforms import eval_transform
from ffdetect.evaluation.calibration import video_score
from ffdetect.evaluation.metrics import (
    FRAME_COLUMNS,
    OPTIONAL_COLUMN,
    frame_results_path,
    write_results,
)
from ffdetect.models.heads import scores_from_logits


@dataclass
class EvaluatedDataset:
    """One dataset's result file and its size."""

    name: str
    results: Path
    videos: int
    frames: int


def _datasets_in(manifest: Path, split: str) -> list[str]:
    with manifest.open(newline="") as fh:
        return sorted({r["dataset"] for r in csv.DictReader(fh) if r["split"] == split})


@torch.inference_mode()
def evaluate_model(
    model_dir: str | Path,
    data_dir: str | Path,
    split: str,
    out_dir: str | Path,
    frames_per_video: int | None = None,
    batch_size: int = 64,
    num_workers: int = 2,
    device: str | None = None,
) -> list[EvaluatedDataset]:
    """Score every face of ``split`` and write one result CSV (+ frames CSV) per dataset."""
    detector, meta = load_detector(model_dir)
    dev = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    detector.to(dev).eval()
    manifest = Path(data_dir) / "manifest.csv"
    if not manifest.is_file():
        raise FileNotFoundError(f"{manifest} not found: prepare the data with `ffdetect prepare`")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    names = _datasets_in(manifest, split)
    if not names:
        raise ValueError(f"{manifest} has no faces in split {split!r}")
    transform = eval_transform(meta.architecture.img_size)
    gamma = meta.calibration.gamma
    written = []
    for name in names:
        faces = FaceFrames(
            manifest,
            split=split,
            frames_per_video=frames_per_video,
            transform=transform,
            datasets=name,
        )
        loader = DataLoader(faces, batch_size=batch_size, shuffle=False, num_workers=num_workers)
        result_path = out_dir / f"{name}.csv"
        per_video: dict[str, tuple[int, list[float], list[float]]] = {}
        seen = 0
        with frame_results_path(result_path).open("w", newline="") as fh:
            writer = csv.writer(fh, lineterminator="\n")
            writer.writerow([*FRAME_COLUMNS, OPTIONAL_COLUMN])
            for images, labels, videos in loader:
                logits = detector(images.to(dev)).float()
                p_fake, conf = scores_from_logits(logits)
                for k, (video, label, p, c) in enumerate(
                    zip(videos, labels.tolist(), p_fake, conf, strict=True)
                ):
                    writer.writerow(
                        [video, faces.samples[seen + k]["frame"], label, repr(p), repr(c)]
                    )
                    entry = per_video.setdefault(video, (label, [], []))
                    entry[1].append(p)
                    entry[2].append(c)
                seen += len(videos)
        scored = {v: video_score(ps, cs, gamma) for v, (_, ps, cs) in per_video.items()}
        write_results(
            result_path,
            list(per_video),
            [label for label, _, _ in per_video.values()],
            [scored[v][0] for v in per_video],
            [scored[v][1] for v in per_video],
        )
        written.append(EvaluatedDataset(name, result_path, len(per_video), seen))
    return written
