"""``detect`` for one input: sample frames, find and track faces, score every track, decide.

Images: every detected face is scored on its own (with ``aligned``, the image is the face crop).
Videos: ``frames`` evenly spaced frames (METHOD.md section 5); faces are linked into tracks by
box overlap, short tracks (spurious detections) are dropped, and every remaining track is scored
with the calibrated rule of METHOD.md section 3. :mod:`ffdetect.inference.results` says how the
tracks make the input's verdict.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from ffdetect.checkpoint.metadata import ModelMeta
from ffdetect.data.detectors import DEFAULT_DETECTOR, Face, FaceDetector, make_detector
from ffdetect.data.faces import crop_face
from ffdetect.data.tracking import link_tracks
from ffdetect.data.video import read_frames, sample_indices
from ffdetect.evaluation.calibration import decide, video_score
from ffdetect.inference.inputs import MediaError, load_image, sniff
from ffdetect.inference.results import DetectionResult, FaceResult, TrackResult, finish
from ffdetect.inference.scoring import FaceScore, score_crops
from ffdetect.models.detector import Detector

#: ``progress(done, total)`` for the frames of one video.
Progress = Callable[[int, int], None]
#: Anything that scores RGB uint8 crops: PyTorch (default) or ONNX Runtime.
Scorer = Callable[[Sequence[np.ndarray]], list[FaceScore]]


@dataclass
class DetectOptions:
    """How inputs are turned into scored faces."""

    frames: int = 32
    aligned: bool = False
    batch_size: int = 32
    crop_size: int = 224  # METHOD.md section 5: 224 px crops, resized to the model's input
    scale: float = 1.3
    detect_max_side: int = 640  # frames are downscaled to this for face detection only
    min_face_score: float = 0.9
    min_track_fraction: float = 0.25  # tracks shorter than this x the longest are dropped


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
        self.face_detector_name = face_detector_name
        self.meta = meta
        self.options = options or DetectOptions()
        self._face_detector = face_detector
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
        """Load an ffdetect model directory (``backend="onnx"``: score with its ONNX export)."""
        from ffdetect.checkpoint.model_format import load_detector

        detector, meta = load_detector(model)
        options = options or DetectOptions()
        scorer = None
        if backend == "onnx":
            from ffdetect.inference.onnx_backend import OnnxScorer

            onnx_file = Path(onnx_file) if onnx_file else Path(model) / "model.onnx"
            scorer = OnnxScorer(onnx_file, meta, options.batch_size)
        elif backend != "torch":
            raise ValueError(f"backend must be 'torch' or 'onnx', got {backend!r}")
        return cls(detector, meta, options, scorer=scorer, face_detector_name=face_detector)

    @property
    def face_detector(self) -> FaceDetector:
        """The face detector, created on first use (``--aligned`` never needs one)."""
        if self._face_detector is None:
            self._face_detector = make_detector(self.face_detector_name)
        return self._face_detector

    # -- faces -------------------------------------------------------------------------------

    def find_faces(self, rgb: np.ndarray) -> list[Face]:
        """Faces of one frame in its own pixels (detected on a downscaled copy), best first."""
        h, w = rgb.shape[:2]
        s = min(1.0, self.options.detect_max_side / max(h, w))
        small = rgb if s >= 1.0 else cv2.resize(rgb, (round(w * s), round(h * s)), cv2.INTER_AREA)
        faces = []
        for f in self.face_detector.detect(small):
            if f.score < self.options.min_face_score:
                continue
            box = tuple(float(v) / s for v in f.box)
            faces.append(Face(box=box, score=f.score, landmarks=np.asarray(f.landmarks) / s))
        return faces

    def _crop(self, rgb: np.ndarray, face: Face) -> np.ndarray:
        return crop_face(rgb, face, size=self.options.crop_size, scale=self.options.scale).crop

    # -- inputs ------------------------------------------------------------------------------

    def run(self, path: str | Path, progress: Progress | None = None) -> DetectionResult:
        """Detect one file; an unreadable file gives a result with ``error`` set, never raises."""
        start = time.perf_counter()
        result = DetectionResult(input=str(path), kind="unknown")
        try:
            media = sniff(path)
            result.kind = media.kind
            if media.kind == "image":
                self._run_image(load_image(path), result)
            else:
                self._run_video(Path(path), media.video.frames, result, progress)
        except (MediaError, OSError, ValueError, RuntimeError) as exc:
            result.error = str(exc)
        except Exception as exc:  # noqa: BLE001 - one bad file must not stop the others
            result.error = f"{type(exc).__name__}: {exc}"
        result.seconds = time.perf_counter() - start
        return result if result.error else finish(result, self.meta.calibration)

    def run_image(self, rgb: np.ndarray, name: str = "image") -> DetectionResult:
        """Detect an RGB uint8 image given as an array."""
        result = DetectionResult(input=name, kind="image")
        self._run_image(rgb, result)
        return finish(result, self.meta.calibration)

    def _run_image(self, rgb: np.ndarray, result: DetectionResult) -> None:
        result.frames_sampled = 1
        if self.options.aligned:
            h, w = rgb.shape[:2]
            faces = [(0, 0, (0.0, 0.0, float(w), float(h)), rgb)]
        else:
            faces = [(i, 0, f.box, self._crop(rgb, f)) for i, f in enumerate(self.find_faces(rgb))]
        scores = self.scorer([crop for *_, crop in faces])
        for (track, frame, box, crop), s in zip(faces, scores, strict=True):
            result.faces.append(FaceResult(frame, track, box, s.p_fake, s.confidence, crop))
            self._add_track(result, track, [s])

    def _run_video(
        self, path: Path, n_frames: int, result: DetectionResult, progress: Progress | None
    ) -> None:
        want = self.options.frames
        indices = sample_indices(n_frames, want)
        detections, crops = self._detect_frames(path, indices, progress)
        found = sum(1 for faces in detections.values() if faces)
        if found < want and n_frames > len(indices):  # METHOD 5: sample more where faces miss
            extra = [i for i in sample_indices(n_frames, 2 * want) if i not in detections]
            more, more_crops = self._detect_frames(path, extra[: want - found], progress)
            detections.update(more)
            crops.update(more_crops)
        result.frames_sampled = len(detections)
        tracks = link_tracks({i: f for i, f in detections.items() if f})
        longest = max((t.length for t in tracks), default=0)
        tracks = [t for t in tracks if t.length >= self.options.min_track_fraction * longest]
        tracks.sort(key=lambda t: (-t.length, -t.mean_area))
        items = []
        for track_id, track in enumerate(tracks):
            for frame, face in sorted(track.faces.items()):
                items.append((track_id, frame, face, crops[(frame, id(face))]))
        scores = self.scorer([crop for *_, crop in items])
        per_track: dict[int, list[FaceScore]] = {}
        for (track_id, frame, face, crop), s in zip(items, scores, strict=True):
            result.faces.append(FaceResult(frame, track_id, face.box, s.p_fake, s.confidence, crop))
            per_track.setdefault(track_id, []).append(s)
        for track_id, track_scores in per_track.items():
            self._add_track(result, track_id, track_scores)

    def _detect_frames(
        self, path: Path, indices: list[int], progress: Progress | None
    ) -> tuple[dict[int, list[Face]], dict[tuple[int, int], np.ndarray]]:
        frames = read_frames(path, indices)
        detections: dict[int, list[Face]] = {}
        crops: dict[tuple[int, int], np.ndarray] = {}
        for done, (index, rgb) in enumerate(sorted(frames.items()), start=1):
            faces = self.find_faces(rgb)
            detections[index] = faces
            for face in faces:
                crops[(index, id(face))] = self._crop(rgb, face)
            if progress is not None:
                progress(done, len(frames))
        return detections, crops

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
            "parameters": sum(p.numel() for p in self.detector.parameters()),
            "calibration": self.meta.calibration.to_dict(),
            "provenance": {
                k: v for k, v in self.meta.provenance.items() if k in ("how", "command", "created")
            },
        }
