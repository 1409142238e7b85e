"""Face detectors behind one small interface, and a registry by name.

A detector is any object with ``detect(rgb_uint8) -> list[Face]``. Built in:

- ``mtcnn`` (default): MTCNN in PyTorch (:mod:`ffdetect.data.mtcnn`) with the original weights
  shipped inside the ``mtcnn`` PyPI package (MIT; depends only on joblib and lz4). Boxes, scores and
  five landmarks accurate enough for alignment; about 100 ms for a 640 x 360 frame on one core.
  ``detect_near`` follows known faces into the next frame at a fraction of that.
- ``yuface``: libfacedetection/YuNet (BSD-3) with compiled-in weights, about 6x faster than MTCNN
  but with rough landmarks on tilted faces, and no wheels for Python >= 3.12. Optional: used only
  when the ``yuface`` package is installed.
- ``retinaface``: a RetinaFace-class ONNX model from a local file, run with onnxruntime (optional
  dependency, ``pip install onnxruntime``). Two output layouts are understood: insightface's
  (``det_10g.onnx``, ``det_2.5g.onnx``, SCRFD/RetinaFace: per-stride score/box/keypoint heads) and
  the widespread Pytorch_Retinaface export (``loc``, ``conf``, ``landms`` over prior boxes).

Nothing here downloads anything.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

__all__ = [
    "DEFAULT_DETECTOR",
    "Face",
    "FaceDetector",
    "MTCNNDetector",
    "RetinaFaceONNX",
    "YuFaceDetector",
    "available_detectors",
    "make_detector",
    "register_detector",
]

DEFAULT_DETECTOR = "mtcnn"


@dataclass(frozen=True)
class Face:
    """One detected face in image pixel coordinates.

    ``box`` is (x1, y1, x2, y2); ``landmarks`` is a (5, 2) float array: left eye, right eye, nose
    tip, left mouth corner, right mouth corner, where "left" means the image's left.
    """

    box: tuple[float, float, float, float]
    score: float
    landmarks: np.ndarray = field(repr=False)

    @property
    def area(self) -> float:
        """Box area in pixels."""
        return max(0.0, self.box[2] - self.box[0]) * max(0.0, self.box[3] - self.box[1])


@runtime_checkable
class FaceDetector(Protocol):
    """What every detector provides."""

    name: str

    def detect(self, rgb: np.ndarray) -> list[Face]:
        """Faces in an (H, W, 3) RGB uint8 image, best score first."""
        ...


def _faces(boxes: np.ndarray, scores: np.ndarray, points: np.ndarray, min_score: float) -> list:
    out = []
    for b, s, p in zip(boxes, scores, points, strict=True):
        if float(s) < min_score:
            continue
        out.append(
            Face(
                box=tuple(float(v) for v in b[:4]),
                score=float(s),
                landmarks=np.asarray(p, dtype=np.float32).reshape(5, 2),
            )
        )
    out.sort(key=lambda f: -f.score)
    return out


@contextmanager
def torch_threads(n: int | None) -> Iterator[None]:
    """Run the block with ``n`` PyTorch intra-op threads, then restore the previous count."""
    import torch

    old = torch.get_num_threads()
    if not n or n == old:
        yield
        return
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(old)


class MTCNNDetector:
    """MTCNN with the ``mtcnn`` package's weights (default detector).

    ``threads``: PyTorch threads while detecting (restored afterwards). MTCNN's many small
    convolutions run best on one thread: with two, thread synchronisation costs more than it
    saves, up to several times the single-thread time on a busy machine.
    """

    name = "mtcnn"

    def __init__(self, min_score: float = 0.0, min_face: int = 20, threads: int | None = 1):
        from .mtcnn import MTCNNNets

        self.nets = MTCNNNets()
        self.min_score = min_score
        self.min_face = min_face
        self.threads = threads

    def detect(self, rgb: np.ndarray) -> list[Face]:
        """Faces in an RGB uint8 image."""
        from .mtcnn import run_mtcnn

        with torch_threads(self.threads):
            boxes, points = run_mtcnn(self.nets, _as_rgb(rgb), min_face=self.min_face)
        return _faces(boxes[:, :4], boxes[:, 4], points, self.min_score)

    def detect_near(self, rgb: np.ndarray, boxes: list[tuple[float, float, float, float]]) -> list:
        """Faces near known ``boxes`` (x1, y1, x2, y2) only: MTCNN's RNet and ONet stages on
        candidates around them, without the image pyramid (a fraction of :meth:`detect`'s
        time). For following faces from one sampled frame to the next."""
        from .mtcnn import run_mtcnn_from_boxes

        if not boxes:
            return []
        with torch_threads(self.threads):
            found, points = run_mtcnn_from_boxes(self.nets, _as_rgb(rgb), np.asarray(boxes))
        return _faces(found[:, :4], found[:, 4], points, self.min_score)


class YuFaceDetector:
    """libfacedetection (YuNet) through the optional ``yuface`` package."""

    name = "yuface"

    def __init__(self, min_score: float = 0.5):
        try:
            import yuface
        except ImportError as e:  # pragma: no cover - depends on the environment
            raise RuntimeError(
                "detector 'yuface' needs the yuface package (pip install yuface)"
            ) from e
        self._detect = yuface.detect
        self.min_score = min_score

    def detect(self, rgb: np.ndarray) -> list[Face]:
        """Faces in an RGB uint8 image."""
        bgr = np.ascontiguousarray(_as_rgb(rgb)[..., ::-1])
        confs, boxes, lms = self._detect(bgr, conf=self.min_score)
        boxes = np.asarray(boxes, dtype=np.float32).reshape(-1, 4)
        xyxy = np.c_[boxes[:, :2], boxes[:, :2] + boxes[:, 2:]]
        pts = np.asarray(lms, dtype=np.float32).reshape(-1, 5, 2)
        return _faces(xyxy, np.asarray(confs, np.float32) / 100.0, pts, self.min_score)


def _nms(boxes: np.ndarray, scores: np.ndarray, thr: float) -> np.ndarray:
    from .mtcnn import _nms as nms

    return nms(boxes, scores, thr)


class RetinaFaceONNX:
    """A RetinaFace-class detector from a local ONNX file (onnxruntime).

    ``session`` may be given instead of ``model_path`` (any object with ``get_inputs()``,
    ``get_outputs()`` and ``run(names, feeds)``, as onnxruntime's ``InferenceSession``).
    """

    name = "retinaface"

    def __init__(
        self,
        model_path: str | Path | None = None,
        *,
        session: Any = None,
        input_size: int = 640,
        min_score: float = 0.5,
        nms: float = 0.4,
        threads: int | None = None,
    ):
        if session is None:
            if model_path is None:
                raise ValueError(
                    "detector 'retinaface' needs a local ONNX model file (--detector-model FILE)"
                )
            path = Path(model_path)
            if not path.is_file():
                raise FileNotFoundError(f"RetinaFace ONNX model not found: {path}")
            try:
                import onnxruntime as ort
            except ImportError as e:
                raise RuntimeError(
                    "detector 'retinaface' needs onnxruntime (pip install onnxruntime)"
                ) from e
            opts = ort.SessionOptions()
            if threads:
                opts.intra_op_num_threads = threads
            session = ort.InferenceSession(
                str(path), sess_options=opts, providers=["CPUExecutionProvider"]
            )
        self.session = session
        inp = session.get_inputs()[0]
        self.input_name = inp.name
        shape = list(inp.shape)
        fixed = [d for d in shape[2:4] if isinstance(d, int)]
        self.input_hw = (shape[2], shape[3]) if len(fixed) == 2 else (input_size, input_size)
        self.output_names = [o.name for o in session.get_outputs()]
        self.layout = "pytorch_retinaface" if len(self.output_names) == 3 else "insightface"
        if self.layout == "insightface" and len(self.output_names) not in (6, 9, 10, 15):
            raise ValueError(f"unrecognised RetinaFace ONNX outputs: {self.output_names}")
        self.min_score = min_score
        self.nms_thr = nms

    def detect(self, rgb: np.ndarray) -> list[Face]:
        """Faces in an RGB uint8 image."""
        import cv2

        rgb = _as_rgb(rgb)
        ih, iw = self.input_hw
        h, w = rgb.shape[:2]
        scale = min(ih / h, iw / w)
        nh, nw = max(1, int(round(h * scale))), max(1, int(round(w * scale)))
        canvas = np.zeros((ih, iw, 3), dtype=np.float32)
        canvas[:nh, :nw] = cv2.resize(rgb, (nw, nh), interpolation=cv2.INTER_LINEAR)
        if self.layout == "insightface":
            blob = ((canvas - 127.5) / 128.0).transpose(2, 0, 1)[None]
        else:
            bgr = canvas[..., ::-1] - np.array([104.0, 117.0, 123.0], np.float32)
            blob = bgr.transpose(2, 0, 1)[None]
        outs = self.session.run(self.output_names, {self.input_name: blob.astype(np.float32)})
        if self.layout == "insightface":
            boxes, scores, kps = decode_insightface(outs, (ih, iw), self.min_score)
        else:
            boxes, scores, kps = decode_pytorch_retinaface(outs, (ih, iw), self.min_score)
        if len(boxes) == 0:
            return []
        keep = _nms(boxes, scores, self.nms_thr)
        boxes, scores, kps = boxes[keep] / scale, scores[keep], kps[keep] / scale
        return _faces(boxes, scores, kps, self.min_score)


def decode_insightface(
    outs: list[np.ndarray], input_hw: tuple[int, int], thr: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Decode insightface SCRFD/RetinaFace heads: [scores x S, boxes x S, (kps x S)].

    Strides are 8/16/32 for three levels and 8/16/32/64/128 for five; the anchor count per
    location follows from the output sizes. Returns boxes (n, 4), scores (n,), kps (n, 5, 2) in
    network-input pixels.
    """
    n = len(outs)
    fmc = 3 if n in (6, 9) else 5
    strides = [8, 16, 32] if fmc == 3 else [8, 16, 32, 64, 128]
    has_kps = n in (9, 15)
    ih, iw = input_hw
    all_b, all_s, all_k = [], [], []
    for i, stride in enumerate(strides):
        sc = np.asarray(outs[i]).reshape(-1)
        bb = np.asarray(outs[i + fmc]).reshape(-1, 4) * stride
        kp = np.asarray(outs[i + 2 * fmc]).reshape(-1, 10) * stride if has_kps else None
        gh, gw = math.ceil(ih / stride), math.ceil(iw / stride)
        na = max(1, sc.size // (gh * gw))
        ys, xs = np.mgrid[:gh, :gw]
        centers = np.stack([xs, ys], axis=-1).reshape(-1, 2).astype(np.float32) * stride
        centers = np.repeat(centers, na, axis=0)[: sc.size]
        idx = np.nonzero(sc >= thr)[0]
        if idx.size == 0:
            continue
        c = centers[idx]
        b = np.c_[c - bb[idx, :2], c + bb[idx, 2:]]
        # Without a keypoint head, a crude five-point guess from the box.
        k = c[:, None, :] + kp[idx].reshape(-1, 5, 2) if kp is not None else _box_points(b)
        all_b.append(b)
        all_s.append(sc[idx])
        all_k.append(k)
    if not all_b:
        return np.zeros((0, 4)), np.zeros(0), np.zeros((0, 5, 2))
    return np.concatenate(all_b), np.concatenate(all_s), np.concatenate(all_k)


def _box_points(b: np.ndarray) -> np.ndarray:
    w, h = b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]
    rel = np.array([[0.3, 0.4], [0.7, 0.4], [0.5, 0.6], [0.35, 0.8], [0.65, 0.8]], np.float32)
    return b[:, None, :2] + rel[None] * np.stack([w, h], axis=1)[:, None, :]


def retinaface_priors(input_hw: tuple[int, int]) -> np.ndarray:
    """Prior boxes (cx, cy, w, h; relative) of Pytorch_Retinaface's default configuration."""
    ih, iw = input_hw
    out = []
    for step, sizes in ((8, (16, 32)), (16, (64, 128)), (32, (256, 512))):
        for y in range(math.ceil(ih / step)):
            for x in range(math.ceil(iw / step)):
                for s in sizes:
                    out.append([(x + 0.5) * step / iw, (y + 0.5) * step / ih, s / iw, s / ih])
    return np.asarray(out, dtype=np.float32)


def decode_pytorch_retinaface(
    outs: list[np.ndarray], input_hw: tuple[int, int], thr: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Decode Pytorch_Retinaface outputs (loc, conf, landms) with variances (0.1, 0.2)."""
    arrs = [np.asarray(o).reshape(-1, np.asarray(o).shape[-1]) for o in outs]
    loc = next(a for a in arrs if a.shape[1] == 4)
    conf = next(a for a in arrs if a.shape[1] == 2)
    lms = next(a for a in arrs if a.shape[1] == 10)
    pri = retinaface_priors(input_hw)[: len(loc)]
    ih, iw = input_hw
    cxcy = pri[:, :2] + loc[:, :2] * 0.1 * pri[:, 2:]
    wh = pri[:, 2:] * np.exp(loc[:, 2:] * 0.2)
    boxes = np.c_[cxcy - wh / 2, cxcy + wh / 2] * np.array([iw, ih, iw, ih], np.float32)
    kps = pri[:, None, :2] + lms.reshape(-1, 5, 2) * 0.1 * pri[:, None, 2:]
    kps = kps * np.array([iw, ih], np.float32)
    scores = conf[:, 1]
    idx = np.nonzero(scores >= thr)[0]
    return boxes[idx], scores[idx], kps[idx]


def _as_rgb(img: np.ndarray) -> np.ndarray:
    img = np.asarray(img)
    if img.ndim == 2:
        img = np.repeat(img[..., None], 3, axis=2)
    if img.shape[2] == 4:
        img = img[..., :3]
    if img.dtype != np.uint8:
        img = np.clip(img, 0, 255).astype(np.uint8)
    return np.ascontiguousarray(img)


_REGISTRY: dict[str, Callable[..., FaceDetector]] = {}
_LOCK = threading.Lock()


def register_detector(name: str, factory: Callable[..., FaceDetector]) -> None:
    """Make ``factory(**options)`` available as ``make_detector(name, **options)``."""
    with _LOCK:
        _REGISTRY[name] = factory


def available_detectors() -> list[str]:
    """Registered detector names."""
    return sorted(_REGISTRY)


def make_detector(name: str = DEFAULT_DETECTOR, **options: Any) -> FaceDetector:
    """Build a registered detector; ``options`` go to its constructor (unknown ones are dropped).

    ``name`` may also be ``retinaface:/path/model.onnx`` as a shorthand for
    ``make_detector("retinaface", model_path=...)``.
    """
    import inspect

    if ":" in name and name.split(":", 1)[0] in _REGISTRY:
        name, model = name.split(":", 1)
        options["model_path"] = model
    if name not in _REGISTRY:
        raise ValueError(
            f"unknown detector {name!r}; choose from {', '.join(available_detectors())}"
        )
    factory = _REGISTRY[name]
    params = inspect.signature(factory).parameters
    if not any(p.kind is p.VAR_KEYWORD for p in params.values()):
        options = {k: v for k, v in options.items() if k in params and v is not None}
    return factory(**options)


register_detector("mtcnn", MTCNNDetector)
register_detector("yuface", YuFaceDetector)
register_detector("retinaface", RetinaFaceONNX)
