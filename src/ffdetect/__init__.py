"""ffdetect: face forgery detection with a face-pretrained BEiT v2 backbone.

The method: masked-image-model pre-training on real faces, competitive two-branch fine-tuning
with evidential losses, and confidence-based decisions at inference.

Load a deployable model in one line::

    detector, meta = ffdetect.load_detector("path/to/model")
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from ffdetect.checkpoint.metadata import ModelMeta
    from ffdetect.models.detector import Detector


def load_detector(path: Any) -> tuple[Detector, ModelMeta]:
    """Load the deployable detector of an ffdetect model directory (the main branch, or the
    fused prediction of a competitive model saved with ``fused``)."""
    from ffdetect.checkpoint.model_format import load_detector as _load

    return _load(path)
