"""Shared fixtures: tiny architectures and the location of ../shared/fixtures."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from ffdetect.checkpoint.metadata import Architecture

SHARED_FIXTURES = Path(__file__).resolve().parents[1].parent / "shared" / "fixtures"


@pytest.fixture
def tiny_arch() -> Architecture:
    """A 2-block, 32-wide ViT on 32 px images: builds and runs in milliseconds."""
    return Architecture(
        size="custom", img_size=32, patch_size=8, embed_dim=32, depth=2, num_heads=2
    )


@pytest.fixture
def shared_fixtures() -> Path:
    """``../shared/fixtures``; tests using it skip when it is absent (a user's fresh clone)."""
    if not SHARED_FIXTURES.is_dir():
        pytest.skip("../shared/fixtures is not present")
    return SHARED_FIXTURES


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)
