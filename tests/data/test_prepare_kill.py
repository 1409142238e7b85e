"""``prepare`` under SIGKILL (issue #13): workers die with their parent, and one run at a time
writes an output folder (a live owner's lock refuses, a dead owner's lock is taken over)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ffdetect.data.prepare import OutLock, PrepareConfig, PrepareLockedError, run_prepare
from ffdetect.data.readers import read_dataset

HOLD_LOCK = """
import sys, time
from pathlib import Path
from ffdetect.data.prepare import OutLock
with OutLock(Path(sys.argv[1])):
    print("locked", flush=True)
    time.sleep(60)
"""


def _children(pid: int) -> list[int]:
    """Live child processes of ``pid`` (from /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            stat = _stat(int(entry.name))
            if stat is not None and stat[1] == pid and stat[0] != "Z":
                found.append(int(entry.name))
    return found


def _stat(pid: int) -> tuple[str, int] | None:
    """(state, parent pid) of a process, None when it does not exist."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    state, ppid = text.rpartition(")")[2].split()[:2]
    return state, int(ppid)


def _alive(pid: int) -> bool:
    stat = _stat(pid)
    return stat is not None and stat[0] != "Z"


def _wait(condition, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def test_live_lock_refuses_and_a_killed_owners_lock_is_taken_over(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(out)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(PrepareLockedError, match=f"pid {holder.pid}"):
            run_prepare([], out, PrepareConfig(), progress=False)
        with OutLock(out, (1, 2)):  # another shard of the same OUT is another writer
            pass
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=10)
    assert (out / ".prepare.lock").read_text().split()[0] == str(holder.pid)  # stale, left behind
    with OutLock(out):
        assert (out / ".prepare.lock").read_text().split()[0] == str(os.getpid())
    run_prepare([], out, PrepareConfig(), progress=False)  # released after use


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")
def test_workers_die_with_a_killed_parent_and_the_resumed_run_is_alone(tmp_path, photos):
    from data_helpers import pan_zoom, write_video

    root = tmp_path / "ds"
    n_videos = 24
    for k in range(n_videos):
        photo = photos["astronaut"] if k % 2 else photos["hopper"]
        write_video(root / ("real" if k % 3 else "fake") / f"v{k:02d}.mp4",
                    pan_zoom(photo, 8, size=(320, 240), seed=k))  # fmt: skip
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "ffdetect.cli", "prepare", str(root), "--out", str(out),
           "--frames", "4", "--workers", "2", "--no-progress"]  # fmt: skip
    parent = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    records = out / "records"
    try:
        busy = _wait(
            lambda: (
                parent.poll() is not None
                or (records.is_dir() and len(list(records.rglob("*.json"))) >= 1)
            ),
            120,
        )
        workers = _children(parent.pid)
        assert busy and parent.poll() is None, "the run ended before it could be killed"
        assert len(workers) >= 2  # two workers (and the resource tracker)
        parent.send_signal(signal.SIGKILL)
        parent.wait(timeout=10)
        killed_at = time.monotonic()
        all_gone = _wait(lambda: not any(_alive(pid) for pid in workers), 5)
        gone_after = time.monotonic() - killed_at
    finally:
        if parent.poll() is None:
            parent.kill()
    survivors = [pid for pid in workers if _alive(pid)]
    for pid in survivors:  # do not leave them running whatever the outcome
        os.kill(pid, signal.SIGKILL)
    assert all_gone, f"workers {survivors} outlived their parent"
    print(f"\n{len(workers)} children gone {gone_after:.2f} s after the parent's SIGKILL")
    n_before = len(list(records.rglob("*.json")))
    assert n_before < n_videos
    time.sleep(0.5)
    assert len(list(records.rglob("*.json"))) == n_before  # nothing writes into OUT any more

    items = read_dataset("folder", root)
    summary = run_prepare(items, out, PrepareConfig(frames=4), progress=False)
    assert summary.skipped == n_before and summary.done == n_videos - n_before
