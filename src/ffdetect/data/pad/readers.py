"""Readers of the face anti-spoofing datasets: their own layouts and protocol files -> videos.

Every reader returns :class:`ffdetect.data.readers.VideoItem` records like the deepfake readers:
``id`` = the path relative to the dataset root without the extension, ``label`` 0 = bona fide and
1 = attack, ``method`` = the attack type (:data:`BONAFIDE`, ``print``, ``replay`` or ``mask``),
``split`` = ``train``, ``val`` (the datasets' development sets) or ``test``.

Layouts (the files as the datasets are distributed):

- ``oulu`` (OULU-NPU): ``Train_files/``, ``Dev_files/``, ``Test_files/`` holding
  ``Phone_Session_User_File.avi`` (File 1 = bona fide, 2-3 = print, 4-5 = replay) and
  ``Protocols/Protocol_N/{Train,Dev,Test}.txt`` (N = 1, 2), ``{Train,Dev,Test}_K.txt`` (N = 3, 4,
  folds K = 1-6), lines ``+1,1_1_01_1`` (``+1`` bona fide; ``-1`` print, ``-2`` display: any
  ``-`` is an attack). Without a protocol every video is read, its split from its folder
  (``--fold`` then is an error).
- ``casia`` (CASIA-FASD): ``train_release/<subject>/`` and ``test_release/<subject>/`` with
  ``1``, ``2``, ``HR_1`` (bona fide: low, normal, high quality), ``3``-``6``, ``HR_2``, ``HR_3``
  (warped and cut photo prints) and ``7``, ``8``, ``HR_4`` (video replays). No development set.
- ``replay`` (Idiap Replay-Attack): ``train/``, ``devel/``, ``test/`` each with ``real/`` and
  ``attack/fixed/`` + ``attack/hand/`` (``attack_print_*`` print, ``attack_mobile_*`` and
  ``attack_highdef_*`` screen replays). ``enroll/`` (verification enrolment) is not read.
  ``attack_highdef_*_photo`` and ``attack_mobile_*_photo`` are *photos shown on a screen*; they
  are recorded as ``replay`` with the screen videos, because the field reports Replay-Attack
  (and the cross-domain protocols) as print vs display/replay attacks: the attack instrument
  is the screen, whatever it shows. The file name keeps the photo/video distinction.
- ``msu`` (MSU-MFSD): ``scene01/real/`` and ``scene01/attack/`` (``*printed_photo*`` print,
  ``*ipad_video*``/``*iphone_video*`` replay), subjects ``clientNNN`` in the file names;
  ``train_sub_list.txt`` and ``test_sub_list.txt`` (one subject number a line) at the root or in
  a ``folds/`` or ``protocol/`` folder. No development set.
- ``folder`` with ``task="pad"``: ``[<split>/]real/...`` and ``[<split>/]attack/[<type>/]...``.
"""

from __future__ import annotations

import re
from pathlib import Path

from ffdetect.data.items import DatasetError, VideoItem, find_videos, video_item

__all__ = [
    "ATTACK_TYPES",
    "BONAFIDE",
    "OULU_PROTOCOLS",
    "PAD_DATASETS",
    "oulu_file_type",
    "oulu_protocol_lists",
    "read_pad_dataset",
]

BONAFIDE = "bonafide"
ATTACK_TYPES = ("print", "replay", "mask")
PAD_DATASETS = ("oulu", "casia", "replay", "msu")
#: OULU-NPU protocols and their number of folds (3 and 4: leave one camera out, 6 folds).
OULU_PROTOCOLS = {1: 1, 2: 1, 3: 6, 4: 6}
OULU_FOLDERS = {"Train_files": "train", "Dev_files": "val", "Test_files": "test"}
OULU_LISTS = {"Train": "train", "Dev": "val", "Test": "test"}
_OULU_NAME = re.compile(r"^(\d)_(\d)_(\d\d)_(\d)$")
#: The label column of the protocol lists: +1 bona fide, -1 print, -2 display (both attacks).
OULU_LIST_CODES = {"+1": 0, "1": 0, "-1": 1, "-2": 1}


