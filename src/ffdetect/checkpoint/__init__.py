"""Model files: our safetensors + JSON format (:mod:`.model_format`), its metadata
(:mod:`.metadata`, :mod:`.provenance`), networks built from metadata (:mod:`.networks`), safe
loading (:mod:`.safe_load`) and conversion of foreign checkpoints (:mod:`.convert`). Import from
the submodules; this package imports nothing on its own so that :mod:`ffdetect.models` can depend
on :mod:`.metadata` without an import cycle. Imports between the submodules go one way (no
cycle, not even inside a function): ``model_format`` uses ``convert``, never the reverse.
"""
