"""Scoring face crops with a deployed detector."""
