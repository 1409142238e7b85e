"""Synthetic stand-ins for face anti-spoofing data: prints and screen replays rendered offline.

**These are not the real datasets.** An "attack" here is a real face photo (from installed
packages: :mod:`ffdetect.synthesis.sources`) re-rendered as

- a *print*: contrast compressed onto paper (lifted blacks, dimmed whites), a warm colour cast,
  a rotated halftone screen (its beat with the pixel grid gives moire), paper grain and blur;
- a *screen replay*: display gamma, a cool colour cast, an RGB sub-pixel grid with dark row
  gaps, a low-frequency moire and a specular reflection;

then, like the bona fide faces, "captured" by a :class:`Camera` (white balance, blur, noise,
JPEG). Each stand-in domain has its own camera and attack parameters, so training on three and
testing on the fourth is a (toy) domain shift.

Two writers: :func:`write_layout` renders short videos in a dataset's own layout with its
protocol files (``oulu``, ``casia``, ``replay``, ``msu``, ``folder``), for the readers and
``ffdetect prepare``; :func:`build_pad_task` writes face crops straight into ``prepare``'s
output format (``faces/``, ``manifest.csv``, ``videos.csv``) for the benchmark.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ffdetect.data.manifest import (
    write_clip,
    write_tables,
)
from ffdetect.data.pad.readers import BONAFIDE

__all__ = [
    "CAMERAS",
    "Camera",
    "build_pad_task",
    "capture",
    "print_attack",
    "render",
    "replay_attack",
    "write_layout",
]

KINDS = (BONAFIDE, "print", "replay")


@dataclass(frozen=True)
class Camera:
    """One domain's capture: colour gain, blur, noise, JPEG quality and attack-medium pitches."""

    gain: tuple[float, float, float] = (1.0, 1.0, 1.0)
    blur: float = 0.4
    noise: float = 2.0
    jpeg: int = 90
    halftone_pitch: float = 3.2
    screen_pitch: float = 3.0


#: The four stand-in domains (one per cross-domain letter O, C, I, M).
CAMERAS = {
    "oulu": Camera((1.02, 1.0, 0.97), 0.3, 2.0, 92, 3.0, 3.0),
    "casia": Camera((0.97, 1.0, 1.04), 0.7, 3.0, 80, 3.6, 3.4),
    "replay": Camera((1.05, 1.0, 0.94), 0.5, 4.0, 85, 2.8, 2.6),
    "msu": Camera((0.99, 1.02, 1.0), 0.9, 2.5, 75, 3.4, 3.8),
}


def _f(image: np.ndarray) -> np.ndarray:
    return image.astype(np.float32) / 255.0


