"""MTCNN face detector (Zhang et al. 2016) in PyTorch, with weights from an installed package.

The network weights are the original MTCNN weights as shipped by the ``mtcnn`` package on PyPI
(MIT licence, ``mtcnn/assets/weights/{pnet,rnet,onet}.lz4``: joblib+lz4 pickled lists of Keras
arrays). Only those files are read: the ``mtcnn`` package itself (which needs TensorFlow) is never
imported, and nothing is downloaded. The layers below mirror that package's Keras definitions
exactly (including the ``Permute((2, 1, 3))`` before each ``Flatten``), so the Keras arrays map
one-to-one onto PyTorch parameters.

The cascade (image pyramid -> PNet -> RNet -> ONet, non-maximum suppression between stages) follows
the reference implementation: minimum face 20 px, pyramid factor 0.709, thresholds 0.6/0.7/0.7.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import cv2
import numpy as np
import torch
from torch import nn

__all__ = ["MTCNNNets", "mtcnn_weights_dir", "run_mtcnn", "run_mtcnn_from_boxes"]


def mtcnn_weights_dir() -> Path:
    """Folder of the ``mtcnn`` package's weight files, found without importing the package."""
    spec = importlib.util.find_spec("mtcnn")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(
            "the MTCNN weights come from the 'mtcnn' package (pip install 'mtcnn>=1.0'); "
            "it is not installed"
        )
    for loc in spec.submodule_search_locations:
        d = Path(loc) / "assets" / "weights"
        if (d / "onet.lz4").is_file():
            return d
    raise RuntimeError("the installed 'mtcnn' package has no assets/weights/*.lz4 files")


def _load_keras_arrays(name: str) -> list[np.ndarray]:
    import joblib

    return list(joblib.load(mtcnn_weights_dir() / f"{name}.lz4"))