def oulu_file_type(name: str) -> str:
    """Attack type of an OULU-NPU video name ``Phone_Session_User_File`` (File 1 bona fide)."""
    m = _OULU_NAME.match(name)
    if not m:
        raise DatasetError(f"not an OULU-NPU video name (Phone_Session_User_File): {name!r}")
    kind = int(m.group(4))
    if not 1 <= kind <= 5:
        raise DatasetError(f"OULU-NPU file type must be 1-5: {name!r}")
    return BONAFIDE if kind == 1 else "print" if kind <= 3 else "replay"


def _label(method: str) -> int:
    return 0 if method == BONAFIDE else 1


def _oulu_list(path: Path) -> list[tuple[int, str]]:
    """``(label, name)`` of each line ``+1,1_1_01_1`` of an OULU-NPU protocol list."""
    if not path.is_file():
        raise DatasetError(f"OULU-NPU protocol list missing: {path}")
    out = []
    for n, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        sign, _, name = line.strip().partition(",")
        code = OULU_LIST_CODES.get(sign.strip())
        if not name.strip() or code is None:
            raise DatasetError(
                f"{path}:{n}: expected '+1,NAME' (bona fide) or '-1,NAME'/'-2,NAME' (print/"
                f"display attack), got {line!r}"
            )
        out.append((code, name.strip()))
    return out


def oulu_protocol_lists(root: Path, protocol: int, fold: int | None) -> dict[str, Path]:
    """The ``{split: list file}`` of an OULU-NPU protocol (and fold, for protocols 3 and 4)."""
    if protocol not in OULU_PROTOCOLS:
        raise DatasetError(f"OULU-NPU protocol must be 1-4, got {protocol}")
    folds = OULU_PROTOCOLS[protocol]
    if folds > 1 and fold is None:
        raise DatasetError(f"OULU-NPU protocol {protocol} has folds 1-{folds}: pass --fold K")
    if folds == 1 and fold not in (None, 1):
        raise DatasetError(f"OULU-NPU protocol {protocol} has no folds (got fold {fold})")
    if fold is not None and not 1 <= fold <= folds:
        raise DatasetError(f"OULU-NPU protocol {protocol} has folds 1-{folds}, got {fold}")
    base = next(
        (d for d in (root / "Protocols", root / "protocols") if d.is_dir()), root / "Protocols"
    )
    folder = base / f"Protocol_{protocol}"
    suffix = f"_{fold}" if folds > 1 else ""
    return {split: folder / f"{name}{suffix}.txt" for name, split in OULU_LISTS.items()}


def _oulu(root: Path, protocol: int | None, fold: int | None) -> list[VideoItem]:
    if protocol is None and fold is not None:
        raise DatasetError(
            f"--fold {fold} selects a fold of OULU-NPU protocol 3 or 4: add --protocol"
        )
    found: dict[str, tuple[Path, str]] = {}
    for folder, split in OULU_FOLDERS.items():
        for p in find_videos(root / folder):
            if _OULU_NAME.match(p.stem):
                found.setdefault(p.stem, (p, split))
    if not found:
        raise DatasetError(f"no OULU-NPU videos under {root}/{{Train,Dev,Test}}_files")
    items = []
    if protocol is None:
        for name, (p, split) in found.items():
            method = oulu_file_type(name)
            items.append(video_item(root, p, _label(method), split, method, "oulu"))
        return items
    missing = []
    for split, listing in oulu_protocol_lists(root, protocol, fold).items():
        for label, name in _oulu_list(listing):
            method = oulu_file_type(name)
            if label != _label(method):
                raise DatasetError(f"{listing}: {name} is labelled against its file type")
            if name not in found:
                missing.append(name)
                continue
            items.append(video_item(root, found[name][0], label, split, method, "oulu"))
    if missing:
        raise DatasetError(
            f"{len(missing)} videos of OULU-NPU protocol {protocol} are not under {root} "
            f"(first: {missing[:3]})"
        )
    return items


CASIA_TYPES = {
    "1": BONAFIDE,
    "2": BONAFIDE,
    "HR_1": BONAFIDE,
    "3": "print",
    "4": "print",
    "5": "print",
    "6": "print",
    "HR_2": "print",
    "HR_3": "print",
    "7": "replay",
    "8": "replay",
    "HR_4": "replay",
}
CASIA_RELEASES = {"train_release": "train", "test_release": "test"}


