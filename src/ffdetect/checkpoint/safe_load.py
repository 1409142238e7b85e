"""Load foreign PyTorch checkpoints without executing code from the file.

The authors' files pickle tensors next to optimizer state and an OmegaConf config object. A plain
``torch.load`` would run whatever the pickle asks for; here every file goes through PyTorch's
``weights_only`` unpickler. Globals that are plain configuration containers (OmegaConf, argparse,
pathlib, enum and typing objects) are replaced by inert :class:`PickledObject` placeholders that
only record their state; any other global, such as ``os.system`` or ``builtins.eval``, makes the
load fail with :class:`UnsafeCheckpointError` naming it.
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

import torch
from torch.serialization import get_unsafe_globals_in_checkpoint, safe_globals

#: Modules whose objects may be stood in for by inert placeholders (configuration containers).
PLACEHOLDER_MODULE_PREFIXES = ("omegaconf.", "argparse.", "pathlib.", "enum.", "typing.")
#: Individual globals that checkpoints commonly hold and that are harmless to reconstruct.
PLACEHOLDER_GLOBALS = frozenset({"builtins.set", "builtins.frozenset", "collections.defaultdict"})


class UnsafeCheckpointError(RuntimeError):
    """The file asks the unpickler for something other than tensors and plain data."""


class PickledObject:
    """Inert stand-in for a configuration object found in a checkpoint; it runs no code."""

    _qualified_name = "PickledObject"

    def __new__(cls, *args: Any, **kwargs: Any) -> PickledObject:
        instance = object.__new__(cls)
        instance.__dict__["_args"] = args
        return instance

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.__dict__["_kwargs"] = kwargs

    def __setstate__(self, state: Any) -> None:
        self.__dict__["_state"] = state

    def __repr__(self) -> str:
        return f"<placeholder for {self._qualified_name}>"


def _placeholder_for(qualified_name: str) -> type:
    return type("PickledObject", (PickledObject,), {"_qualified_name": qualified_name})


def _is_placeholder_allowed(name: str) -> bool:
    return name in PLACEHOLDER_GLOBALS or name.startswith(PLACEHOLDER_MODULE_PREFIXES)


def _unsafe_globals(path: Path) -> list[str]:
    if not zipfile.is_zipfile(path):
        return []  # legacy format: the weights_only unpickler itself refuses unknown globals
    return get_unsafe_globals_in_checkpoint(path)


def safe_torch_load(path: str | Path) -> Any:
    """Load a ``torch.save`` file holding tensors and plain data, refusing executable content."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    if path.stat().st_size == 0:
        raise UnsafeCheckpointError(f"{path} is empty")
    try:
        names = _unsafe_globals(path)
    except Exception as exc:  # noqa: BLE001 - any parse failure means we will not load it
        raise UnsafeCheckpointError(f"{path} is not a readable PyTorch checkpoint: {exc}") from exc
    refused = sorted(n for n in names if not _is_placeholder_allowed(n))
    if refused:
        raise UnsafeCheckpointError(
            f"refusing to load {path}: it asks to import or call {', '.join(refused)}, which could "
            "execute code. Only tensors and plain configuration objects are accepted."
        )
    placeholders = [(_placeholder_for(n), n) for n in names]
    try:
        with safe_globals(placeholders):
            return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001
        if "Unsupported global" in str(exc) or "Weights only load failed" in str(exc):
            raise UnsafeCheckpointError(
                f"refusing to load {path}: {str(exc).splitlines()[0]}"
            ) from exc
        raise UnsafeCheckpointError(f"{path} is not a readable PyTorch checkpoint: {exc}") from exc
