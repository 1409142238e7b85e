"""Where the crop is placed: the photo's own landmarks (as training crops once were) or ``detect``.

    python benchmarks/crop_placement.py --model MODEL [--strength 1] [--draws 1000]

The same drawn images (the shipped model's CelebA *validation* photos, each drawn once as a real
and once self-blended at ``--strength``, with the training recipe's look, face size and capture:
:func:`ffdetect.synthesis.real_faces.draw_image`) are scored twice by the model: once from a crop
placed by the landmarks found in the original photo (moved by detector-sized noise; the fake's
crop then sits exactly where the real's does), once from the crop of the face that MTCNN finds in
the drawn image itself, as ``ffdetect detect`` does. A gap between the two AUCs means that the
model leans on where the blend sits in the crop, which no detector reproduces on a forged image.
Prints a Markdown table; bootstrap 95% intervals over photos.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

import numpy as np

from ffdetect.data.detectors import make_detector
from ffdetect.evaluation.decision import bootstrap, rank_auc
from ffdetect.inference.pipeline import DetectionPipeline
from ffdetect.synthesis.real_faces import (
    VAL_FRACTION,
    detect_photos,
    draw_image,
    identity_split,
    jittered,
    model_crop,
    redetect,
)
from ffdetect.synthesis.sources import celeba_photos

SPLIT_SEED = 0  # ``real_faces build``'s default seed


def main(argv: list[str] | None = None) -> None:
    """Score the validation draws both ways and print the table."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--strength", type=float, default=1.0, help="SBI jitter strength")
    parser.add_argument("--draws", type=int, default=1000, help="bootstrap draws")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    pipeline = DetectionPipeline.from_model(args.model)
    size = pipeline.meta.architecture.img_size
    detector = make_detector("mtcnn")
    photos = [
        p for p in celeba_photos() if identity_split(p.identity, VAL_FRACTION, SPLIT_SEED) == "val"
    ]
    rng = np.random.default_rng(args.seed)
    labels, groups, by_photo, by_detect = [], [], [], []
    for g, item in enumerate(detect_photos(photos)):
        seeds = rng.integers(2**31, size=4)
        for label in (0, 1):
            image, face = draw_image(item.photo.rgb(), item.face, label, seeds, args.strength)
            found = redetect(image, face, detector)
            if found is None:
                continue
            placed = model_crop(image, jittered(face, int(seeds[3])), size)
            detected = model_crop(image, found, size)
            from_photo, from_detect = pipeline.scorer([placed, detected])
            by_photo.append(from_photo.p_fake)
            by_detect.append(from_detect.p_fake)
            labels.append(label)
            groups.append(g)
    y = np.asarray(labels)
    scores = {
        "the photo's landmarks (+ noise)": np.asarray(by_photo),
        "MTCNN in the drawn image (detect)": np.asarray(by_detect),
    }

    def aucs(i: np.ndarray) -> dict[str, float]:
        out = {name: rank_auc(y[i], p[i]) for name, p in scores.items()}
        return {**out, "difference (paired)": float(np.subtract(*out.values()))}

    point, interval = aucs(np.arange(len(y))), bootstrap(aucs, np.asarray(groups), args.draws)
    lines = [
        f"`python {shlex.join(sys.argv)}`: {len(set(groups))} CelebA validation photos, "
        f"{len(y)} crops, SBI strength {args.strength:g}",
        "",
        "| crop placed by | AUC [95% CI] | mean p_fake, real | mean p_fake, fake |",
        "| --- | --- | --- | --- |",
    ]
    for name, value in point.items():
        lo, hi = interval[name]
        means = (
            f"{scores[name][y == 0].mean():.3f} | {scores[name][y == 1].mean():.3f}"
            if name in scores
            else "- | -"
        )
        lines.append(f"| {name} | {value:.3f} [{lo:.3f}, {hi:.3f}] | {means} |")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