def _casia(root: Path) -> list[VideoItem]:
    items = []
    for release, split in CASIA_RELEASES.items():
        for p in find_videos(root / release):
            method = CASIA_TYPES.get(p.stem)
            if method is None:
                raise DatasetError(f"unknown CASIA-FASD clip name {p.name} (expected 1-8, HR_1-4)")
            items.append(video_item(root, p, _label(method), split, method, "casia"))
    if not items:
        raise DatasetError(f"no CASIA-FASD videos under {root}/{{train,test}}_release")
    return items


REPLAY_SPLITS = {"train": "train", "devel": "val", "test": "test"}


def _replay_type(name: str) -> str:
    if name.startswith("attack_print"):
        return "print"
    if name.startswith(("attack_mobile", "attack_highdef")):
        return "replay"
    raise DatasetError(f"unknown Replay-Attack attack video {name} (attack_print/mobile/highdef)")


def _replay(root: Path) -> list[VideoItem]:
    items = []
    for folder, split in REPLAY_SPLITS.items():
        for p in find_videos(root / folder / "real"):
            items.append(video_item(root, p, 0, split, BONAFIDE, "replay"))
        for support in ("fixed", "hand"):
            for p in find_videos(root / folder / "attack" / support):
                items.append(video_item(root, p, 1, split, _replay_type(p.stem), "replay"))
    if not items:
        raise DatasetError(f"no Replay-Attack videos under {root}/{{train,devel,test}}/real|attack")
    return items


_MSU_CLIENT = re.compile(r"client(\d+)")


def _msu_subjects(root: Path, name: str) -> set[int]:
    for folder in (root, root / "folds", root / "protocol", root / "protocols"):
        f = folder / name
        if f.is_file():
            try:
                return {int(s) for s in f.read_text().split()}
            except ValueError as e:
                raise DatasetError(f"{f}: subject numbers expected: {e}") from e
    raise DatasetError(f"MSU-MFSD subject list {name} not found under {root} (or folds/)")


def _msu_type(name: str) -> str:
    if "printed_photo" in name:
        return "print"
    if "video" in name:
        return "replay"
    raise DatasetError(f"unknown MSU-MFSD attack video {name} (printed_photo, *_video)")


def _msu(root: Path) -> list[VideoItem]:
    train = _msu_subjects(root, "train_sub_list.txt")
    test = _msu_subjects(root, "test_sub_list.txt")
    both = sorted(train & test)
    if both:
        raise DatasetError(f"MSU-MFSD subjects {both} are in both train_sub_list and test_sub_list")
    split_of = {s: "train" for s in train} | {s: "test" for s in test}
    scenes = sorted(d for d in root.iterdir() if d.is_dir() and (d / "real").is_dir())
    items = []
    for scene in scenes:
        for cls in ("real", "attack"):
            for p in find_videos(scene / cls):
                m = _MSU_CLIENT.search(p.stem)
                if not m:
                    raise DatasetError(f"no clientNNN in the MSU-MFSD file name {p.name}")
                split = split_of.get(int(m.group(1)))
                if split is None:
                    continue  # a subject in neither list: not part of the protocol
                method = BONAFIDE if cls == "real" else _msu_type(p.stem)
                items.append(video_item(root, p, _label(method), split, method, "msu"))
    if not items:
        raise DatasetError(f"no MSU-MFSD videos of the listed subjects under {root}/scene*/")
    return items


def read_pad_dataset(
    name: str, root: Path, *, protocol: int | None = None, fold: int | None = None
) -> list[VideoItem]:
    """Videos of PAD dataset ``name`` (one of :data:`PAD_DATASETS`) under ``root``.

    ``protocol`` (and ``fold``) select an OULU-NPU protocol's lists; other datasets have one
    protocol of their own and refuse the option.
    """
    if name != "oulu" and (protocol is not None or fold is not None):
        raise DatasetError(f"--protocol/--fold select OULU-NPU protocols; {name} has none")
    if name == "oulu":
        return _oulu(root, protocol, fold)
    if name == "casia":
        return _casia(root)
    if name == "replay":
        return _replay(root)
    if name == "msu":
        return _msu(root)
    raise DatasetError(f"unknown PAD dataset {name!r}; choose from {', '.join(PAD_DATASETS)}")
