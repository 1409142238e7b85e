"""PAD readers on stand-ins written in each dataset's own layout with its protocol files."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from ffdetect.data.pad.readers import oulu_file_type
from ffdetect.data.readers import DatasetError, read_dataset
from ffdetect.synthesis.pad import layout_entries, write_layout
from ffdetect.synthesis.sources import astronaut, grace_hopper

OULU_USERS = {"train": [1], "val": [21], "test": [36]}


@pytest.fixture(scope="module")
def photos() -> list[np.ndarray]:
    return [grace_hopper(), astronaut()]


def _write(tmp: Path, dataset: str, photos, subjects, **kw) -> Path:
    root = tmp / dataset
    write_layout(root, dataset, photos, subjects, n_frames=2, height=48, **kw)
    return root


@pytest.fixture(scope="module")
def oulu(tmp_path_factory, photos) -> Path:
    # Three phones, three sessions, five files of three users: 135 tiny clips.
    return _write(tmp_path_factory.mktemp("o"), "oulu", photos, OULU_USERS, phones=(1, 2, 3))


def _name(item) -> str:
    return item.id.split("/")[-1]


def test_oulu_without_protocol_reads_every_video_with_folder_splits(oulu) -> None:
    items = read_dataset("oulu", oulu)
    assert len(items) == 3 * 3 * 3 * 5
    assert Counter(it.split for it in items) == {"train": 45, "val": 45, "test": 45}
    assert Counter(it.method for it in items) == {"bonafide": 27, "print": 54, "replay": 54}
    assert all(it.label == (it.method != "bonafide") for it in items)
    assert all(it.dataset == "oulu" for it in items)


def test_oulu_protocol_1_splits_by_session(oulu) -> None:
    items = read_dataset("oulu", oulu, protocol=1)
    sessions = {
        s: {int(_name(it).split("_")[1]) for it in items if it.split == s}
        for s in ("train", "val", "test")
    }
    assert sessions == {"train": {1, 2}, "val": {1, 2}, "test": {3}}
    assert {it.id.split("/")[0] for it in items if it.split == "test"} == {"Test_files"}


def test_oulu_protocol_2_holds_out_the_second_print_and_display(oulu) -> None:
    items = read_dataset("oulu", oulu, protocol=2)
    files = {s: {int(_name(it)[-1]) for it in items if it.split == s} for s in ("train", "test")}
    assert files == {"train": {1, 2, 4}, "test": {1, 3, 5}}


@pytest.mark.parametrize("fold", [1, 2, 3])
def test_oulu_protocol_3_leaves_one_phone_out(oulu, fold) -> None:
    items = read_dataset("oulu", oulu, protocol=3, fold=fold)
    phones = {s: {int(_name(it)[0]) for it in items if it.split == s} for s in ("train", "test")}
    assert phones["test"] == {fold}
    assert fold not in phones["train"]


def test_oulu_protocol_4_combines_all_three(oulu) -> None:
    items = read_dataset("oulu", oulu, protocol=4, fold=2)
    test = [_name(it) for it in items if it.split == "test"]
    assert test and all(n.startswith("2_3_") and n[-1] in "135" for n in test)


def test_oulu_protocol_errors(oulu, tmp_path) -> None:
    with pytest.raises(DatasetError, match="folds 1-6"):
        read_dataset("oulu", oulu, protocol=3)
    with pytest.raises(DatasetError, match="folds 1-6"):
        read_dataset("oulu", oulu, protocol=4, fold=7)
    with pytest.raises(DatasetError, match="protocol must be 1-4"):
        read_dataset("oulu", oulu, protocol=5)
    with pytest.raises(DatasetError, match="OULU-NPU protocols"):
        read_dataset("casia", oulu, protocol=1)
    with pytest.raises(DatasetError, match="not an OULU-NPU video name"):
        oulu_file_type("1_1_1_1")
    # A protocol list naming a video that is not there, and a malformed line.
    listing = oulu / "Protocols" / "Protocol_1" / "Train.txt"
    original = listing.read_text()
    try:
        listing.write_text(original + "+1,6_1_20_1\n")
        with pytest.raises(DatasetError, match="not under"):
            read_dataset("oulu", oulu, protocol=1)
        listing.write_text("1_1_01_1\n")
        with pytest.raises(DatasetError, match=r"expected '\+1,NAME'"):
            read_dataset("oulu", oulu, protocol=1)
        listing.write_text("-1,1_1_01_1\n")
        with pytest.raises(DatasetError, match="labelled against"):
            read_dataset("oulu", oulu, protocol=1)
    finally:
        listing.write_text(original)


def test_casia_releases_and_clip_types(tmp_path, photos) -> None:
    root = _write(tmp_path, "casia", photos, {"train": [1], "test": [1, 2]})
    items = read_dataset("casia", root)
    assert Counter(it.split for it in items) == {"train": 12, "test": 24}
    per_subject = Counter(it.method for it in items if it.id.startswith("train_release/1/"))
    assert per_subject == {"bonafide": 3, "print": 6, "replay": 3}
    by_name = {it.id: it for it in items}
    assert by_name["test_release/2/HR_1"].label == 0
    assert by_name["test_release/2/HR_4"].method == "replay"
    assert by_name["train_release/1/5"].method == "print"
    (root / "train_release" / "1" / "9.avi").write_bytes(b"x")
    with pytest.raises(DatasetError, match="unknown CASIA-FASD clip"):
        read_dataset("casia", root)


def test_replay_attack_splits_and_supports(tmp_path, photos) -> None:
    root = _write(tmp_path, "replay", photos, {"train": [1], "val": [2], "test": [3]})
    items = read_dataset("replay", root)
    assert Counter(it.split for it in items) == {"train": 4, "val": 4, "test": 4}
    assert Counter(it.method for it in items) == {"bonafide": 3, "print": 3, "replay": 6}
    assert {it.id.split("/")[0] for it in items if it.split == "val"} == {"devel"}
    assert any("/attack/hand/" in it.id for it in items)


def test_msu_subject_lists(tmp_path, photos) -> None:
    root = _write(tmp_path, "msu", photos, {"train": [2, 3], "test": [1]})
    items = read_dataset("msu", root)
    assert Counter(it.split for it in items) == {"train": 10, "test": 5}
    assert Counter(it.method for it in items) == {"bonafide": 6, "print": 3, "replay": 6}
    # A subject in neither list is not part of the protocol.
    (root / "test_sub_list.txt").write_text("")
    assert {it.split for it in read_dataset("msu", root)} == {"train"}
    (root / "train_sub_list.txt").unlink()
    with pytest.raises(DatasetError, match="train_sub_list.txt"):
        read_dataset("msu", root)


def test_folder_task_pad_reads_attack_folders(tmp_path, photos) -> None:
    root = _write(tmp_path, "folder", photos, {"train": [1], "test": [2]})
    assert {it.label for it in read_dataset("folder", root)} == {0}  # deepfake: fake/ only
    with pytest.raises(DatasetError, match="real or attack"):
        read_dataset("folder", root / "train" / "attack", task="pad")
    items = read_dataset("folder", root, task="pad")
    assert Counter((it.split, it.method, it.label) for it in items) == {
        ("train", "bonafide", 0): 1,
        ("train", "print", 1): 1,
        ("train", "replay", 1): 1,
        ("test", "bonafide", 0): 1,
        ("test", "print", 1): 1,
        ("test", "replay", 1): 1,
    }
    with pytest.raises(DatasetError, match="unknown task"):
        read_dataset("folder", root, task="spoof")


def test_layouts_name_every_clip_like_the_datasets() -> None:
    entries = layout_entries("msu", {"train": [7]})
    assert "scene01/attack/attack_client007_android_SD_printed_photo_scene01.mp4" in [
        e[0] for e in entries
    ]
    assert len(layout_entries("oulu", {"train": [1]}, phones=(1,))) == 15


def _imported_modules(module: str) -> set[str]:
    """The ``ffdetect`` modules that ``module``'s source imports anywhere (absolute names)."""
    import ast
    import importlib.util

    spec = importlib.util.find_spec(module)
    assert spec is not None and spec.origin is not None
    package = module.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(Path(spec.origin).read_text())):
        if isinstance(node, ast.ImportFrom):
            base = importlib.util.resolve_name("." * node.level + (node.module or ""), package)
            found.add(base)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {m for m in found if m.startswith("ffdetect")}


def test_dataset_readers_import_one_way() -> None:
    """``readers`` -> ``pad.readers`` -> ``items``: the PAD readers never import the others."""
    assert "ffdetect.data.readers" not in _imported_modules("ffdetect.data.pad.readers")
    assert "ffdetect.data.pad.readers" in _imported_modules("ffdetect.data.readers")
    assert "ffdetect.data.readers" not in _imported_modules("ffdetect.data.items")