class _PNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv1, self.prelu1 = nn.Conv2d(3, 10, 3), nn.PReLU(10)
        self.pool1 = nn.MaxPool2d(2, 2, ceil_mode=True)
        self.conv2, self.prelu2 = nn.Conv2d(10, 16, 3), nn.PReLU(16)
        self.conv3, self.prelu3 = nn.Conv2d(16, 32, 3), nn.PReLU(32)
        self.conv4_1 = nn.Conv2d(32, 4, 1)
        self.conv4_2 = nn.Conv2d(32, 2, 1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.pool1(self.prelu1(self.conv1(x)))
        x = self.prelu2(self.conv2(x))
        x = self.prelu3(self.conv3(x))
        return self.conv4_1(x), torch.softmax(self.conv4_2(x), dim=1)


class _RNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv1, self.prelu1 = nn.Conv2d(3, 28, 3), nn.PReLU(28)
        self.pool1 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv2, self.prelu2 = nn.Conv2d(28, 48, 3), nn.PReLU(48)
        self.pool2 = nn.MaxPool2d(3, 2)
        self.conv3, self.prelu3 = nn.Conv2d(48, 64, 2), nn.PReLU(64)
        self.fc4, self.prelu4 = nn.Linear(576, 128), nn.PReLU(128)
        self.fc5_1 = nn.Linear(128, 4)
        self.fc5_2 = nn.Linear(128, 2)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.pool1(self.prelu1(self.conv1(x)))
        x = self.pool2(self.prelu2(self.conv2(x)))
        x = self.prelu3(self.conv3(x))
        x = x.permute(0, 3, 2, 1).reshape(x.shape[0], -1)  # Keras Permute((2,1,3)) + Flatten
        x = self.prelu4(self.fc4(x))
        return self.fc5_1(x), torch.softmax(self.fc5_2(x), dim=1)


class _ONet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv1, self.prelu1 = nn.Conv2d(3, 32, 3), nn.PReLU(32)
        self.pool1 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv2, self.prelu2 = nn.Conv2d(32, 64, 3), nn.PReLU(64)
        self.pool2 = nn.MaxPool2d(3, 2)
        self.conv3, self.prelu3 = nn.Conv2d(64, 64, 3), nn.PReLU(64)
        self.pool3 = nn.MaxPool2d(2, 2, ceil_mode=True)
        self.conv4, self.prelu4 = nn.Conv2d(64, 128, 2), nn.PReLU(128)
        self.fc5, self.prelu5 = nn.Linear(1152, 256), nn.PReLU(256)
        self.fc6_1 = nn.Linear(256, 4)
        self.fc6_2 = nn.Linear(256, 10)
        self.fc6_3 = nn.Linear(256, 2)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        x = self.pool1(self.prelu1(self.conv1(x)))
        x = self.pool2(self.prelu2(self.conv2(x)))
        x = self.pool3(self.prelu3(self.conv3(x)))
        x = self.prelu4(self.conv4(x))
        x = x.permute(0, 3, 2, 1).reshape(x.shape[0], -1)
        x = self.prelu5(self.fc5(x))
        return self.fc6_1(x), self.fc6_2(x), torch.softmax(self.fc6_3(x), dim=1)


def _assign(module: nn.Module, arrays: list[np.ndarray]) -> None:
    """Copy Keras arrays (in ``get_weights()`` order) into ``module``'s parameters."""
    params = list(module.parameters())
    if len(params) != len(arrays):
        raise RuntimeError(
            f"MTCNN weight count mismatch: {len(arrays)} arrays, {len(params)} params"
        )
    with torch.no_grad():
        for p, a in zip(params, arrays, strict=True):
            a = np.asarray(a, dtype=np.float32)
            if a.ndim == 4:  # Keras conv kernel (kh, kw, in, out) -> (out, in, kh, kw)
                a = a.transpose(3, 2, 0, 1)
            elif a.ndim == 3:  # PReLU alpha (1, 1, C)
                a = a.reshape(-1)
            elif a.ndim == 2:  # Dense (in, out) -> Linear (out, in)
                a = a.T
            if tuple(a.shape) != tuple(p.shape):
                raise RuntimeError(f"MTCNN weight shape mismatch: {a.shape} vs {tuple(p.shape)}")
            p.copy_(torch.from_numpy(np.ascontiguousarray(a)))


class MTCNNNets:
    """The three MTCNN networks with the packaged weights loaded, in eval mode on CPU."""

    def __init__(self) -> None:
        self.pnet, self.rnet, self.onet = _PNet(), _RNet(), _ONet()
        for net, name in ((self.pnet, "pnet"), (self.rnet, "rnet"), (self.onet, "onet")):
            _assign(net, _load_keras_arrays(name))
            net.eval()


def _nms(boxes: np.ndarray, scores: np.ndarray, thr: float, method: str = "union") -> np.ndarray:
    """Greedy NMS; boxes (n, 4) x1 y1 x2 y2 inclusive pixel coordinates. Returns kept indices."""
    if len(boxes) == 0:
        return np.zeros(0, dtype=np.int64)
    x1, y1, x2, y2 = boxes.T
    area = (x2 - x1 + 1) * (y2 - y1 + 1)
    order = np.argsort(-scores, kind="stable")
    keep = []
    while order.size:
        i = order[0]
        keep.append(i)
        rest = order[1:]
        w = np.maximum(0.0, np.minimum(x2[i], x2[rest]) - np.maximum(x1[i], x1[rest]) + 1)
        h = np.maximum(0.0, np.minimum(y2[i], y2[rest]) - np.maximum(y1[i], y1[rest]) + 1)
        inter = w * h
        if method == "min":
            o = inter / np.minimum(area[i], area[rest])
        else:
            o = inter / (area[i] + area[rest] - inter)
        order = rest[o <= thr]
    return np.asarray(keep, dtype=np.int64)


def _square(b: np.ndarray) -> np.ndarray:
    b = b.copy()
    w, h = b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]
    side = np.maximum(w, h)
    b[:, 0] += w * 0.5 - side * 0.5
    b[:, 1] += h * 0.5 - side * 0.5
    b[:, 2] = b[:, 0] + side
    b[:, 3] = b[:, 1] + side
    return b


