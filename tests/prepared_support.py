"""A tiny prepared directory (``ffdetect prepare`` layout) written directly, for CLI tests."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
from PIL import Image

from ffdetect.data.manifest import MANIFEST_COLUMNS


def write_prepared(
    root: Path,
    size: int = 32,
    videos: dict[str, int] | None = None,
    frames: int = 2,
    dataset: str = "tiny",
    seed: int = 0,
    twins: bool = False,
) -> Path:
    """Noise faces where fakes carry a bright square; ``videos`` maps split -> videos (half
    real, half fake). With ``twins`` each fake is its real twin's noise plus the square, named
    like the real-face task's draws (``real/X``, ``fake/X``). Returns ``root`` holding
    ``manifest.csv`` and ``faces/``."""
    videos = videos or {"train": 8, "val": 4, "test": 4}
    rng = np.random.default_rng(seed)
    rows, twin_noise = [], {}
    for split, count in videos.items():
        for v in range(count):
            label = v % 2
            kind = "fake" if label else "real"
            video_id = f"{kind}/{split}_{v // 2:03d}" if twins else f"{split}/{kind}_{v:03d}"
            for frame in range(frames):
                if twins and label:
                    image = twin_noise[(v - 1, frame)].copy()
                else:
                    image = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
                    twin_noise[(v, frame)] = image.copy()
                if label:
                    image[size // 4 : size // 2, size // 4 : size // 2] = 255
                crop = Path("faces") / split / f"{v:03d}_{frame}.png"
                (root / crop).parent.mkdir(parents=True, exist_ok=True)
                Image.fromarray(image).save(root / crop)
                row = dict.fromkeys(MANIFEST_COLUMNS, "")
                row.update(
                    video_id=video_id,
                    dataset=dataset,
                    method="fake" if label else "real",
                    split=split,
                    label=label,
                    frame=frame,
                    crop_path=crop.as_posix(),
                )
                rows.append(row)
    with (root / "manifest.csv").open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=MANIFEST_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    return root
