"""The fast paths keep the answers: fused / batched inference vs the plain reference, int8,
face following between frames, pipelined detection, streamed decoding."""

from __future__ import annotations

import copy
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from ffdetect.checkpoint.metadata import Architecture
from ffdetect.data.video import iter_frames, read_frames
from ffdetect.inference.pipeline import Background, FrameFaces
from ffdetect.models.detector import CompetitiveDetector, Detector
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


def test_fused_model_through_the_pipeline_and_int8(tmp_path: Path) -> None:
    """A model saved with ``fused`` is scored by its fusion in ``detect``/``serve``'s pipeline,
    fp32 and int8 (both branches quantized), not by its main branch."""
    from ffdetect.checkpoint.metadata import ModelMeta
    from ffdetect.checkpoint.model_format import save_model
    from ffdetect.inference.pipeline import DetectionPipeline, DetectOptions

    main = _spread_detector()
    competitor = copy.deepcopy(main.backbone)
    with torch.no_grad():
        for p in competitor.parameters():
            p.add_(torch.randn_like(p) * 0.01)
    model = CompetitiveDetector(main.backbone, competitor, main.head).eval()
    fused_meta = ModelMeta(kind="competitive", architecture=ARCH, fused=True)
    fused_dir = save_model(model, fused_meta, tmp_path / "fused")
    main_dir = save_model(model, ModelMeta(kind="competitive", architecture=ARCH), tmp_path / "m")
    options = DetectOptions(aligned=True)
    crops = [np.ascontiguousarray(photo(96)[:, i : i + 64]) for i in range(0, 40, 8)]

    def scores(model_dir: Path, backend: str = "torch") -> np.ndarray:
        run = DetectionPipeline.from_model(model_dir, options, backend=backend)
        return np.array([run.run_image(c).faces[0].p_fake for c in crops])

    fused, int8, main_only = scores(fused_dir), scores(fused_dir, "int8"), scores(main_dir)
    int8_model = quantize_int8(model.fused_detector())
    for branch in (int8_model.backbone, int8_model.competitor):
        assert not any(type(m) is torch.nn.Linear for m in branch.modules())
    assert fused.max() - fused.min() > 0.05  # scores that move, so the comparison means something
    assert np.abs(fused - int8).max() < 0.05
    assert np.abs(fused - main_only).max() > 0.01  # the fusion, not the main branch


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
    from ffdetect.checkpoint.metadata import ModelMeta
    from ffdetect.checkpoint.model_format import save_model
    from ffdetect.inference.pipeline import DetectionPipeline, DetectOptions

    torch.manual_seed(0)
    model = save_model(_spread_detector(), ModelMeta(architecture=ARCH), tmp_path / "m")
    options = DetectOptions(aligned=True)
    crops = [np.ascontiguousarray(photo(96)[:, i : i + 64]) for i in range(0, 40, 8)]
    fp32_run = DetectionPipeline.from_model(model, options)
    int8_run = DetectionPipeline.from_model(model, options, backend="int8")
    fp32 = np.array([fp32_run.run_image(c).faces[0].p_fake for c in crops])
    int8 = np.array([int8_run.run_image(c).faces[0].p_fake for c in crops])
    assert fp32.max() - fp32.min() > 0.05  # scores that move, so the comparison means something
    # a random 48-wide model with a 20x head is a harsh case for int8 (0.04 here); the 0.01
    # target on a trained model is checked by benchmarks/inference.py
    assert np.abs(fp32 - int8).max() < 0.05
    with pytest.raises(ValueError, match="int8"):
        DetectionPipeline.from_model(model, options, backend="tpu")