def _bbreg(b: np.ndarray, reg: np.ndarray) -> np.ndarray:
    b = b.copy()
    w = b[:, 2] - b[:, 0] + 1
    h = b[:, 3] - b[:, 1] + 1
    b[:, 0] += reg[:, 0] * w
    b[:, 1] += reg[:, 1] * h
    b[:, 2] += reg[:, 2] * w
    b[:, 3] += reg[:, 3] * h
    return b


def _patches(img: np.ndarray, boxes: np.ndarray, size: int) -> np.ndarray:
    """Crop boxes (zero padding outside the image), resize to size, normalise; NCHW float32."""
    h, w = img.shape[:2]
    out = np.empty((len(boxes), size, size, 3), dtype=np.float32)
    bi = np.trunc(boxes[:, :4]).astype(np.int64)
    for k, (x1, y1, x2, y2) in enumerate(bi):
        bw, bh = int(x2 - x1 + 1), int(y2 - y1 + 1)
        tmp = np.zeros((max(bh, 1), max(bw, 1), 3), dtype=np.float32)
        sx1, sy1, sx2, sy2 = max(x1, 0), max(y1, 0), min(x2, w - 1), min(y2, h - 1)
        if sx2 >= sx1 and sy2 >= sy1:
            tmp[sy1 - y1 : sy2 - y1 + 1, sx1 - x1 : sx2 - x1 + 1] = img[
                sy1 : sy2 + 1, sx1 : sx2 + 1
            ]
        out[k] = cv2.resize(tmp, (size, size), interpolation=cv2.INTER_AREA)
    return ((out - 127.5) * 0.0078125).transpose(0, 3, 1, 2)


@torch.inference_mode()
def run_mtcnn(
    nets: MTCNNNets,
    rgb: np.ndarray,
    min_face: int = 20,
    factor: float = 0.709,
    thresholds: tuple[float, float, float] = (0.6, 0.7, 0.7),
) -> tuple[np.ndarray, np.ndarray]:
    """Detect faces in one RGB uint8 image.

    Returns ``(boxes, points)``: boxes (n, 5) = x1, y1, x2, y2, score; points (n, 5, 2) = left eye,
    right eye, nose, left mouth corner, right mouth corner (image-left first), in pixels.
    """
    img = np.ascontiguousarray(rgb[..., :3]).astype(np.float32)
    h, w = img.shape[:2]
    empty = (np.zeros((0, 5), np.float32), np.zeros((0, 5, 2), np.float32))
    m = 12.0 / min_face
    minl = min(h, w) * m
    scales = []
    s = m
    while minl >= 12:
        scales.append(s)
        s *= factor
        minl *= factor
    # Stage 1: PNet over the pyramid.
    cands = []
    for scale in scales:
        hs, ws = int(np.ceil(h * scale)), int(np.ceil(w * scale))
        im = cv2.resize(img, (ws, hs), interpolation=cv2.INTER_AREA)
        x = torch.from_numpy(((im - 127.5) * 0.0078125).transpose(2, 0, 1)[None].copy())
        reg, prob = nets.pnet(x)
        prob = prob[0, 1].numpy()
        reg = reg[0].numpy()
        ys, xs = np.nonzero(prob >= thresholds[0])
        if len(ys) == 0:
            continue
        q1x = np.floor((2 * xs + 1) / scale)
        q1y = np.floor((2 * ys + 1) / scale)
        q2x = np.floor((2 * xs + 12) / scale)
        q2y = np.floor((2 * ys + 12) / scale)
        b = np.stack([q1x, q1y, q2x, q2y, prob[ys, xs], *reg[:, ys, xs]], axis=1)
        b = b[_nms(b[:, :4], b[:, 4], 0.5)]
        cands.append(b)
    if not cands:
        return empty
    b = np.concatenate(cands)
    b = b[_nms(b[:, :4], b[:, 4], 0.7)]
    boxes = np.concatenate([_bbreg(b[:, :4], b[:, 5:9]), b[:, 4:5]], axis=1)
    boxes[:, :4] = _square(boxes[:, :4])
    return _refine(nets, img, boxes, thresholds)


