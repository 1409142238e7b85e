"""PAD readers on file names and protocol lines written out literally, as the real datasets
spell them (not produced by the readers' own tables), so that a wrong mapping fails here."""

from __future__ import annotations

from pathlib import Path

import pytest

from ffdetect.data.readers import DatasetError, read_dataset


def _touch(root: Path, *paths: str) -> None:
    for rel in paths:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(b"")


def _by_name(items) -> dict[str, tuple[str, str, int]]:
    return {it.id.rsplit("/", 1)[-1]: (it.split, it.method, it.label) for it in items}


@pytest.fixture
def oulu(tmp_path) -> Path:
    root = tmp_path / "Oulu_NPU"
    _touch(
        root,
        "Train_files/2_1_01_1.avi",
        "Train_files/2_1_01_2.avi",
        "Train_files/2_1_01_4.avi",
        "Dev_files/3_2_21_1.avi",
        "Dev_files/3_2_21_5.avi",
        "Test_files/1_3_36_1.avi",
        "Test_files/1_3_36_3.avi",
        "Test_files/1_3_36_5.avi",
    )
    lists = root / "Protocols" / "Protocol_3"
    lists.mkdir(parents=True)
    (lists / "Train_1.txt").write_text("+1,2_1_01_1\n-1,2_1_01_2\n-2,2_1_01_4\n")
    (lists / "Dev_1.txt").write_text("+1,3_2_21_1\n-2,3_2_21_5\n")
    (lists / "Test_1.txt").write_text("+1,1_3_36_1\n-1,1_3_36_3\n-2,1_3_36_5\n")
    return root


def test_oulu_protocol_3_fold_1_lists_with_print_and_display_codes(oulu) -> None:
    got = _by_name(read_dataset("oulu", oulu, protocol=3, fold=1))
    assert got == {
        "2_1_01_1": ("train", "bonafide", 0),
        "2_1_01_2": ("train", "print", 1),
        "2_1_01_4": ("train", "replay", 1),  # -2: display attack
        "3_2_21_1": ("val", "bonafide", 0),  # Dev_1.txt -> the development split
        "3_2_21_5": ("val", "replay", 1),
        "1_3_36_1": ("test", "bonafide", 0),
        "1_3_36_3": ("test", "print", 1),
        "1_3_36_5": ("test", "replay", 1),
    }


@pytest.mark.parametrize(
    ("line", "error"),
    [
        ("-2,1_3_36_1", "labelled against"),  # a bona fide file listed as a display attack
        ("+1,1_3_36_5", "labelled against"),
        (",1_3_36_5", "expected"),  # empty sign
        ("+,1_3_36_5", "expected"),
        ("-3,1_3_36_5", "expected"),
        ("-1,", "expected"),
    ],
)
def test_oulu_list_lines_that_are_refused(oulu, line, error) -> None:
    (oulu / "Protocols" / "Protocol_3" / "Test_1.txt").write_text(line + "\n")
    with pytest.raises(DatasetError, match=error):
        read_dataset("oulu", oulu, protocol=3, fold=1)


def test_oulu_fold_needs_a_protocol(oulu) -> None:
    with pytest.raises(DatasetError, match="add --protocol"):
        read_dataset("oulu", oulu, fold=1)
    with pytest.raises(DatasetError, match="OULU-NPU protocols"):
        read_dataset("folder", oulu, fold=1)