def _u8(image: np.ndarray) -> np.ndarray:
    return (np.clip(image, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def _grid(shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    h, w = shape
    return np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))


def print_attack(
    image: np.ndarray, rng: np.random.Generator, strength: float = 1.0, pitch: float = 3.2
) -> np.ndarray:
    """``image`` (RGB uint8) as a printed photo; ``strength`` scales every artefact."""
    img = _f(image)
    h, w = img.shape[:2]
    img = 0.12 * strength + img * (1.0 - 0.25 * strength)  # paper: lifted blacks, dim whites
    img *= 1.0 + 0.06 * strength * np.array([1.0, 0.3, -1.0], np.float32)  # warm ink cast
    grey = img.mean(axis=2, keepdims=True)
    img = grey + (img - grey) * (1.0 - 0.2 * strength)  # ink gamut: less saturated
    x, y = _grid((h, w))
    a = rng.uniform(0.2, 1.2)
    u, v = x * np.cos(a) + y * np.sin(a), -x * np.sin(a) + y * np.cos(a)
    dots = np.cos(2 * np.pi * u / pitch) * np.cos(2 * np.pi * v / pitch)
    img *= (1.0 - 0.07 * strength * (0.5 + 0.5 * dots))[..., None]
    grain = cv2.GaussianBlur(rng.normal(0, 1, (h, w)).astype(np.float32), (0, 0), 1.5)
    img += (0.03 * strength * grain / max(float(grain.std()), 1e-6))[..., None]
    return _u8(cv2.GaussianBlur(img, (0, 0), 0.3 + 0.5 * strength))


def replay_attack(
    image: np.ndarray, rng: np.random.Generator, strength: float = 1.0, pitch: float = 3.0
) -> np.ndarray:
    """``image`` (RGB uint8) shown on a screen and filmed; ``strength`` scales every artefact."""
    img = _f(image)
    h, w = img.shape[:2]
    img = np.power(img, 1.0 - 0.25 * strength)  # display gamma: brighter mid-tones
    img *= 1.0 + 0.06 * strength * np.array([-1.0, 0.0, 1.0], np.float32)  # cool backlight
    x, y = _grid((h, w))
    sub = np.stack([np.cos(2 * np.pi * (x / pitch - c / 3.0)) for c in range(3)], axis=-1)
    img *= 1.0 - 0.08 * strength * (0.5 - 0.5 * sub)  # RGB sub-pixel stripes
    rows = 0.5 + 0.5 * np.cos(2 * np.pi * y / pitch)
    img *= (1.0 - 0.06 * strength * rows)[..., None]  # dark gaps between pixel rows
    a, period = rng.uniform(0, np.pi), rng.uniform(8, 16)
    moire = np.cos(2 * np.pi * (x * np.cos(a) + y * np.sin(a)) / period)
    img *= (1.0 + 0.04 * strength * moire)[..., None]
    cx, cy, r = rng.uniform(0, w), rng.uniform(0, h), rng.uniform(0.3, 0.7) * max(h, w)
    glare = np.exp(-((x - cx) ** 2 + (y - cy) ** 2) / (2 * r * r))
    img += (rng.uniform(0.08, 0.2) * strength * glare)[..., None]  # reflection on the glass
    return _u8(img)


def capture(image: np.ndarray, rng: np.random.Generator, camera: Camera) -> np.ndarray:
    """What a domain's camera records of ``image``: per-video white balance around the camera's
    gain, blur, sensor noise and JPEG compression."""
    img = _f(image) * (np.array(camera.gain, np.float32) * rng.uniform(0.96, 1.04, 3))
    if camera.blur > 0:
        img = cv2.GaussianBlur(img, (0, 0), camera.blur)
    img += rng.normal(0, camera.noise / 255.0, img.shape).astype(np.float32)
    ok, buf = cv2.imencode(".jpg", _u8(img)[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, camera.jpeg])
    if not ok:
        raise RuntimeError("JPEG encoding failed")
    return np.ascontiguousarray(cv2.imdecode(buf, cv2.IMREAD_COLOR)[..., ::-1])


def render(
    image: np.ndarray,
    kind: str,
    rng: np.random.Generator,
    camera: Camera = Camera(),
    strength: float = 1.0,
) -> np.ndarray:
    """``image`` presented as ``kind`` (``bonafide``, ``print`` or ``replay``), not captured."""
    if kind == BONAFIDE:
        return image
    if kind == "print":
        return print_attack(image, rng, strength, camera.halftone_pitch)
    if kind == "replay":
        return replay_attack(image, rng, strength, camera.screen_pitch)
    raise ValueError(f"unknown presentation kind {kind!r}; choose from {KINDS}")


def clip(
    photo: np.ndarray,
    kind: str,
    n_frames: int,
    rng: np.random.Generator,
    camera: Camera = Camera(),
    strength: float = 1.0,
) -> list[np.ndarray]:
    """A short clip: the presented photo under a slow camera move, each frame captured."""
    from ffdetect.synthesis.media import clip_frames

    shown = render(photo, kind, rng, camera, strength)
    moved = clip_frames(shown, n_frames, seed=int(rng.integers(2**31)))
    return [capture(f, rng, camera) for f in moved]


# ---- dataset layouts ---------------------------------------------------------------------------

#: A clip to write: (path relative to the root, subject index, presentation kind).
Entry = tuple[str, int, str]


def _oulu_entries(users: dict[str, Sequence[int]], phones: Sequence[int]) -> list[Entry]:
    folders = {"train": "Train_files", "val": "Dev_files", "test": "Test_files"}
    kinds = {1: BONAFIDE, 2: "print", 3: "print", 4: "replay", 5: "replay"}
    out = []
    for split, ids in users.items():
        for user in ids:
            for phone in phones:
                for session in (1, 2, 3):
                    for f, kind in kinds.items():
                        out.append(
                            (f"{folders[split]}/{phone}_{session}_{user:02d}_{f}.avi", user, kind)
                        )
    return out


def oulu_protocol_rule(protocol: int, fold: int | None, split: str, name: str) -> bool:
    """Whether OULU-NPU video ``name`` belongs to ``split`` of a protocol (its published design).

    P1: sessions 1-2 for train/dev, 3 for test; P2: print 1 and display 1 (files 2, 4) for
    train/dev, print 2 and display 2 (3, 5) for test; P3: leave phone ``fold`` out for test;
    P4: all three combined. Users come from the split's folder (train, dev, test users).
    """
    phone, session, _, f = (int(v) for v in name.split("_"))
    test = split == "test"
    ok = True
    if protocol in (1, 4):
        ok &= (session == 3) if test else (session in (1, 2))
    if protocol in (2, 4):
        ok &= f in ((1, 3, 5) if test else (1, 2, 4))
    if protocol in (3, 4):
        ok &= (phone == fold) if test else (phone != fold)
    return ok


def _write_oulu_protocols(root: Path, entries: list[Entry]) -> None:
    from ffdetect.data.pad.readers import OULU_PROTOCOLS, oulu_protocol_lists

    by_split: dict[str, list[str]] = {}
    for rel, _, _ in entries:
        folder, name = rel.split("/")
        split = {"Train_files": "train", "Dev_files": "val", "Test_files": "test"}[folder]
        by_split.setdefault(split, []).append(Path(name).stem)
    for protocol, n_folds in OULU_PROTOCOLS.items():
        for fold in range(1, n_folds + 1) if n_folds > 1 else [None]:
            for split, path in oulu_protocol_lists(root, protocol, fold).items():
                lines = [
                    f"{'+1' if name[-1] == '1' else '-1' if name[-1] in '23' else '-2'},{name}"
                    for name in by_split.get(split, [])
                    if oulu_protocol_rule(protocol, fold, split, name)
                ]
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text("\n".join(lines) + "\n")


def _casia_entries(subjects: dict[str, Sequence[int]]) -> list[Entry]:
    from ffdetect.data.pad.readers import CASIA_TYPES

    release = {"train": "train_release", "test": "test_release"}
    return [
        (f"{release[split]}/{s}/{clip_name}.avi", s, kind)
        for split, ids in subjects.items()
        for s in ids
        for clip_name, kind in CASIA_TYPES.items()
    ]


def _replay_entries(subjects: dict[str, Sequence[int]]) -> list[Entry]:
    folder = {"train": "train", "val": "devel", "test": "test"}
    out = []
    for split, ids in subjects.items():
        for s in ids:
            base = f"client{s:03d}_session01"
            d = folder[split]
            out += [
                (f"{d}/real/{base}_webcam_authenticate_controlled_1.mov", s, BONAFIDE),
                (f"{d}/attack/fixed/attack_print_{base}_highdef_photo_controlled.mov", s, "print"),
                (f"{d}/attack/hand/attack_mobile_{base}_mobile_video_adverse.mov", s, "replay"),
                (
                    f"{d}/attack/fixed/attack_highdef_{base}_highdef_video_controlled.mov",
                    s,
                    "replay",
                ),
            ]
    return out


def _msu_entries(subjects: dict[str, Sequence[int]]) -> list[Entry]:
    out = []
    for ids in subjects.values():
        for s in ids:
            c = f"client{s:03d}"
            out += [
                (f"scene01/real/real_{c}_android_SD_scene01.mp4", s, BONAFIDE),
                (f"scene01/real/real_{c}_laptop_SD_scene01.mov", s, BONAFIDE),
                (f"scene01/attack/attack_{c}_android_SD_printed_photo_scene01.mp4", s, "print"),
                (f"scene01/attack/attack_{c}_laptop_SD_ipad_video_scene01.mov", s, "replay"),
                (f"scene01/attack/attack_{c}_android_SD_iphone_video_scene01.mp4", s, "replay"),
            ]
    return out


def _folder_entries(subjects: dict[str, Sequence[int]]) -> list[Entry]:
    out = []
    for split, ids in subjects.items():
        for s in ids:
            out += [
                (f"{split}/real/subject{s}.mp4", s, BONAFIDE),
                (f"{split}/attack/print/subject{s}.mp4", s, "print"),
                (f"{split}/attack/replay/subject{s}.mp4", s, "replay"),
            ]
    return out


def layout_entries(
    dataset: str, subjects: dict[str, Sequence[int]], phones: Sequence[int] = (1, 2)
) -> list[Entry]:
    """The clips of a stand-in in ``dataset``'s layout for ``{split: subject numbers}``."""
    if dataset == "oulu":
        return _oulu_entries(subjects, phones)
    if dataset == "casia":
        return _casia_entries(subjects)
    if dataset == "replay":
        return _replay_entries(subjects)
    if dataset == "msu":
        return _msu_entries(subjects)
    if dataset == "folder":
        return _folder_entries(subjects)
    raise ValueError(f"no stand-in layout for {dataset!r}")


def write_layout(
    root: str | Path,
    dataset: str,
    photos: Sequence[np.ndarray],
    subjects: dict[str, Sequence[int]],
    *,
    n_frames: int = 3,
    height: int = 96,
    seed: int = 0,
    strength: float = 1.0,
    phones: Sequence[int] = (1, 2),
    select: Callable[[Entry], bool] | None = None,
) -> list[Entry]:
    """Render a stand-in of ``dataset`` under ``root``: videos in its layout + protocol files.

    Subject ``s`` shows ``photos[s % len(photos)]``; ``subjects`` maps each split the dataset
    has (``train``, ``val``, ``test``) to subject numbers; ``select`` keeps only some clips
    (the protocol files list every clip regardless). Returns the written clips.
    """
    from ffdetect.synthesis.media import resize_to_height, write_video

    root = Path(root)
    camera = CAMERAS.get(dataset, Camera())
    rng = np.random.default_rng(seed)
    entries = layout_entries(dataset, subjects, phones)
    written = []
    for entry in entries:
        rel, subject, kind = entry
        if select is not None and not select(entry):
            continue
        photo = resize_to_height(photos[subject % len(photos)], height)
        write_video(clip(photo, kind, n_frames, rng, camera, strength), root / rel)
        written.append(entry)
    if dataset == "oulu":
        _write_oulu_protocols(root, entries)
    elif dataset == "msu":
        for split in ("train", "test"):
            ids = sorted({f"{s:02d}" for s in subjects.get(split, [])})
            (root / f"{split}_sub_list.txt").write_text("\n".join(ids) + "\n")
    return written


# ---- the benchmark task: face crops in prepare's format ----------------------------------------


def build_pad_task(
    out: str | Path,
    dataset: str,
    faces: Sequence[np.ndarray],
    splits: Sequence[str],
    *,
    size: int = 64,
    frames: int = 4,
    clips_per_kind: int = 1,
    strength: float = 1.0,
    seed: int = 0,
) -> Path:
    """A prepared directory of stand-in domain ``dataset`` (its :data:`CAMERAS` entry).

    Face ``i`` (RGB, any size) is identity ``i`` in split ``splits[i]``; each gets
    ``clips_per_kind`` bona fide, print and replay clips of ``frames`` crops of ``size`` px
    (the presentation is rendered on the face at ``size``, then moved and captured per frame).
    Returns the path of ``manifest.csv``.
    """
    from ffdetect.synthesis.media import random_view, warp_view

    out = Path(out)
    camera = CAMERAS[dataset]
    rng = np.random.default_rng(seed)
    face_rows, video_rows = [], []
    for idx, (face, split) in enumerate(zip(faces, splits, strict=True)):
        base_img = cv2.resize(face, (size, size), interpolation=cv2.INTER_CUBIC)
        for k in range(clips_per_kind):
            for kind in KINDS:
                label = 0 if kind == BONAFIDE else 1
                video_id = f"{kind}/id{idx:03d}_{k}"
                base = {
                    "video_id": video_id,
                    "dataset": dataset,
                    "method": kind,
                    "split": split,
                    "label": label,
                }
                shown = render(base_img, kind, rng, camera, strength)
                crops = [
                    capture(warp_view(shown, random_view((size, size), rng)), rng, camera)
                    for _ in range(frames)
                ]
                rows, video = write_clip(out, base, crops, f"synthetic:{dataset}#{idx}")
                face_rows += rows
                video_rows.append(video)
    return write_tables(out, face_rows, video_rows)
