"""Readers, video sampling, alignment, tracking, transforms and the PyTorch datasets."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from ffdetect.data.align import align_face, similarity_matrix, template_points, transform_points
from ffdetect.data.detectors import Face
from ffdetect.data.readers import DatasetError, read_dataset
from ffdetect.data.tracking import link_tracks, main_track
from ffdetect.data.video import VideoError, probe_video, read_frames, sample_indices


def test_sample_indices():
    assert sample_indices(300, 8) == [0, 43, 85, 128, 171, 214, 256, 299]
    assert sample_indices(5, 8) == [0, 1, 2, 3, 4]
    assert sample_indices(0, 8) == []


def test_read_frames_and_errors(ffpp_root):
    p = ffpp_root / "original_sequences/youtube/c23/videos/000.mp4"
    assert probe_video(p).frames == 12
    fr = read_frames(p, [0, 5, 11, 40])
    assert sorted(fr) == [0, 5, 11] and fr[5].shape == (144, 192, 3)
    with pytest.raises(VideoError, match="empty"):
        read_frames(ffpp_root / "original_sequences/youtube/c23/videos/002.mp4", [0])
    with pytest.raises(VideoError, match="unreadable"):
        read_frames(ffpp_root / "manipulated_sequences/FaceSwap/c23/videos/000_003.mp4", [0])


def test_ffpp_reader(ffpp_root):
    items = {it.id: it for it in read_dataset("ffpp", ffpp_root)}
    r = items["original_sequences/youtube/c23/videos/003"]
    assert (r.label, r.split, r.method) == (0, "train", "Original")
    f = items["manipulated_sequences/Deepfakes/c23/videos/001_002"]
    assert (f.label, f.split, f.method) == (1, "test", "Deepfakes")
    assert "manipulated_sequences/FaceSwap/c23/videos/000_003" in items  # methods never merge
    only = read_dataset("ffpp", ffpp_root, methods=["Deepfakes"])
    assert not any("FaceSwap" in it.id for it in only)
    with pytest.raises(DatasetError):
        read_dataset("ffpp", ffpp_root, splits=ffpp_root / "nowhere")


def test_celebdf_reader(celebdf_root):
    items = {it.id: it for it in read_dataset("celebdf", celebdf_root)}
    assert items["YouTube-real/00000"].split == "test" and items["YouTube-real/00000"].label == 0
    assert items["Celeb-synthesis/id0_id1_0000"].split == "test"
    assert items["Celeb-synthesis/id1_id0_0000"].split == "train"
    assert items["Celeb-real/id0_0000"].label == 0


def test_other_readers(tmp_path):
    (tmp_path / "dfdc/test/videos").mkdir(parents=True)
    for n in ("a.mp4", "b.mp4"):
        (tmp_path / "dfdc/test/videos" / n).write_bytes(b"x")
    (tmp_path / "dfdc/test/labels.csv").write_text("filename,label\na.mp4,1\nb.mp4,0\n")
    part = tmp_path / "dfdc/dfdc_train_part_0"
    part.mkdir()
    (part / "c.mp4").write_bytes(b"x")
    (part / "metadata.json").write_text(json.dumps({"c.mp4": {"label": "FAKE", "split": "train"}}))
    d = {it.id: it for it in read_dataset("dfdc", tmp_path / "dfdc")}
    assert d["test/videos/a"].label == 1 and d["test/videos/b"].label == 0
    assert d["dfdc_train_part_0/c"].split == "train" and d["dfdc_train_part_0/c"].label == 1
    (tmp_path / "dfdcp/method_A/x").mkdir(parents=True)
    (tmp_path / "dfdcp/method_A/x/v.mp4").write_bytes(b"x")
    (tmp_path / "dfdcp/dataset.json").write_text(
        json.dumps({"method_A/x/v.mp4": {"label": "fake", "set": "test"}})
    )
    (p,) = read_dataset("dfdcp", tmp_path / "dfdcp")
    assert (p.label, p.split, p.method) == (1, "test", "method_A")
    for sub, n in (("source/test", "s.mp4"), ("target/val", "t.mp4")):
        (tmp_path / "ffiw" / sub).mkdir(parents=True)
        (tmp_path / "ffiw" / sub / n).write_bytes(b"x")
    f = {it.id: it for it in read_dataset("ffiw", tmp_path / "ffiw")}
    assert f["source/test/s"].label == 0 and f["target/val/t"].label == 1
    assert f["target/val/t"].split == "val"
    with pytest.raises(DatasetError):
        read_dataset("celebdf", tmp_path)


def test_similarity_alignment_recovers_a_known_transform():
    rng = np.random.default_rng(0)
    src = rng.uniform(0, 100, (5, 2))
    ang, s, t = 0.3, 1.7, np.array([5.0, -3.0])
    r = np.array([[np.cos(ang), -np.sin(ang)], [np.sin(ang), np.cos(ang)]])
    m = similarity_matrix(src, src @ (s * r).T + t)
    assert np.allclose(m, np.c_[s * r, t], atol=1e-9)
    img = np.zeros((300, 300, 3), np.uint8)
    tp = template_points(224, 1.3)
    lm = transform_points(np.c_[0.8 * r, [40, 30]], tp)
    crop, m2 = align_face(img, lm, size=224, scale=1.3)
    assert crop.shape == (224, 224, 3)
    assert np.allclose(transform_points(m2, lm), tp, atol=1e-6)
    crop, m3 = align_face(img, box=(10, 10, 110, 110), size=64, scale=1.0, mode="box")
    assert np.allclose(transform_points(m3, [[10, 10], [110, 110]]), [[0, 0], [64, 64]])


def _face(x, y, s=40, score=0.99):
    return Face((x, y, x + s, y + s), score, np.zeros((5, 2), np.float32))


def test_longest_track_wins():
    dets = {0: [_face(10, 10), _face(200, 10, 80)], 1: [_face(12, 11)], 2: [_face(14, 12)]}
    tracks = link_tracks(dets)
    assert len(tracks) == 2
    assert sorted(main_track(tracks).faces) == [0, 1, 2]
    tie = link_tracks({0: [_face(10, 10), _face(200, 10, 80)]})
    assert main_track(tie).faces[0].box[0] == 200  # larger face breaks the tie


def test_face_frames_and_video_faces(prepared_ffpp):
    from torch.utils.data import DataLoader

    from ffdetect.data.torch_datasets import FaceFrames, VideoFaces, collate_videos
    from ffdetect.data.transforms import eval_transform, train_transform

    out, _, _ = prepared_ffpp
    ds = FaceFrames(out / "manifest.csv", split="train", frames_per_video=4,
                    transform=train_transform())  # fmt: skip
    assert len(ds) == 4 * 4 and sorted(set(ds.labels)) == [0, 1]
    img, label, vid = ds[0]
    assert img.shape == (3, 224, 224) and img.dtype == torch.float32 and isinstance(vid, str)
    vds = VideoFaces(out / "manifest.csv", split=["train"], frames_per_video=3,
                     transform=eval_transform())  # fmt: skip
    frames, owner, labels, ids = next(iter(DataLoader(vds, batch_size=2,
                                                       collate_fn=collate_videos)))  # fmt: skip
    assert frames.shape == (6, 3, 224, 224) and owner.tolist() == [0, 0, 0, 1, 1, 1]
    assert len(ids) == 2 and labels.shape == (2,)
    assert len(FaceFrames(out / "manifest.csv", split="val")) == 0


def test_square_cutout_makes_square_holes():
    from ffdetect.data.transforms import SquareCutout

    t = SquareCutout(num_holes=(1, 1), size=(20, 20), fill=0, p=1.0)
    out = t(image=np.full((64, 64, 3), 255, np.uint8))["image"]
    ys, xs = np.nonzero(out[..., 0] == 0)
    assert ys.max() - ys.min() + 1 == 20 and xs.max() - xs.min() + 1 == 20
