"""``ffdetect evaluate``: stream a prepared split through a model into result files.

Frame predictions are appended to ``<dataset>_frames.csv`` as they are computed; besides one
batch of images, only two floats per frame are held for the video scores, so memory does not grow
with the images of the dataset.

The video score of ``<dataset>.csv``, and of the AUC, AP and EER that ``evaluate`` reports first,
is the plain mean of frame ``p_fake`` (gamma 0, METHOD.md section 2): what the authors and the
field report, so figures compare with papers whatever the model's calibration. Beside it,
:func:`evaluation_rows` reports the confidence-weighted score (weights ``conf ** gamma`` with the
calibration's gamma, METHOD.md section 3), the score ``detect`` decides on; the calibrated
threshold and abstention level apply to that one.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader

from ffdetect.checkpoint.metadata import Calibration
from ffdetect.checkpoint.model_format import load_detector
from ffdetect.data.torch_datasets import FaceFrames
from ffdetect.data.transforms import eval_transform
from ffdetect.evaluation.calibration import aggregate_frames, video_score
from ffdetect.evaluation.metrics import (
    FRAME_COLUMNS,
    OPTIONAL_COLUMN,
    Results,
    Row,
    evaluate_results,
    frame_results_path,
    read_results,
    write_results,
)
from ffdetect.models.heads import scores_from_logits

#: Gamma of the reported video score: the plain mean of frame ``p_fake``.
PLAIN_MEAN_GAMMA = 0.0


@dataclass
class EvaluatedDataset:
    """One dataset's result file and its size."""

    name: str
    results: Path
    videos: int
    frames: int


def _datasets_in(manifest: Path, split: str) -> list[str]:
    from ffdetect.data.manifest import read_manifest  # checks the columns, names the file

    return sorted({r["dataset"] for r in read_manifest(manifest) if r["split"] == split})


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
    """Score every face of ``split`` and write one result CSV (+ frames CSV) per dataset.

    The result CSV's ``predict`` is the plain mean of the video's frame ``p_fake`` and its
    ``confidence`` the plain mean of the frame confidences; the frames CSV keeps both per frame.
    """
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
        scored = {v: video_score(ps, cs, PLAIN_MEAN_GAMMA) for v, (_, ps, cs) in per_video.items()}
        write_results(
            result_path,
            list(per_video),
            [label for label, _, _ in per_video.values()],
            [scored[v][0] for v in per_video],
            [scored[v][1] for v in per_video],
        )
        written.append(EvaluatedDataset(name, result_path, len(per_video), seen))
    return written


def weighted_name(name: str, gamma: float) -> str:
    """Report name of a dataset's confidence-weighted rows."""
    return f"{name} [confidence-weighted, gamma={gamma:g}]"


def confidence_weighted(results: Results, gamma: float) -> Results:
    """The same videos scored by the confidence-weighted mean of their frames (``conf ** gamma``
    weights), recomputed from the frames file; ``results`` itself when it has no frame
    confidences."""
    frames = results.frames
    if frames is None or frames.confidences is None:
        return results
    names, scores, confs = aggregate_frames(frames.videos, frames.scores, frames.confidences, gamma)
    label_of = dict(zip(results.videos.tolist(), results.labels.tolist(), strict=True))
    return Results(
        name=results.name,
        videos=np.array(names, dtype=object),
        labels=np.array([label_of[n] for n in names], dtype=results.labels.dtype),
        scores=scores,
        confidences=confs,
        frames=frames,
        path=results.path,
    )


def evaluation_rows(result_paths: list[Path], calibration: Calibration) -> list[Row]:
    """The report rows of ``ffdetect evaluate``, per dataset: the plain-mean rows (AUC, AP, EER
    comparable with papers), then, when the calibration's gamma is not 0, the
    confidence-weighted rows; the calibrated threshold and ``c_min`` go with the score they were
    chosen for (the weighted one, or the plain mean when gamma is 0)."""
    gamma = calibration.gamma
    calibrated = {"threshold": calibration.threshold, "c_min": calibration.c_min}
    rows: list[Row] = []
    for path in result_paths:
        results = read_results(path)
        weighted = results if gamma == PLAIN_MEAN_GAMMA else confidence_weighted(results, gamma)
        if weighted is results:  # gamma 0, or no frame confidences: a single video score
            rows += evaluate_results(results, **calibrated)
            continue
        weighted.name = weighted_name(results.name, gamma)
        rows += evaluate_results(results) + evaluate_results(weighted, **calibrated)
    return rows
