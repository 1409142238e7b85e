"""Dataset readers: each dataset's own layout and label files -> a list of :class:`VideoItem`.

Conventions (METHOD.md section 5): label 1 = fake; a video's id is its path relative to the
dataset root without the extension (POSIX separators), so two methods' ``000_003`` never merge.

Layouts understood:

- ``ffpp``: ``original_sequences/youtube/<comp>/videos/*.mp4`` (real) and
  ``manipulated_sequences/<method>/<comp>/videos/a_b.mp4`` (fake); splits from the official
  ``train.json``/``val.json``/``test.json`` lists of id pairs (``--splits DIR``, by default
  ``ROOT/splits`` or ``ROOT/dataset/splits``). Real ``a`` and ``b`` and fakes ``a_b`` and ``b_a``
  all belong to the pair's split.
- ``celebdf`` (Celeb-DF v2): ``Celeb-real``, ``YouTube-real`` (real) and ``Celeb-synthesis`` (fake);
  ``List_of_testing_videos.txt`` (``1 path`` = real, ``0 path`` = fake) is the test split, every
  other video is train.
- ``dfdc``: ``labels.csv`` (``filename,label``, 1 = fake; the public test set) anywhere under the
  root, videos found by file name; training parts' ``metadata.json`` (``{"x.mp4": {"label":
  "FAKE"|"REAL", "split": ...}}``) are read too.
- ``dfdcp`` (DFDC preview): ``dataset.json`` at the root, ``{"<relative path>": {"label":
  "real"|"fake", "set": "train"|"test"}}``; the method is the path's first folder.
- ``ffiw`` (FFIW-10K): videos under a ``source`` folder are real and under a ``target`` folder are
  fake; the split is the ``train``/``val``/``test`` folder on the path (default ``test``).
- ``folder``: ``[<split>/]real/...`` and ``[<split>/]fake/[<method>/]...``; without split folders
  every video is ``test``. With ``task="pad"`` the second folder is ``attack/[<type>/]``.
- ``oulu``, ``casia``, ``replay``, ``msu``: the face anti-spoofing datasets, read by
  :mod:`ffdetect.data.pad.readers` (label 1 = attack).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable
from pathlib import Path

from .items import SPLITS, DatasetError, VideoItem, find_videos, video_id, video_item
from .pad.readers import BONAFIDE, PAD_DATASETS, read_pad_dataset

__all__ = ["DATASETS", "DatasetError", "VideoItem", "read_dataset"]

DATASETS = ("ffpp", "celebdf", "dfdc", "dfdcp", "ffiw", "folder", *PAD_DATASETS)
TASKS = ("deepfake", "pad")
FFPP_METHODS = ("Deepfakes", "Face2Face", "FaceSwap", "NeuralTextures")


def read_ffpp_splits(splits_dir: Path) -> dict[str, str]:
    """Map each FF++ id (``"000"``) and id pair (``"000_003"``) to its split."""
    out: dict[str, str] = {}
    for split in SPLITS:
        f = splits_dir / f"{split}.json"
        if not f.is_file():
            raise DatasetError(f"FF++ split file missing: {f}")
        for a, b in json.loads(f.read_text()):
            for key in (a, b, f"{a}_{b}", f"{b}_{a}"):
                out[key] = split
    return out


def _ffpp(root: Path, compression: str, methods: Iterable[str], splits: Path | None) -> list:
    if splits is None:
        for cand in (root / "splits", root / "dataset" / "splits"):
            if (cand / "train.json").is_file():
                splits = cand
                break
        else:
            raise DatasetError(
                f"no FF++ split lists under {root}/splits or {root}/dataset/splits; "
                "pass --splits DIR holding train.json, val.json, test.json"
            )
    split_of = read_ffpp_splits(Path(splits))
    items = []
    real_dir = root / "original_sequences" / "youtube" / compression / "videos"
    for p in find_videos(real_dir):
        items.append(video_item(root, p, 0, split_of.get(p.stem, ""), "Original", "ffpp"))
    for m in methods:
        for p in find_videos(root / "manipulated_sequences" / m / compression / "videos"):
            items.append(video_item(root, p, 1, split_of.get(p.stem, ""), m, "ffpp"))
    if not items:
        raise DatasetError(f"no FF++ videos under {root} (compression {compression})")
    return items


def _celebdf(root: Path) -> list:
    listing = root / "List_of_testing_videos.txt"
    if not listing.is_file():
        raise DatasetError(f"Celeb-DF test list missing: {listing}")
    test: dict[str, int] = {}
    for line in listing.read_text().splitlines():
        parts = line.split()
        if len(parts) >= 2:
            test[Path(parts[1]).with_suffix("").as_posix()] = 0 if parts[0] == "1" else 1
    items = []
    for folder, label in (("Celeb-real", 0), ("YouTube-real", 0), ("Celeb-synthesis", 1)):
        for p in find_videos(root / folder):
            vid = video_id(root, p)
            if vid in test and test[vid] != label:
                raise DatasetError(f"Celeb-DF test list labels {vid} against its folder")
            items.append(
                video_item(root, p, label, "test" if vid in test else "train", folder, "celebdf")
            )
    if not items:
        raise DatasetError(f"no Celeb-DF videos under {root}")
    return items


def _dfdc(root: Path) -> list:
    by_name: dict[str, list[Path]] = {}
    for p in find_videos(root):
        by_name.setdefault(p.name, []).append(p)
    items: dict[str, VideoItem] = {}
    found_labels = False
    for lab in sorted(root.rglob("labels.csv")):
        found_labels = True
        with open(lab, newline="") as fh:
            for row in csv.DictReader(fh):
                name = row.get("filename") or row.get("video") or ""
                cands = [p for p in by_name.get(name, []) if lab.parent in p.parents]
                cands = cands or by_name.get(name, [])
                if cands:
                    it = video_item(
                        root, cands[0], int(float(row["label"])), "test", "DFDC", "dfdc"
                    )
                    items[it.id] = it
    for meta in sorted(root.rglob("metadata.json")):
        found_labels = True
        for name, info in json.loads(meta.read_text()).items():
            p = meta.parent / name
            if p.is_file():
                label = 1 if str(info.get("label", "")).upper() == "FAKE" else 0
                split = str(info.get("split", "train"))
                it = video_item(root, p, label, split, "DFDC", "dfdc")
                items.setdefault(it.id, it)
    if not found_labels:
        raise DatasetError(f"no DFDC labels.csv or metadata.json under {root}")
    return list(items.values())


def _dfdcp(root: Path) -> list:
    f = root / "dataset.json"
    if not f.is_file():
        raise DatasetError(f"DFDC preview index missing: {f}")
    items = []
    for rel, info in json.loads(f.read_text()).items():
        p = root / rel
        if not p.is_file():
            continue
        label = 1 if str(info.get("label", "")).lower() == "fake" else 0
        split = str(info.get("set", "test"))
        items.append(video_item(root, p, label, split, Path(rel).parts[0], "dfdcp"))
    if not items:
        raise DatasetError(f"no DFDC preview videos found from {f}")
    return items


def _ffiw(root: Path) -> list:
    items = []
    for p in find_videos(root):
        parts = p.relative_to(root).parts[:-1]
        if "source" in parts:
            label, method = 0, "source"
        elif "target" in parts:
            label, method = 1, "target"
        else:
            continue
        split = next((s for s in parts if s in SPLITS), "test")
        items.append(video_item(root, p, label, split, method, "ffiw"))
    if not items:
        raise DatasetError(f"no FFIW videos (source/ or target/ folders) under {root}")
    return items


def _folder(root: Path, task: str = "deepfake") -> list:
    positive = "attack" if task == "pad" else "fake"
    items = []
    bases = [(root / s, s) for s in SPLITS if (root / s).is_dir()] or [(root, "test")]
    for base, split in bases:
        for cls, label in (("real", 0), (positive, 1)):
            top = base / cls
            for p in find_videos(top):
                sub = p.relative_to(top).parts
                method = sub[0] if len(sub) > 1 else cls
                if task == "pad" and label == 0:  # as the PAD datasets' readers record it
                    method = BONAFIDE
                items.append(video_item(root, p, label, split, method, "folder"))
    if not items:
        raise DatasetError(f"no videos under {root}/[split/]real or {positive}")
    return items


def read_dataset(
    name: str,
    root: str | Path,
    *,
    compression: str = "c23",
    methods: Iterable[str] | None = None,
    splits: str | Path | None = None,
    task: str | None = None,
    protocol: int | None = None,
    fold: int | None = None,
) -> list[VideoItem]:
    """All videos of dataset ``name`` under ``root``, sorted by id.

    ``task`` defaults to the dataset's own (``pad`` for oulu, casia, replay, msu; ``deepfake``
    for the others); naming the other task is an error, except for ``folder``, where
    ``task="pad"`` reads ``attack/`` instead of ``fake/`` and records bona fide videos as
    ``bonafide``. ``protocol``/``fold`` choose an OULU-NPU protocol
    (:mod:`ffdetect.data.pad.readers`).
    """
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"dataset root is not a folder: {root}")
    if task is not None and task not in TASKS:
        raise DatasetError(f"unknown task {task!r}; choose from {', '.join(TASKS)}")
    own = "pad" if name in PAD_DATASETS else "deepfake" if name != "folder" else None
    if task is not None and own is not None and task != own:
        raise DatasetError(f"{name} is a {own} dataset; --task {task} does not apply to it")
    if name in PAD_DATASETS:
        items = read_pad_dataset(name, root, protocol=protocol, fold=fold)
    elif protocol is not None or fold is not None:
        raise DatasetError(f"--protocol/--fold select OULU-NPU protocols, not {name} ones")
    elif name == "ffpp":
        items = _ffpp(root, compression, methods or FFPP_METHODS, Path(splits) if splits else None)
    elif name == "celebdf":
        items = _celebdf(root)
    elif name == "dfdc":
        items = _dfdc(root)
    elif name == "dfdcp":
        items = _dfdcp(root)
    elif name == "ffiw":
        items = _ffiw(root)
    elif name == "folder":
        items = _folder(root, "pad" if task == "pad" else "deepfake")
    else:
        raise DatasetError(f"unknown dataset {name!r}; choose from {', '.join(DATASETS)}")
    ids = [it.id for it in items]
    if len(set(ids)) != len(ids):
        raise DatasetError("duplicate video ids")
    return sorted(items, key=lambda it: it.id)