def _refine(
    nets: MTCNNNets, img: np.ndarray, boxes: np.ndarray, thresholds: tuple[float, float, float]
) -> tuple[np.ndarray, np.ndarray]:
    """Stages 2 and 3 (RNet, ONet) on square candidate boxes (n, 5) of a float32 image."""
    empty = (np.zeros((0, 5), np.float32), np.zeros((0, 5, 2), np.float32))
    if len(boxes) == 0:
        return empty
    # Stage 2: RNet.
    reg, prob = nets.rnet(torch.from_numpy(_patches(img, boxes, 24)))
    score = prob[:, 1].numpy()
    keep = score > thresholds[1]
    boxes, reg = boxes[keep], reg.numpy()[keep]
    boxes[:, 4] = score[keep]
    if len(boxes) == 0:
        return empty
    k = _nms(boxes[:, :4], boxes[:, 4], 0.7)
    boxes, reg = boxes[k], reg[k]
    boxes[:, :4] = _square(_bbreg(boxes[:, :4], reg))
    # Stage 3: ONet.
    reg, lm, prob = nets.onet(torch.from_numpy(_patches(img, boxes, 48)))
    score = prob[:, 1].numpy()
    keep = score > thresholds[2]
    boxes, reg, lm = boxes[keep], reg.numpy()[keep], lm.numpy()[keep]
    boxes[:, 4] = score[keep]
    if len(boxes) == 0:
        return empty
    bw = (boxes[:, 2] - boxes[:, 0] + 1)[:, None]
    bh = (boxes[:, 3] - boxes[:, 1] + 1)[:, None]
    px = bw * lm[:, 0:5] + boxes[:, 0:1] - 1
    py = bh * lm[:, 5:10] + boxes[:, 1:2] - 1
    points = np.stack([px, py], axis=2)
    boxes[:, :4] = _bbreg(boxes[:, :4], reg)
    k = _nms(boxes[:, :4], boxes[:, 4], 0.7, "min")
    return boxes[k].astype(np.float32), points[k].astype(np.float32)


#: Candidate boxes per prior box in :func:`run_mtcnn_from_boxes`: (scale, x shift, y shift) of
#: the prior's side, covering a face that moved or changed size since the prior was found.
PRIOR_JITTER = tuple(
    (scale, dx, dy)
    for scale in (1.0, 1.25)
    for dx in (-0.15, 0.0, 0.15)
    for dy in (-0.15, 0.0, 0.15)
)


@torch.inference_mode()
def run_mtcnn_from_boxes(
    nets: MTCNNNets,
    rgb: np.ndarray,
    priors: np.ndarray,
    thresholds: tuple[float, float, float] = (0.6, 0.7, 0.7),
) -> tuple[np.ndarray, np.ndarray]:
    """Faces near known boxes: RNet and ONet on candidates around ``priors`` (n, 4), no PNet.

    For tracking a face from one sampled frame to the next: the image pyramid and PNet (most of
    MTCNN's time) are skipped, and the candidates are the prior boxes, squared, under the shifts
    and scales of :data:`PRIOR_JITTER`. Returns what :func:`run_mtcnn` returns.
    """
    img = np.ascontiguousarray(rgb[..., :3]).astype(np.float32)
    priors = _square(np.asarray(priors, dtype=np.float32).reshape(-1, 4))
    cands = []
    for scale, dx, dy in PRIOR_JITTER:
        side = (priors[:, 2] - priors[:, 0]) * scale
        cx = (priors[:, 0] + priors[:, 2]) / 2 + dx * side
        cy = (priors[:, 1] + priors[:, 3]) / 2 + dy * side
        cands.append(np.stack([cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2], 1))
    boxes = np.concatenate(cands)
    boxes = np.concatenate([boxes, np.ones((len(boxes), 1), np.float32)], axis=1)
    return _refine(nets, img, boxes, thresholds)
