"""Networks: BEiT v2 backbones, the deployable detector and the competitive training model."""

from ffdetect.models.backbone import BACKBONE_SIZES, architecture_for, create_backbone
from ffdetect.models.detector import (
    CompetitiveDetector,
    CompetitiveOutput,
    Detector,
    FusedDetector,
)
from ffdetect.models.heads import (
    ClassifierHead,
    Evidence,
    confidence_from_logits,
    evidence_from_logits,
)

__all__ = [
    "BACKBONE_SIZES",
    "ClassifierHead",
    "CompetitiveDetector",
    "CompetitiveOutput",
    "Detector",
    "Evidence",
    "FusedDetector",
    "architecture_for",
    "confidence_from_logits",
    "create_backbone",
    "evidence_from_logits",
]