def test_flip_average_model_through_the_pipeline_and_int8(tmp_path: Path) -> None:
    """``detect`` and ``serve`` load through ``from_model``: a mirrored face gets the same score."""
    from ffdetect.checkpoint.metadata import ModelMeta
    from ffdetect.checkpoint.model_format import save_model
    from ffdetect.inference.pipeline import DetectionPipeline, DetectOptions

    torch.manual_seed(0)
    detector = _spread_detector().with_flip_average(True)
    model = save_model(detector, ModelMeta(architecture=ARCH, flip_average=True), tmp_path / "m")
    options = DetectOptions(aligned=True)
    crops = [np.ascontiguousarray(photo(96)[:, i : i + 64]) for i in range(0, 40, 8)]
    mirrors = [np.ascontiguousarray(c[:, ::-1]) for c in crops]
    for backend in ("torch", "int8"):
        run = DetectionPipeline.from_model(model, options, backend=backend)
        direct = np.array([run.run_image(c).faces[0].p_fake for c in crops])
        mirrored = np.array([run.run_image(c).faces[0].p_fake for c in mirrors])
        assert direct.max() - direct.min() > 0.05
        assert np.abs(direct - mirrored).max() < (1e-5 if backend == "torch" else 0.02)
    one_view = DetectionPipeline.from_model(
        save_model(detector.with_flip_average(False), ModelMeta(architecture=ARCH), tmp_path / "o"),
        options,
    )
    plain = np.array([one_view.run_image(c).faces[0].p_fake for c in crops])
    assert (
        np.abs(plain - np.array([one_view.run_image(c).faces[0].p_fake for c in mirrors])).max()
        > 1e-3
    )


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


def test_pipelined_run_in_a_worker_thread_keeps_the_thread_count(tmp_path: Path) -> None:
    """MTCNN's one-thread setting in the background thread must not leak into the scorer, even
    when the scorer is a fresh worker thread (as in ``serve``)."""
    from concurrent.futures import ThreadPoolExecutor

    from ffdetect.inference.pipeline import DetectionPipeline, DetectOptions

    if torch.get_num_threads() < 2:
        pytest.skip("needs at least two PyTorch threads")
    model = save_tiny_model(tmp_path / "m")
    video = small_video(tmp_path / "v.mp4", frames=8)
    pipeline = DetectionPipeline.from_model(model, DetectOptions(frames=6, crop_size=64))
    main_threads = torch.get_num_threads()

    def run_and_count() -> int:
        for _ in range(2):
            assert pipeline.run(video).error is None
        return torch.get_num_threads()

    for _ in range(3):
        with ThreadPoolExecutor(1) as pool:
            assert pool.submit(run_and_count).result() == main_threads
    assert torch.get_num_threads() == main_threads


def test_following_falls_back_to_full_detection_when_a_face_is_not_refound(tmp_path: Path) -> None:
    from ffdetect.data.detectors import Face

    def face(x: float) -> Face:
        landmarks = np.array([[x + 5, 10], [x + 15, 10], [x + 10, 15], [x + 6, 20], [x + 14, 20]])
        return Face(box=(x, 0.0, x + 20.0, 30.0), score=0.99, landmarks=landmarks)

    class Follower:
        name = "stub"

        def __init__(self, near: list[Face]) -> None:
            self.near = near

        def detect(self, rgb: np.ndarray) -> list[Face]:
            return [face(0), face(50), face(100)]  # full detection: a third face has entered

        def detect_near(self, rgb: np.ndarray, boxes) -> list[Face]:
            return self.near

    pipeline = stub_pipeline(save_tiny_model(tmp_path / "m"), detect_every=4)
    rgb = np.zeros((40, 200, 3), np.uint8)
    previous = [face(0), face(50)]
    pipeline._face_detector = Follower([face(1), face(51)])  # both re-found: followed
    faces, since = pipeline._follow_or_find(rgb, previous, 0)
    assert since == 1 and [f.box[0] for f in faces] == [1, 51]
    pipeline._face_detector = Follower([face(1), face(2)])  # one lost, one doubled: full
    faces, since = pipeline._follow_or_find(rgb, previous, 0)
    assert since == 0 and len(faces) == 3
    faces, since = pipeline._follow_or_find(rgb, previous, 3)  # due for a full detection
    assert since == 0 and len(faces) == 3
