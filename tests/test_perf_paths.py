"""The fast paths keep the answers: fused / batched inference vs the plain reference, int8,
face following between frames, pipelined detection, streamed decoding."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from ffdetect.checkpoint.metadata import Architecture
from ffdetect.data.video import iter_frames, read_frames
from ffdetect.inference.pipeline import Background, FrameFaces
from ffdetect.models.detector import Detector
from ffdetect.models.fast import _fold_qkv_bias, for_inference, quantize_int8
from test_detect_helpers import photo, save_tiny_model, small_video, stub_pipeline

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from reference_model import plain_copy  # noqa: E402

ARCH = Architecture(size="custom", img_size=32, patch_size=8, embed_dim=48, depth=2, num_heads=3)


def _spread_detector() -> Detector:
    """A random detector whose p_fake spreads over (0, 1) rather than sitting at 0.5."""
    detector = Detector.build(ARCH).eval()
    with torch.no_grad():
        for p in detector.parameters():
            p.add_(torch.randn_like(p) * 0.05)
        detector.head.fc.weight.mul_(20)
    return detector


def _p_fake(model, images: torch.Tensor) -> torch.Tensor:
    with torch.inference_mode():
        return torch.softmax(model(images), -1)[:, 1]


def test_deployed_batch_matches_plain_reference_one_frame_at_a_time() -> None:
    detector = _spread_detector()
    images = torch.randn(16, 3, ARCH.img_size, ARCH.img_size)
    reference = plain_copy(detector, ARCH)
    ref = torch.cat([_p_fake(reference, images[i : i + 1]) for i in range(16)])
    fast = _p_fake(for_inference(detector), images)
    assert ref.std() > 0.05  # the check means something: scores are spread
    assert (fast - ref).abs().max() < 1e-4


def test_folding_qkv_bias_is_exact_and_int8_copy_leaves_the_model_alone() -> None:
    detector = _spread_detector()
    before = {k: v.clone() for k, v in detector.state_dict().items()}
    images = torch.randn(8, 3, ARCH.img_size, ARCH.img_size)
    ref = _p_fake(detector, images)
    folded = Detector.build(ARCH).eval()
    folded.load_state_dict(detector.state_dict())
    for block in folded.backbone.blocks:
        _fold_qkv_bias(block.attn)
    assert (_p_fake(folded, images) - ref).abs().max() < 1e-6
    int8 = quantize_int8(detector)
    assert (_p_fake(int8, images) - ref).abs().max() < 0.05
    assert all(torch.equal(v, before[k]) for k, v in detector.state_dict().items())
    assert detector.backbone.blocks[0].attn.q_bias is not None


def test_mtcnn_follows_a_face_into_a_moved_frame() -> None:
    from ffdetect.data.detectors import make_detector

    detector = make_detector("mtcnn")
    img = photo(240)
    (face,) = [f for f in detector.detect(img) if f.score > 0.9]
    moved = np.roll(img, (8, 12), axis=(0, 1))
    (near,) = detector.detect_near(moved, [face.box])
    shift = np.array(near.box) - np.array(face.box)
    assert np.allclose(shift, [12, 8, 12, 8], atol=6)
    assert np.abs(near.landmarks - face.landmarks - (12, 8)).max() < 6
    assert detector.detect_near(moved, []) == []


@pytest.mark.parametrize("detect_every", [1, 3])
def test_pipelined_and_sequential_runs_agree(tmp_path: Path, detect_every: int) -> None:
    model = save_tiny_model(tmp_path / "m")
    video = small_video(tmp_path / "v.mp4", frames=8)
    results = []
    for pipelined in (False, True):
        pipeline = stub_pipeline(model, frames=6, pipelined=pipelined, batch_size=4)
        pipeline.options.detect_every = detect_every
        results.append(pipeline.run(video))
        assert set(pipeline.stage_seconds) == {"decode", "detect", "align", "model"}
        assert pipeline.stage_seconds["model"] > 0
    seq, pipe = results
    assert seq.error is None and pipe.error is None
    assert [(f.frame, f.track) for f in seq.faces] == [(f.frame, f.track) for f in pipe.faces]
    assert np.allclose([f.p_fake for f in seq.faces], [f.p_fake for f in pipe.faces], atol=1e-5)


def test_background_iterator_reraises_and_stops_early() -> None:
    def broken():
        yield 1
        raise ValueError("boom")

    items = Background(broken())
    assert next(items) == 1
    with pytest.raises(ValueError, match="boom"):
        next(items)

    endless = Background(iter(range(10**9)), prefetch=2)
    assert next(endless) == 0
    endless.close()
    assert not endless._thread.is_alive()
    assert FrameFaces(0, [], []).scores == []


def test_iter_frames_streams_what_read_frames_returns(tmp_path: Path) -> None:
    video = small_video(tmp_path / "v.mp4", frames=6)
    streamed = list(iter_frames(video, [4, 0, 2, 99]))
    assert [i for i, _ in streamed] == [0, 2, 4]
    whole = read_frames(video, [0, 2, 4])
    assert all(np.array_equal(whole[i], rgb) for i, rgb in streamed)


def test_int8_backend_scores_like_fp32(tmp_path: Path) -> None:
    from ffdetect.inference.pipeline import DetectionPipeline, DetectOptions

    model = save_tiny_model(tmp_path / "m")
    options = DetectOptions(aligned=True)
    crop = photo(64)[:, :64]
    fp32 = DetectionPipeline.from_model(model, options).run_image(crop)
    int8 = DetectionPipeline.from_model(model, options, backend="int8").run_image(crop)
    assert abs(fp32.faces[0].p_fake - int8.faces[0].p_fake) < 0.05
    with pytest.raises(ValueError, match="int8"):
        DetectionPipeline.from_model(model, options, backend="tpu")


def test_cpu_bf16_training_step_is_opt_in_and_learns() -> None:
    from ffdetect.losses.competitive import CompetitiveLoss
    from ffdetect.models.detector import CompetitiveDetector
    from ffdetect.train.config import OptimConfig, RunConfig, ScheduleConfig
    from ffdetect.train.engine import StepContext, autocast, cpu_has_native_bf16, train_one_epoch
    from ffdetect.train.optim import build_optimizer, build_scheduler

    cpu = torch.device("cpu")
    assert RunConfig().cpu_bf16 is False  # fp32 stays the default
    with autocast(cpu, enabled=True):  # run.amp alone never switches a CPU to bf16
        assert not torch.is_autocast_enabled("cpu")
    if not cpu_has_native_bf16():
        pytest.skip("this CPU has no native bf16: run.cpu_bf16 stays fp32 here")
    with autocast(cpu, enabled=False, cpu_bf16=True):
        assert torch.is_autocast_enabled("cpu")
    torch.manual_seed(0)
    model = CompetitiveDetector.build(ARCH)
    images, labels = torch.randn(8, 3, 32, 32), torch.arange(8) % 2
    optimizer = build_optimizer(model, OptimConfig())
    scheduler = build_scheduler(optimizer, ScheduleConfig(), steps_per_epoch=10)
    before = model.main.patch_embed.proj.weight.detach().clone()
    ctx = StepContext(0, 1, 10, 0, cpu, cpu_bf16=True)
    train_one_epoch(
        model, CompetitiveLoss(), [(images, labels, list("abcdefgh"))], optimizer, scheduler, ctx
    )
    after = model.main.patch_embed.proj.weight
    assert after.dtype == torch.float32 and torch.isfinite(after).all()
    assert not torch.equal(before, after)  # fp32 master weights were updated