def test_replay_attack_file_names(tmp_path) -> None:
    root = tmp_path / "replayattack"
    _touch(
        root,
        "train/real/client001_session01_webcam_authenticate_adverse_1.mov",
        "train/attack/fixed/attack_highdef_client001_session01_highdef_photo_adverse.mov",
        "train/attack/hand/attack_print_client001_session01_highdef_photo_adverse.mov",
        "train/attack/hand/attack_mobile_client001_session01_mobile_video_controlled.mov",
        "devel/attack/fixed/attack_mobile_client003_session01_mobile_photo_adverse.mov",
        "test/real/client009_session02_webcam_authenticate_controlled_2.mov",
        "enroll/client001_session01_enroll_adverse_1.mov",
    )
    got = _by_name(read_dataset("replay", root))
    assert got == {
        "client001_session01_webcam_authenticate_adverse_1": ("train", "bonafide", 0),
        # A photo shown on a high-definition screen: a display (replay) attack, not a print.
        "attack_highdef_client001_session01_highdef_photo_adverse": ("train", "replay", 1),
        "attack_print_client001_session01_highdef_photo_adverse": ("train", "print", 1),
        "attack_mobile_client001_session01_mobile_video_controlled": ("train", "replay", 1),
        "attack_mobile_client003_session01_mobile_photo_adverse": ("val", "replay", 1),
        "client009_session02_webcam_authenticate_controlled_2": ("test", "bonafide", 0),
    }  # enroll/ is not read


@pytest.fixture
def msu(tmp_path) -> Path:
    root = tmp_path / "MSU-MFSD"
    _touch(
        root,
        "scene01/real/real_client002_android_SD_scene01.mp4",
        "scene01/real/real_client001_laptop_SD_scene01.mov",
        "scene01/attack/attack_client002_laptop_SD_printed_photo_scene01.mp4",
        "scene01/attack/attack_client001_laptop_SD_ipad_video_scene01.mov",
        "scene01/attack/attack_client001_android_SD_iphone_video_scene01.mp4",
        "scene01/attack/attack_client055_laptop_SD_printed_photo_scene01.mov",
    )
    (root / "train_sub_list.txt").write_text("02\n03\n")
    (root / "test_sub_list.txt").write_text("01\n")
    return root


def test_msu_two_digit_subject_lists_and_file_names(msu) -> None:
    got = _by_name(read_dataset("msu", msu))
    assert got == {
        "real_client002_android_SD_scene01": ("train", "bonafide", 0),
        "real_client001_laptop_SD_scene01": ("test", "bonafide", 0),
        "attack_client002_laptop_SD_printed_photo_scene01": ("train", "print", 1),
        "attack_client001_laptop_SD_ipad_video_scene01": ("test", "replay", 1),
        "attack_client001_android_SD_iphone_video_scene01": ("test", "replay", 1),
    }  # client055 is in neither list


def test_msu_subject_in_both_lists_is_an_error(msu) -> None:
    (msu / "test_sub_list.txt").write_text("01\n02\n")
    with pytest.raises(DatasetError, match=r"\[2\] are in both"):
        read_dataset("msu", msu)


def test_casia_release_clip_names(tmp_path) -> None:
    root = tmp_path / "CASIA_faceAntisp"
    _touch(
        root,
        "train_release/1/1.avi",
        "train_release/1/HR_1.avi",
        "train_release/1/3.avi",
        "train_release/1/6.avi",
        "train_release/1/HR_4.avi",
        "test_release/2/2.avi",
        "test_release/2/7.avi",
        "test_release/2/HR_2.avi",
        "test_release/2/HR_3.avi",
    )
    got = {it.id: (it.split, it.method, it.label) for it in read_dataset("casia", root)}
    assert got == {
        "train_release/1/1": ("train", "bonafide", 0),
        "train_release/1/HR_1": ("train", "bonafide", 0),
        "train_release/1/3": ("train", "print", 1),  # warped photo
        "train_release/1/6": ("train", "print", 1),  # cut photo
        "train_release/1/HR_4": ("train", "replay", 1),
        "test_release/2/2": ("test", "bonafide", 0),
        "test_release/2/7": ("test", "replay", 1),
        "test_release/2/HR_2": ("test", "print", 1),
        "test_release/2/HR_3": ("test", "print", 1),
    }


def test_task_must_match_the_dataset(tmp_path, msu) -> None:
    with pytest.raises(DatasetError, match="msu is a pad dataset"):
        read_dataset("msu", msu, task="deepfake")
    assert read_dataset("msu", msu, task="pad")
    _touch(tmp_path / "celeb", "Celeb-real/id0_0000.mp4")
    with pytest.raises(DatasetError, match="celebdf is a deepfake dataset"):
        read_dataset("celebdf", tmp_path / "celeb", task="pad")
