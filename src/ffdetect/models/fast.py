"""Inference-only variants of a loaded detector: fused attention, compiled, int8.

None of these changes the checkpoint format or the parameter names of the model they are given:
:func:`for_inference` works in place on a model that is only used for inference, and
:func:`quantize_int8` returns a new model and leaves its input untouched.
"""

from __future__ import annotations

import copy
import warnings
from collections.abc import Callable

import torch
from torch import nn

from ffdetect.models.detector import Detector

Forward = Callable[[torch.Tensor], torch.Tensor]


def _attention_modules(model: nn.Module) -> list[nn.Module]:
    return [m for m in model.modules() if hasattr(m, "fused_attn") and hasattr(m, "qkv")]


def use_fused_attention(model: nn.Module, enabled: bool = True) -> int:
    """Switch timm's attention modules to ``F.scaled_dot_product_attention`` (or back).

    The fused kernel computes the same softmax attention (with the relative position bias as an
    additive mask) without materialising the attention matrix. Returns the number of modules set.
    """
    modules = _attention_modules(model)
    for module in modules:
        module.fused_attn = enabled
    return len(modules)


def for_inference(detector: Detector, compile: bool = False) -> Forward:
    """``detector`` ready to score: eval mode, no autograd state, fused attention.

    ``compile=True`` also wraps it in :func:`torch.compile` with inductor's weight freezing
    (constant-folded, pre-packed weights and fused epilogues; tens of seconds to compile per
    input shape, so only worth it for long runs). Returns the callable to use for forward passes.
    """
    detector.eval().requires_grad_(False)
    use_fused_attention(detector)
    if not compile:
        return detector
    import torch._inductor.config as inductor_config

    inductor_config.freezing = True
    return torch.compile(detector, dynamic=False)


def _fold_qkv_bias(attention: nn.Module) -> None:
    """Move BEiT's separate q/v biases into the ``qkv`` linear layer (same arithmetic)."""
    q_bias = getattr(attention, "q_bias", None)
    if q_bias is None:
        return
    bias = torch.cat((q_bias.detach(), attention.k_bias.detach(), attention.v_bias.detach()))
    attention.qkv.bias = nn.Parameter(bias, requires_grad=False)
    attention.q_bias = None
    attention.v_bias = None


def quantize_int8(detector: Detector) -> Detector:
    """A copy of ``detector`` with dynamically quantized int8 linear layers (CPU only).

    Weights are int8 per output channel; activations are quantized per batch at run time
    (PyTorch's ``quantize_dynamic``, fbgemm kernels), in every backbone the detector scores
    with (both branches of a :class:`FusedDetector`). The head stays fp32. The result is for
    inference only and is never saved: the fp32 model remains the checkpoint and the default.
    """
    if any(t.device.type != "cpu" for t in detector.parameters()):
        raise ValueError("int8 scoring runs on the CPU only; move the model to the CPU first")
    model = copy.deepcopy(detector).eval().requires_grad_(False)
    for attention in _attention_modules(model):
        _fold_qkv_bias(attention)
    with warnings.catch_warnings():  # torch.ao.quantization warns that it moves to torchao
        warnings.simplefilter("ignore")
        from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic

        for name in ("backbone", "competitor"):
            if isinstance(getattr(model, name, None), nn.Module):
                quantized = quantize_dynamic(
                    getattr(model, name),
                    {nn.Linear: per_channel_dynamic_qconfig},
                    dtype=torch.qint8,
                )
                setattr(model, name, quantized)
    use_fused_attention(model)
    return model
