"""Model files: our safetensors + JSON format (:mod:`.model_format`), its metadata
(:mod:`.metadata`), safe loading (:mod:`.safe_load`) and conversion of foreign checkpoints
(:mod:`.convert`). Import from the submodules; this package imports nothing on its own so that
:mod:`ffdetect.models` can depend on :mod:`.metadata` without an import cycle.
"""
