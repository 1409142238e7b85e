"""The prepare job: statuses, manifests, resume, shards, workers, kill-and-resume, CLI."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import pytest

from ffdetect.data.manifest import read_csv
from ffdetect.data.prepare import PrepareConfig, parse_shard, run_prepare, shard_items
from ffdetect.data.readers import read_dataset


def _videos(out: Path) -> dict[str, dict]:
    return {r["video_id"]: r for r in read_csv(out / "videos.csv")}


def test_statuses_and_reasons(prepared_ffpp):
    out, summary, items = prepared_ffpp
    v = _videos(out)
    assert len(v) == len(items) == 8
    base = "original_sequences/youtube/c23/videos/"
    for vid in (base + "000", base + "003", "manipulated_sequences/Deepfakes/c23/videos/000_003"):
        assert v[vid]["status"] == "ok", v[vid]
        assert v[vid]["frames_found"] == "8"
    assert v[base + "002"]["status"] == "failed" and v[base + "002"]["error"].startswith("empty")
    junk = v["manipulated_sequences/FaceSwap/c23/videos/000_003"]
    assert junk["status"] == "failed" and "unreadable" in junk["error"]
    assert v["manipulated_sequences/Deepfakes/c23/videos/001_002"]["status"] == "no_face"
    # The truncated file yields faces from the part that still decodes (or fails cleanly).
    assert v[base + "001"]["status"] in ("ok", "partial", "failed")
    assert summary.failed >= 3 and summary.succeeded >= 4
    assert summary.skipped == 0


def test_manifest_rows_and_crops(prepared_ffpp):
    out, _, _ = prepared_ffpp
    rows = read_csv(out / "manifest.csv")
    v = _videos(out)
    for vid, r in v.items():
        assert sum(1 for m in rows if m["video_id"] == vid) == int(r["frames_found"])
    labels = {m["video_id"]: m["label"] for m in rows}
    assert labels["original_sequences/youtube/c23/videos/000"] == "0"
    assert labels["manipulated_sequences/Deepfakes/c23/videos/000_003"] == "1"
    splits = {m["video_id"]: m["split"] for m in rows}
    assert splits["manipulated_sequences/Deepfakes/c23/videos/003_000"] == "train"
    for m in rows[:6]:
        img = cv2.imread(str(out / m["crop_path"]))
        assert img.shape == (224, 224, 3) and img.mean() > 20  # a real crop, never blank
        assert float(m["det_score"]) >= 0.95
        assert m["crop_path"].startswith("faces/" + m["video_id"] + "/")
    frames = [int(m["frame"]) for m in rows if m["video_id"].endswith("youtube/c23/videos/000")]
    assert frames == sorted(frames) and len(set(frames)) == 8


def test_rerun_skips_and_detects_tampering(prepared_ffpp, ffpp_root, tmp_path):
    out, _, items = prepared_ffpp
    work = tmp_path / "out"
    shutil.copytree(out, work)
    before = (work / "manifest.csv").read_bytes()
    s = run_prepare(items, work, PrepareConfig(frames=8), progress=False)
    assert s.skipped == len(items) and s.done == 0
    assert (work / "manifest.csv").read_bytes() == before
    # Same size, different content: found by the content check and redone.
    row = read_csv(work / "manifest.csv")[0]
    p = work / row["crop_path"]
    data = bytearray(p.read_bytes())
    data[-20] ^= 0xFF
    p.write_bytes(bytes(data))
    s = run_prepare(items, work, PrepareConfig(frames=8), progress=False)
    assert s.done == 1 and s.skipped == len(items) - 1
    assert (work / "manifest.csv").read_bytes() == before
    # Other settings invalidate every record.
    s = run_prepare(items[:2], work, PrepareConfig(frames=2), progress=False)
    assert s.skipped == 0


def test_shards_merge_to_the_unsharded_manifest(prepared_ffpp, tmp_path):
    from ffdetect.data.manifest import merge_shards

    out, _, items = prepared_ffpp
    parts = [shard_items(items, (i, 3)) for i in range(3)]
    assert sorted(it.id for p in parts for it in p) == sorted(it.id for it in items)
    dirs = []
    for i in range(3):
        d = tmp_path / f"m{i}"
        shutil.copytree(out, d, ignore=shutil.ignore_patterns("*.csv"))
        run_prepare(items, d, PrepareConfig(frames=8), shard=(i, 3), progress=False)
        dirs.append(d)
    n_faces, n_videos, missing = merge_shards(dirs[0], dirs[1:])
    assert missing == [] and n_videos == len(items)
    merged = read_csv(dirs[0] / "manifest.csv")
    ref = read_csv(out / "manifest.csv")
    assert [r["video_id"] for r in merged] == [r["video_id"] for r in ref]
    for r in merged:
        assert (dirs[0] / r["crop_path"]).is_file()
    assert parse_shard("1/4") == (1, 4)
    with pytest.raises(ValueError):
        parse_shard("4/4")


def test_cli_folder_layout_and_exit_codes(folder_root, tmp_path):
    from typer.testing import CliRunner

    from ffdetect.cli import app

    runner = CliRunner()
    out = tmp_path / "o"
    r = runner.invoke(
        app,
        [
            "prepare",
            str(folder_root),
            "--dataset",
            "folder",
            "--out",
            str(out),
            "--frames",
            "4",
            "--size",
            "112",
            "--no-progress",
        ],  # fmt: skip
    )
    assert r.exit_code == 0, r.output
    assert "1 failed" in r.output and "3 videos" in r.output
    v = _videos(out)
    assert v["real/a"]["status"] == "ok" and v["real/a"]["label"] == "0"
    assert v["fake/m1/b"]["method"] == "m1" and v["fake/m1/b"]["label"] == "1"
    assert v["fake/junk"]["status"] == "failed"
    # Nothing succeeds -> exit 1; a usage error -> exit 2.
    bad = tmp_path / "bad"
    (bad / "fake").mkdir(parents=True)
    (bad / "fake" / "x.mp4").write_bytes(b"")
    r = runner.invoke(app, ["prepare", str(bad), "--out", str(tmp_path / "o2"), "--no-progress"])
    assert r.exit_code == 1, r.output
    r = runner.invoke(app, ["prepare", str(bad), "--dataset", "nope", "--out", str(tmp_path)])
    assert r.exit_code == 2


def test_celebdf_prepare(celebdf_root, tmp_path):
    items = read_dataset("celebdf", celebdf_root)
    s = run_prepare(items, tmp_path, PrepareConfig(frames=2, size=64), progress=False)
    assert s.failed == 0 and s.faces == 8
    v = _videos(tmp_path)
    assert v["YouTube-real/00000"]["split"] == "test"
    assert v["Celeb-synthesis/id1_id0_0000"]["split"] == "train"


def test_workers_match_single_process(prepared_ffpp, ffpp_root, tmp_path):
    out, _, items = prepared_ffpp
    sub = [it for it in items if it.id.startswith("original")]
    s = run_prepare(sub, tmp_path, PrepareConfig(frames=8, workers=2), progress=False)
    assert s.done == len(sub)
    ref = [r for r in read_csv(out / "manifest.csv") if r["video_id"].startswith("original")]
    got = read_csv(tmp_path / "manifest.csv")
    assert [(r["video_id"], r["frame"]) for r in got] == [(r["video_id"], r["frame"]) for r in ref]


def test_sigkill_then_resume_gives_the_same_manifest(tmp_path, photos):
    from data_helpers import pan_zoom, write_video

    root = tmp_path / "ds"
    for k in range(10):
        ph = photos["astronaut"] if k % 2 else photos["hopper"]
        write_video(root / ("real" if k % 3 else "fake") / f"v{k}.mp4",
                    pan_zoom(ph, 16, size=(320, 240), seed=k))  # fmt: skip
    cmd = [sys.executable, "-m", "ffdetect.cli", "prepare", str(root), "--out", str(tmp_path / "a"),
           "--frames", "8", "--no-progress"]  # fmt: skip
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    rec = tmp_path / "a" / "records"
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        if rec.is_dir() and len(list(rec.rglob("*.json"))) >= 3:
            break
        time.sleep(0.01)
    killed = proc.poll() is None
    if killed:
        proc.send_signal(signal.SIGKILL)
    proc.wait()
    if not killed:
        pytest.skip("the run finished before it could be killed")
    assert not (tmp_path / "a" / "manifest.csv").exists()
    n_before = len(list(rec.rglob("*.json")))
    assert 3 <= n_before < 10
    items = read_dataset("folder", root)
    s = run_prepare(items, tmp_path / "a", PrepareConfig(frames=8), progress=False)
    assert s.skipped == n_before and s.done == 10 - n_before
    run_prepare(items, tmp_path / "b", PrepareConfig(frames=8), progress=False)
    for name in ("manifest.csv", "videos.csv"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    leftovers = [p for p in (tmp_path / "a").rglob("*.tmp")]
    assert len(leftovers) <= 1  # at most the one file being written when killed


def test_rerun_names_earlier_failures_and_retry_failed_retries_them(folder_root, tmp_path):
    """A rerun says how many videos failed before and were skipped, at its start and its end."""
    from typer.testing import CliRunner

    from ffdetect.cli import app

    out = tmp_path / "o"
    args = ["prepare", str(folder_root), "--dataset", "folder", "--out", str(out)]
    args += ["--frames", "2", "--size", "64", "--no-progress"]
    hint = (
        "1 video failed in an earlier run and was skipped: "
        "rerun with --retry-failed to try it again"
    )
    first = CliRunner().invoke(app, args)
    assert first.exit_code == 0 and "1 failed" in first.output, first.output
    assert hint not in first.output  # nothing failed before the first run
    rerun = CliRunner().invoke(app, args)
    assert rerun.exit_code == 0, rerun.output
    assert "0 processed, 3 skipped" in rerun.output and "1 failed" in rerun.output
    lines = rerun.output.splitlines()
    assert lines[0] == f"note: {hint}" and lines[-1] == f"note: {hint}", rerun.output
    retried = CliRunner().invoke(app, [*args, "--retry-failed"])
    assert retried.exit_code == 0, retried.output
    assert "1 processed, 2 skipped" in retried.output and "1 failed" in retried.output
    assert hint not in retried.output
    assert _videos(out)["fake/junk"]["status"] == "failed"


def test_retry_hint_counts_videos() -> None:
    from ffdetect.data.prepare import Summary

    assert Summary(failed_before=0).retry_hint() is None
    assert Summary(failed_before=3).retry_hint() == (
        "3 videos failed in an earlier run and were skipped: "
        "rerun with --retry-failed to try them again"
    )
