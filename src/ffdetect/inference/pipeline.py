"""``detect`` for one input: sample frames, find and track faces, score every track, decide.

Images: every detected face is scored on its own (with ``aligned``, the image is the face crop).
Videos: ``frames`` evenly spaced frames (METHOD.md section 5); faces are linked into tracks by
box overlap, short tracks (spurious detections) are dropped, and every remaining track is scored
with the calibrated rule of METHOD.md section 3. :mod:`ffdetect.inference.results` says how the
tracks make the input's verdict.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import torch

from ffdetect.checkpoint.metadata import ModelMeta
from ffdetect.data.detectors import DEFAULT_DETECTOR, Face, FaceDetector, make_detector
from ffdetect.data.faces import DETECT_MAX_SIDE, MIN_FACE_SCORE, crop_face, find_faces
from ffdetect.data.tracking import iou, link_tracks
from ffdetect.data.video import iter_frames, sample_indices
from ffdetect.evaluation.calibration import decide, video_score
from ffdetect.inference.inputs import MediaError, load_image, sniff
from ffdetect.inference.results import DetectionResult, FaceResult, TrackResult, finish
from ffdetect.inference.scoring import (
    FaceScore,
    NonFiniteScoresError,
    check_finite,
    score_crops,
)
from ffdetect.models.detector import Detector

#: A followed face must overlap its face in the previous frame this much, else a full detection.
FOLLOW_IOU = 0.3
#: ``progress(done, total)`` for the frames of one video.
Progress = Callable[[int, int], None]
#: Anything that scores RGB uint8 crops: PyTorch (default) or ONNX Runtime.
Scorer = Callable[[Sequence[np.ndarray]], list[FaceScore]]
T = TypeVar("T")


@dataclass
class DetectOptions:
    """How inputs are turned into scored faces."""

    frames: int = 32
    aligned: bool = False
    batch_size: int = 32
    crop_size: int = 224  # METHOD.md section 5: 224 px crops, resized to the model's input
    scale: float = 1.3
    detect_max_side: int = DETECT_MAX_SIDE  # frames are downscaled to this for detection only
    min_face_score: float = MIN_FACE_SCORE
    min_track_fraction: float = 0.25  # tracks shorter than this x the longest are dropped
    # Full face detection on every ``detect_every``-th sampled frame (and wherever a face is
    # lost); in between, faces are followed from the previous frame's boxes (MTCNN's RNet and
    # ONet only), which cannot see a face that enters between two full detections. 1 (the
    # default) runs the full detector on every sampled frame.
    detect_every: int = 1
    # Decode and face detection run in a background thread while the model scores the faces
    # found so far (torch releases the GIL); False runs the stages one after the other.
    pipelined: bool = True


#: The stages whose seconds :attr:`DetectionPipeline.stage_seconds` records per input.
STAGES = ("decode", "detect", "align", "model")


@dataclass
class FrameFaces:
    """One sampled frame: its faces (best first), their crops and, once scored, their scores."""

    index: int
    faces: list[Face]
    crops: list[np.ndarray]
    scores: list[FaceScore] = field(default_factory=list)


class Background(Iterator[T]):
    """Runs the iterator ``items`` in a daemon thread, up to ``prefetch`` items ahead.

    Exceptions raised by ``items`` are re-raised in the consumer. :meth:`ready` says whether the
    next item is already waiting. :meth:`close` (also at the end of iteration) stops the thread
    after at most one more item.
    """

    _DONE = object()

    def __init__(self, items: Iterator[T], prefetch: int = 4) -> None:
        self._box: queue.Queue = queue.Queue(maxsize=prefetch)
        self._stop = threading.Event()
        self._finished = False
        self._thread = threading.Thread(
            target=self._produce, args=(items,), daemon=True, name="ffdetect-frames"
        )
        self._thread.start()

    def _produce(self, items: Iterator[T]) -> None:
        try:
            for item in items:
                if self._stop.is_set():
                    return
                self._box.put((item, None))
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer
            self._box.put((self._DONE, exc))
            return
        self._box.put((self._DONE, None))

    def ready(self) -> bool:
        """Whether the next item (or the end) is already waiting."""
        return not self._box.empty()

    def __next__(self) -> T:
        if self._finished:
            raise StopIteration
        item, exc = self._box.get()
        if item is self._DONE:
            self.close()
            if exc is not None:
                raise exc
            raise StopIteration
        return item

    def close(self) -> None:
        """Stop the producer thread and wait for it."""
        self._finished = True
        self._stop.set()
        while self._thread.is_alive():  # unblock a producer waiting on a full queue
            with suppress(queue.Empty):
                self._box.get(timeout=0.1)


def pin_scoring_threads(n: int) -> None:
    """Give the calling (scoring) thread ``n`` PyTorch threads before the frame thread starts.

    ``torch.set_num_threads`` also sets the count that a thread adopts at its first parallel
    operation; the frame thread switches it to one around every MTCNN call, so a fresh scoring
    thread (a ``serve`` worker) could otherwise adopt one thread for good. A small parallel
    operation right after setting the count makes this thread adopt ``n`` now.
    """
    torch.set_num_threads(n)
    torch.ones(64).add_(1).sum()


class DetectionPipeline:
    """A loaded model, a face detector and the options: ``run(path)`` answers one input."""

    def __init__(
        self,
        detector: Detector,
        meta: ModelMeta,
        options: DetectOptions | None = None,
        face_detector: FaceDetector | None = None,
        scorer: Scorer | None = None,
        face_detector_name: str = DEFAULT_DETECTOR,
    ) -> None:
        self.detector = detector
        self.threads = torch.get_num_threads()  # the model's; MTCNN runs on its own count
        self.face_detector_name = face_detector_name
        self.meta = meta
        self.options = options or DetectOptions()
        self._face_detector = face_detector
        #: Seconds spent per stage (:data:`STAGES`) on the last input :meth:`run` answered.
        self.stage_seconds: dict[str, float] = dict.fromkeys(STAGES, 0.0)
        self.scorer: Scorer = scorer or (
            lambda crops: score_crops(detector, meta, crops, self.options.batch_size)
        )

    @classmethod
    def from_model(
        cls,
        model: str | Path,
        options: DetectOptions | None = None,
        backend: str = "torch",
        onnx_file: str | Path | None = None,
        face_detector: str = DEFAULT_DETECTOR,
    ) -> DetectionPipeline:
        """Load an ffdetect model directory (``backend="onnx"``: score with its ONNX export;
        ``"int8"``: with a dynamically quantized copy, see
        :func:`ffdetect.models.fast.quantize_int8`; explanations always use the fp32 model)."""
        from ffdetect.checkpoint.model_format import load_detector

        detector, meta = load_detector(model)
        options = options or DetectOptions()
        scorer: Scorer | None = None
        if backend == "onnx":
            from ffdetect.inference.onnx_backend import OnnxScorer

            onnx_file = Path(onnx_file) if onnx_file else Path(model) / "model.onnx"
            scorer = OnnxScorer(onnx_file, meta, options.batch_size)
        elif backend == "int8":
            from ffdetect.models.fast import quantize_int8

            int8 = quantize_int8(detector)
            scorer = partial(score_crops, int8, meta, batch_size=options.batch_size)
        elif backend != "torch":
            raise ValueError(f"backend must be 'torch', 'onnx' or 'int8', got {backend!r}")
        return cls(detector, meta, options, scorer=scorer, face_detector_name=face_detector)

    @property
    def face_detector(self) -> FaceDetector:
        """The face detector, created on first use (``--aligned`` never needs one)."""
        if self._face_detector is None:
            self._face_detector = make_detector(self.face_detector_name)
        return self._face_detector

    # -- faces -------------------------------------------------------------------------------

    def find_faces(self, rgb: np.ndarray, near: Sequence[Face] | None = None) -> list[Face]:
        """Faces of one frame in its own pixels (:func:`ffdetect.data.faces.find_faces` with this
        pipeline's detector, ``detect_max_side`` and ``min_face_score``), best first."""
        return find_faces(
            rgb, self.face_detector, self.options.detect_max_side, self.options.min_face_score, near
        )

    def _follow_or_find(self, rgb: np.ndarray, previous: list[Face], since_full: int) -> tuple:
        """Faces of the next sampled frame and the number of frames since a full detection."""
        every = self.options.detect_every
        if previous and since_full + 1 < every and hasattr(self.face_detector, "detect_near"):
            faces = self.find_faces(rgb, near=previous)
            if all(any(iou(f.box, p.box) >= FOLLOW_IOU for f in faces) for p in previous):
                return faces, since_full + 1
        return self.find_faces(rgb), 0

    def _crop(self, rgb: np.ndarray, face: Face) -> np.ndarray:
        return crop_face(rgb, face, size=self.options.crop_size, scale=self.options.scale).crop

    # -- inputs ------------------------------------------------------------------------------

    def run(self, path: str | Path, progress: Progress | None = None) -> DetectionResult:
        """Detect one file; an unreadable file gives a result with ``error`` set, never raises."""
        start = time.perf_counter()
        self.stage_seconds = dict.fromkeys(STAGES, 0.0)
        result = DetectionResult(input=str(path), kind="unknown")
        try:
            media = sniff(path)
            result.kind = media.kind
            if media.kind == "image":
                self._run_image(load_image(path), result)
            else:
                self._run_video(Path(path), media.video.frames, result, progress)
        except NonFiniteScoresError as exc:
            result.error, result.model_failed = str(exc), True
        except (MediaError, OSError, ValueError, RuntimeError) as exc:
            result.error = str(exc)
        except Exception as exc:  # noqa: BLE001 - one bad file must not stop the others
            result.error = f"{type(exc).__name__}: {exc}"
        result.seconds = time.perf_counter() - start
        return result if result.error else finish(result, self.meta.calibration, self.meta.task)

    def run_image(self, rgb: np.ndarray, name: str = "image") -> DetectionResult:
        """Detect an RGB uint8 image given as an array."""
        result = DetectionResult(input=name, kind="image")
        self._run_image(rgb, result)
        return finish(result, self.meta.calibration, self.meta.task)

    def _run_image(self, rgb: np.ndarray, result: DetectionResult) -> None:
        result.frames_sampled = 1
        if self.options.aligned:
            h, w = rgb.shape[:2]
            faces = [(0, 0, (0.0, 0.0, float(w), float(h)), rgb)]
        else:
            faces = [(i, 0, f.box, self._crop(rgb, f)) for i, f in enumerate(self.find_faces(rgb))]
        scores = self._model_scores([crop for *_, crop in faces])
        for (track, frame, box, crop), s in zip(faces, scores, strict=True):
            result.faces.append(FaceResult(frame, track, box, s.p_fake, s.confidence, crop))
            self._add_track(result, track, [s])

    def _run_video(
        self, path: Path, n_frames: int, result: DetectionResult, progress: Progress | None
    ) -> None:
        want = self.options.frames
        indices = sample_indices(n_frames, want)
        found = self._scan(path, indices, progress)
        n_found = sum(1 for frame in found.values() if frame.faces)
        if n_found < want and n_frames > len(indices):  # METHOD 5: sample more where faces miss
            extra = [i for i in sample_indices(n_frames, 2 * want) if i not in found]
            found.update(self._scan(path, extra[: want - n_found], progress))
        result.frames_sampled = len(found)
        tracks = link_tracks({i: f.faces for i, f in found.items() if f.faces})
        longest = max((t.length for t in tracks), default=0)
        tracks = [t for t in tracks if t.length >= self.options.min_track_fraction * longest]
        tracks.sort(key=lambda t: (-t.length, -t.mean_area))
        per_track: dict[int, list[FaceScore]] = {}
        for track_id, track in enumerate(tracks):
            for frame, face in sorted(track.faces.items()):
                k = next(j for j, f in enumerate(found[frame].faces) if f is face)
                crop, s = found[frame].crops[k], found[frame].scores[k]
                result.faces.append(
                    FaceResult(frame, track_id, face.box, s.p_fake, s.confidence, crop)
                )
                per_track.setdefault(track_id, []).append(s)
        for track_id, track_scores in per_track.items():
            self._add_track(result, track_id, track_scores)

    def _frames(
        self, path: Path, indices: list[int], progress: Progress | None
    ) -> Iterator[FrameFaces]:
        """Decode, find (or follow) and crop the faces of the frames at ``indices``, in order."""
        frames = iter_frames(path, indices)
        previous: list[Face] = []
        since_full = 0
        for done in range(1, len(indices) + 1):
            with self._timed("decode"):
                item = next(frames, None)
            if item is None:
                return
            index, rgb = item
            with self._timed("detect"):
                faces, since_full = self._follow_or_find(rgb, previous, since_full)
            with self._timed("align"):
                crops = [self._crop(rgb, face) for face in faces]
            previous = faces
            if progress is not None:
                progress(done, len(indices))
            yield FrameFaces(index, faces, crops)

    def _scan(
        self, path: Path, indices: list[int], progress: Progress | None
    ) -> dict[int, FrameFaces]:
        """Every frame's faces, crops and scores; pipelined or one stage after the other."""
        frames = self._frames(path, indices, progress)
        if self.options.pipelined:
            pin_scoring_threads(self.threads)
            frames = Background(frames)
        batch = self.options.batch_size
        found: dict[int, FrameFaces] = {}
        pending: list[FrameFaces] = []
        try:
            for frame in frames:
                found[frame.index] = frame
                pending.append(frame)
                if self.options.pipelined:
                    # A full batch, or a quarter of one while the next frame is not ready yet:
                    # the model works while decoding and detection catch up.
                    n = sum(len(f.crops) for f in pending)
                    if n >= batch or (n >= max(1, batch // 4) and not frames.ready()):
                        self._score(pending)
                        pending = []
        finally:
            if isinstance(frames, Background):
                frames.close()
        self._score(pending)
        return found

    def _score(self, frames: list[FrameFaces]) -> None:
        crops = [crop for frame in frames for crop in frame.crops]
        if not crops:
            return
        with self._timed("model"):
            scores = iter(self._model_scores(crops))
        for frame in frames:
            frame.scores = [next(scores) for _ in frame.crops]

    def _model_scores(self, crops: list[np.ndarray]) -> list[FaceScore]:
        scores = list(self.scorer(crops))
        check_finite(scores)
        return scores

    @contextmanager
    def _timed(self, stage: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.stage_seconds[stage] = (
                self.stage_seconds.get(stage, 0.0) + time.perf_counter() - start
            )

    def _add_track(self, result: DetectionResult, track: int, scores: list[FaceScore]) -> None:
        cal = self.meta.calibration
        score, conf = video_score(
            [s.p_fake for s in scores], [s.confidence for s in scores], cal.gamma
        )
        result.tracks.append(TrackResult(track, score, conf, decide(score, conf, cal), len(scores)))

    # -- explanations ------------------------------------------------------------------------

    def explain(
        self, result: DetectionResult, max_per_track: int | None = None
    ) -> dict[str, bytes]:
        """PNG files by name: per face ``track{t}_frame{f}.png`` (crop | heat map); for videos
        also ``scores.png`` (per-frame ``p_fake`` of every track). ``max_per_track`` keeps that
        many evenly spaced faces per track."""
        from ffdetect.inference.explain import (
            attention_rollout,
            explanation_panel,
            png_bytes,
            score_plot,
        )

        chosen: list[FaceResult] = []
        for track in {f.track for f in result.faces}:
            faces = [f for f in result.faces if f.track == track and f.crop is not None]
            if max_per_track is not None and len(faces) > max_per_track:
                keep = np.linspace(0, len(faces) - 1, max_per_track).round().astype(int)
                faces = [faces[i] for i in sorted(set(keep))]
            chosen += faces
        heats = attention_rollout(self.detector, self.meta, [f.crop for f in chosen])
        files = {
            f"track{f.track}_frame{f.frame:05d}.png": png_bytes(explanation_panel(f.crop, heat))
            for f, heat in zip(chosen, heats, strict=True)
        }
        if result.kind == "video" and result.faces:
            points: dict[int, list[tuple[int, float]]] = {}
            for f in result.faces:
                points.setdefault(f.track, []).append((f.frame, f.p_fake))
            title = f"{Path(result.input).name}: {result.verdict} ({result.score:.3f})"
            files["scores.png"] = score_plot(points, result.threshold, title)
        return files

    def model_info(self) -> dict[str, Any]:
        """Facts about the loaded model for reports and ``GET /v1/model``."""
        arch = self.meta.architecture
        return {
            "kind": self.meta.kind,
            "task": self.meta.task,
            "architecture": arch.to_dict(),
            "flip_average": self.meta.flip_average,
            "fused": self.meta.fused,
            "parameters": sum(p.numel() for p in self.detector.parameters()),
            "calibration": self.meta.calibration.to_dict(),
            "provenance": {
                k: v for k, v in self.meta.provenance.items() if k in ("how", "command", "created")
            },
        }
