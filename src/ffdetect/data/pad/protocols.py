"""Evaluation protocols of face anti-spoofing as *views* of prepared directories.

A view is a folder with its own ``manifest.csv`` and ``videos.csv`` (plus ``view.json`` saying
how it was made) whose rows point at the face crops of already prepared directories (relative
paths), with splits reassigned. Faces are detected once per dataset; every protocol is then a
cheap view that ``train``, ``calibrate`` and ``evaluate`` read like any prepared directory.

- Cross-domain ("leave one dataset out"): ``OCI-M``, ``OMI-C``, ``OCM-I``, ``ICM-O`` (any
  order of the three source letters): O = OULU-NPU, C = CASIA-FASD, I = Idiap Replay-Attack,
  M = MSU-MFSD. Two split rules (``view.json`` records which):

  * ``field`` (default): the split selection of most published OCIM numbers (the label
    scripts of SSDG, Jia et al. CVPR 2020, which later work reuses): every source's ``train``
    *and* ``test`` videos train, and the target's ``train`` and ``test`` videos together test.
    Development videos (OULU-NPU's and Replay-Attack's) are left out of training and testing
    there; here the sources' development videos validate and calibrate (epoch selection and
    the development threshold), and the target's are left out.
  * ``strict``: the sources' ``train`` videos train, their ``val`` videos validate and
    calibrate, and only the target's ``test`` videos test (no identity of the target's
    training split is ever scored).

  Video ids get their dataset as a prefix (``msu/scene01/real/...``) so ids of different
  datasets never merge.
- OULU-NPU protocols 1-4 (3 and 4 in six leave-one-camera-out folds): the protocol's lists
  choose the videos and their splits (:func:`ffdetect.data.pad.readers.read_pad_dataset`).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from pathlib import Path

from ffdetect.data.manifest import (
    atomic_write_text,
    read_csv,
    write_tables,
)
from ffdetect.data.readers import DatasetError, VideoItem

__all__ = [
    "CROSS_DOMAIN_LETTERS",
    "CROSS_DOMAIN_PROTOCOLS",
    "SPLIT_RULES",
    "cross_domain_view",
    "parse_cross_domain",
    "protocol_view",
]

CROSS_DOMAIN_LETTERS = {"O": "oulu", "C": "casia", "I": "replay", "M": "msu"}
CROSS_DOMAIN_PROTOCOLS = ("OCI-M", "OMI-C", "OCM-I", "ICM-O")
#: Split rules of the cross-domain views: {rule: (source splits that train, target splits that
#: test)}; the sources' ``val`` always validates. See the module docstring.
SPLIT_RULES = {"field": (("train", "test"), ("train", "test")), "strict": (("train",), ("test",))}

#: A selection from one prepared directory: {source video id: (view video id, view split)}.
Selection = dict[str, tuple[str, str]]


def parse_cross_domain(protocol: str) -> tuple[list[str], str]:
    """``"OCI-M"`` -> (source dataset names, target dataset name)."""
    text = protocol.strip().upper()
    src, sep, tgt = text.partition("-")
    letters = list(src) + [tgt]
    if not sep or len(src) != 3 or len(tgt) != 1 or set(letters) != set(CROSS_DOMAIN_LETTERS):
        raise DatasetError(
            f"cross-domain protocol {protocol!r}: three sources, a dash and the target, each of "
            f"O (OULU-NPU), C (CASIA-FASD), I (Replay-Attack), M (MSU-MFSD) once, e.g. OCI-M"
        )
    return [CROSS_DOMAIN_LETTERS[c] for c in src], CROSS_DOMAIN_LETTERS[tgt]


def _prepared(source: Path) -> tuple[list[dict], list[dict]]:
    manifest, videos = source / "manifest.csv", source / "videos.csv"
    if not manifest.is_file() or not videos.is_file():
        raise DatasetError(f"{source} is not a prepared directory (manifest.csv + videos.csv)")
    return read_csv(manifest), read_csv(videos)


def _datasets_of(source: Path) -> set[str]:
    return {r["dataset"] for r in _prepared(source)[1]}


def write_view(
    out: str | Path, selections: Sequence[tuple[Path, Selection]], info: dict
) -> dict[str, dict[str, int]]:
    """Write the view ``out`` from the selected videos of prepared directories.

    Crop paths become relative to ``out``. Returns ``{split: {"videos": n, "faces": n}}``.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    faces, videos = [], []
    for source, chosen in selections:
        source = Path(source)
        face_rows, video_rows = _prepared(source)
        known = {r["video_id"] for r in video_rows}
        missing = sorted(set(chosen) - known)
        if missing:
            raise DatasetError(
                f"{len(missing)} videos of the protocol are not prepared in {source} "
                f"(first: {missing[:3]}); prepare the whole dataset first"
            )
        for r in video_rows:
            if r["video_id"] in chosen:
                vid, split = chosen[r["video_id"]]
                videos.append({**r, "video_id": vid, "split": split})
        for r in face_rows:
            if r["video_id"] in chosen:
                vid, split = chosen[r["video_id"]]
                crop = Path(os.path.relpath(source.resolve() / r["crop_path"], out.resolve()))
                faces.append({**r, "video_id": vid, "split": split, "crop_path": crop.as_posix()})
    ids = [r["video_id"] for r in videos]
    if len(set(ids)) != len(ids):
        raise DatasetError("the view would hold duplicate video ids")
    videos.sort(key=lambda r: r["video_id"])
    faces.sort(key=lambda r: (r["video_id"], int(r["frame"])))
    write_tables(out, faces, videos)
    counts: dict[str, dict[str, int]] = {}
    for r in videos:
        c = counts.setdefault(r["split"], {"videos": 0, "faces": 0})
        c["videos"] += 1
    for r in faces:
        counts[r["split"]]["faces"] += 1
    doc = {**info, "sources": [str(s) for s, _ in selections], "splits": counts}
    atomic_write_text(out / "view.json", json.dumps(doc, indent=1, sort_keys=True) + "\n")
    return counts


