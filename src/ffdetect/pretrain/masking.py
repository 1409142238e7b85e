"""BEiT's block-wise masking of a patch grid, deterministic given a NumPy generator.

Random rectangles (area at least ``min_patches``, aspect ratio drawn log-uniformly in
``[min_aspect, max_aspect]``) are added until ``round(ratio * H * W)`` patches are masked. BEiT's
generator may stop a few patches short when no further rectangle fits; here the remainder is
filled with unmasked neighbours of masked patches, so every mask has exactly the target count
(fixed-size targets, equal work per sample) and stays block-shaped.
"""

from __future__ import annotations

import math

import numpy as np


class BlockMaskGenerator:
    """Draws boolean ``(height, width)`` masks; ``True`` marks a masked patch."""

    def __init__(
        self,
        grid: tuple[int, int],
        ratio: float = 0.4,
        min_patches: int = 4,
        min_aspect: float = 0.3,
        max_aspect: float | None = None,
    ) -> None:
        if not 0.0 < ratio < 1.0:
            raise ValueError(f"mask ratio must be in (0, 1), got {ratio}")
        self.height, self.width = grid
        self.num_masked = max(1, int(round(ratio * self.height * self.width)))
        self.min_patches = min_patches
        max_aspect = max_aspect or 1.0 / min_aspect
        self.log_aspect = (math.log(min_aspect), math.log(max_aspect))

    def _add_block(self, mask: np.ndarray, budget: int, rng: np.random.Generator) -> int:
        """Try (10 times) to mask one new rectangle adding at most ``budget`` patches."""
        for _ in range(10):
            area = rng.uniform(min(self.min_patches, budget), budget)
            aspect = math.exp(rng.uniform(*self.log_aspect))
            h = int(round(math.sqrt(area * aspect)))
            w = int(round(math.sqrt(area / aspect)))
            if not (0 < h < self.height and 0 < w < self.width):
                continue
            top = int(rng.integers(0, self.height - h + 1))
            left = int(rng.integers(0, self.width - w + 1))
            window = mask[top : top + h, left : left + w]
            added = h * w - int(window.sum())
            if 0 < added <= budget:
                window[...] = True
                return added
        return 0

    def _fill(self, mask: np.ndarray, missing: int, rng: np.random.Generator) -> None:
        """Mask ``missing`` more patches, preferring neighbours of masked ones."""
        for _ in range(missing):
            grown = np.zeros_like(mask)
            grown[1:] |= mask[:-1]
            grown[:-1] |= mask[1:]
            grown[:, 1:] |= mask[:, :-1]
            grown[:, :-1] |= mask[:, 1:]
            candidates = np.flatnonzero(grown & ~mask)
            if candidates.size == 0:
                candidates = np.flatnonzero(~mask)
            mask.flat[rng.choice(candidates)] = True

    def __call__(self, rng: np.random.Generator) -> np.ndarray:
        """One mask with exactly ``self.num_masked`` masked patches."""
        mask = np.zeros((self.height, self.width), dtype=bool)
        count = 0
        failures = 0
        while count < self.num_masked and failures < 3:
            added = self._add_block(mask, self.num_masked - count, rng)
            count += added
            failures = 0 if added else failures + 1
        if count < self.num_masked:
            self._fill(mask, self.num_masked - count, rng)
        return mask
