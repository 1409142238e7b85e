"""Self-supervised pre-training on real faces (METHOD.md section 4): masked image modelling."""

from ffdetect.pretrain.config import PretrainConfig
from ffdetect.pretrain.masking import BlockMaskGenerator
from ffdetect.pretrain.model import MaskedImageModel, encode_masked

__all__ = ["BlockMaskGenerator", "MaskedImageModel", "PretrainConfig", "encode_masked"]