def cross_domain_view(
    out: str | Path,
    protocol: str,
    sources: Iterable[str | Path],
    split_rule: str = "field",
    target_splits: Sequence[str] | None = None,
) -> dict[str, dict[str, int]]:
    """Write the cross-domain view ``protocol`` (e.g. ``"OCI-M"``) from prepared directories.

    ``sources`` are the prepared directories of the four datasets, in any order; each must hold
    one dataset (its ``dataset`` column names it: oulu, casia, replay or msu). ``split_rule``
    is ``field`` or ``strict`` (:data:`SPLIT_RULES`); ``target_splits`` overrides the rule's
    choice of the target's splits that test.
    """
    if split_rule not in SPLIT_RULES:
        raise DatasetError(
            f"split rule must be one of {', '.join(SPLIT_RULES)}, got {split_rule!r}"
        )
    source_splits, rule_target = SPLIT_RULES[split_rule]
    target_splits = tuple(rule_target if target_splits is None else target_splits)
    names, target = parse_cross_domain(protocol)
    by_name: dict[str, Path] = {}
    for s in sources:
        s = Path(s)
        found = _datasets_of(s)
        if len(found) != 1:
            raise DatasetError(f"{s} holds datasets {sorted(found)}; one dataset per directory")
        name = found.pop()
        if name in by_name:
            raise DatasetError(f"dataset {name} given twice ({by_name[name]} and {s})")
        by_name[name] = s
    needed = [*names, target]
    absent = [n for n in needed if n not in by_name]
    if absent:
        raise DatasetError(
            f"protocol {protocol} needs prepared {', '.join(absent)}; given: "
            f"{', '.join(sorted(by_name)) or 'none'} (pass one --from per dataset)"
        )
    selections = []
    for name in needed:
        if name == target:
            keep = {s: "test" for s in target_splits}
        else:
            keep = {s: "train" for s in source_splits} | {"val": "val"}
        rows = _prepared(by_name[name])[1]
        chosen = {
            r["video_id"]: (f"{name}/{r['video_id']}", keep[r["split"]])
            for r in rows
            if r["split"] in keep
        }
        selections.append((by_name[name], chosen))
    info = {
        "protocol": protocol.upper(),
        "kind": "cross-domain",
        "train": names,
        "test": target,
        "split_rule": split_rule,
        "source_splits": {"train": list(source_splits), "val": ["val"]},
        "target_splits": list(target_splits),
    }
    return write_view(out, selections, info)


def protocol_view(
    out: str | Path, source: str | Path, items: Sequence[VideoItem], info: dict
) -> dict[str, dict[str, int]]:
    """A view of ``source`` holding exactly ``items`` (e.g. an OULU-NPU protocol's videos) with
    their splits."""
    chosen = {it.id: (it.id, it.split) for it in items}
    return write_view(out, [(Path(source), chosen)], {**info, "kind": "dataset protocol"})
