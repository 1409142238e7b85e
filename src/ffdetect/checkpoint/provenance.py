"""The provenance record stored in a model's metadata: what made it, when, with which command."""

from __future__ import annotations

import datetime as _dt
import sys
from pathlib import Path
from typing import Any

import torch


def default_provenance(how: str, **extra: Any) -> dict[str, Any]:
    """Provenance record: what made the model, when, with which command line."""
    return {
        "how": how,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "command": " ".join(
            Path(sys.argv[0]).name if i == 0 else a for i, a in enumerate(sys.argv)
        ),
        "torch": torch.__version__,
        **extra,
    }
