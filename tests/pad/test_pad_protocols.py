"""Protocol views and the PAD workflow from the command line on synthetic stand-ins."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ffdetect.checkpoint.model_format import read_meta
from ffdetect.cli import app
from ffdetect.data.manifest import read_csv
from ffdetect.data.pad.protocols import parse_cross_domain
from ffdetect.data.readers import DatasetError
from ffdetect.data.torch_datasets import FaceFrames
from ffdetect.synthesis.pad import build_pad_task, write_layout
from ffdetect.synthesis.sources import astronaut, grace_hopper, lfw_faces

runner = CliRunner()
ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "configs" / "pad" / "tiny-competitive.yaml"
TINY = [
    "model.img_size=32",
    "model.depth=1",
    "data.batch_size=8",
    "schedule.epochs=2",
    "schedule.warmup_epochs=0.5",
]
DOMAINS = {
    "oulu": ("train", "val", "test"),
    "casia": ("train", "test"),
    "replay": ("train", "val", "test"),
    "msu": ("train", "test"),
}


@pytest.fixture(scope="module")
def domains(tmp_path_factory) -> dict[str, Path]:
    """Four stand-in domains in prepare's format: 2 identities per split, 3 kinds each."""
    base = tmp_path_factory.mktemp("domains")
    faces = lfw_faces()
    out, k = {}, 0
    for name, splits in DOMAINS.items():
        split_of = [s for s in splits for _ in range(2)]
        build_pad_task(
            base / name, name, faces[k : k + len(split_of)], split_of, size=32, frames=2, seed=k
        )
        k += len(split_of)
        out[name] = base / name
    return out


def test_parse_cross_domain() -> None:
    assert parse_cross_domain("OCI-M") == (["oulu", "casia", "replay"], "msu")
    assert parse_cross_domain("icm-o") == (["replay", "casia", "msu"], "oulu")
    for bad in ("OCIM", "OC-M", "OCO-M", "OCI-X", "OCIM-M"):
        with pytest.raises(DatasetError, match="three sources"):
            parse_cross_domain(bad)


def _split_in_source(domains: dict[str, Path]):
    """The split of a view row in its source prepared directory."""
    split = {
        f"{name}/{r['video_id']}": r["split"]
        for name, d in domains.items()
        for r in read_csv(d / "videos.csv")
    }
    return lambda row: split[row["video_id"]]


@pytest.mark.parametrize(
    ("protocol", "rule"),
    [("OCI-M", None), ("OMI-C", "field"), ("OCM-I", "strict"), ("ICM-O", "strict")],
)
def test_cross_domain_views(domains, tmp_path, protocol, rule) -> None:
    view = tmp_path / protocol
    args = ["prepare", "--protocol", protocol, "--out", str(view)]
    args += ["--split-rule", rule] if rule else []
    result = runner.invoke(app, [*args, *(x for d in domains.values() for x in ("--from", str(d)))])
    assert result.exit_code == 0, result.output
    sources, target = parse_cross_domain(protocol)
    videos = read_csv(view / "videos.csv")
    by_split = {s: {r["dataset"] for r in videos if r["split"] == s} for s in ("train", "val")}
    assert by_split["train"] == set(sources)
    assert by_split["val"] == set(sources) & {"oulu", "replay"}  # the dev sets there are
    field = rule in (None, "field")
    _source_split = _split_in_source(domains)
    # field (SSDG's label scripts): sources' train + test train; the target's train + test test.
    trained = {_source_split(r) for r in videos if r["split"] == "train"}
    assert trained == ({"train", "test"} if field else {"train"})
    assert {_source_split(r) for r in videos if r["split"] == "val"} == {"val"}
    test = [r for r in videos if r["split"] == "test"]
    assert {r["dataset"] for r in test} == {target}
    assert {_source_split(r) for r in test} == ({"train", "test"} if field else {"test"})
    assert len(test) == (2 if field else 1) * 2 * 3
    assert all(r["video_id"].startswith(r["dataset"] + "/") for r in videos)
    # The crops resolve through the view (relative paths into the sources).
    faces = FaceFrames(view / "manifest.csv", split="test")
    assert len(faces) == len(test) * 2 and faces[0][0].shape[-1] == 32
    doc = json.loads((view / "view.json").read_text())
    assert doc["test"] == target and doc["split_rule"] == ("field" if field else "strict")
    assert doc["target_splits"] == (["train", "test"] if field else ["test"])


def test_cross_domain_view_errors(domains, tmp_path) -> None:
    three = [x for d in list(domains.values())[:3] for x in ("--from", str(d))]
    r = runner.invoke(app, ["prepare", "--protocol", "OCI-M", "--out", str(tmp_path), *three])
    assert r.exit_code == 2 and "needs prepared msu" in r.output
    twice = [*three, "--from", str(domains["oulu"])]
    r = runner.invoke(app, ["prepare", "--protocol", "OCI-M", "--out", str(tmp_path), *twice])
    assert r.exit_code == 2 and "given twice" in r.output
    r = runner.invoke(app, ["prepare", "--protocol", "OCIM", "--out", str(tmp_path)])
    assert r.exit_code == 2
    all_four = [x for d in domains.values() for x in ("--from", str(d))]
    base = ["prepare", "--protocol", "OCI-M", "--out", str(tmp_path / "v"), *all_four]
    r = runner.invoke(app, [*base, "--fold", "2"])
    assert r.exit_code == 2 and "--fold" in r.output
    r = runner.invoke(app, [*base, "--split-rule", "loose"])
    assert r.exit_code == 2 and "split rule" in r.output
    r = runner.invoke(
        app, ["prepare", str(tmp_path), "--out", str(tmp_path / "w"), "--split-rule", "strict"]
    )
    assert r.exit_code == 2 and "cross-domain" in r.output


def test_oulu_protocol_view_from_one_preparation(tmp_path) -> None:
    """OULU-NPU prepared once (here: stand-in records, no face detection), then protocol views."""
    root = tmp_path / "oulu"
    entries = write_layout(
        root,
        "oulu",
        [grace_hopper()],
        {"train": [1], "val": [21], "test": [36]},
        n_frames=1,
        height=32,
        select=lambda e: False,
    )
    assert entries == [] and (root / "Protocols" / "Protocol_3" / "Test_6.txt").is_file()
    for folder in ("Train_files", "Dev_files", "Test_files"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    from ffdetect.synthesis.pad import layout_entries

    prep = tmp_path / "prep"
    face_rows, video_rows = [], []
    for rel, _, kind in layout_entries("oulu", {"train": [1], "val": [21], "test": [36]}):
        (root / rel).write_bytes(b"")  # the reader only needs the files to exist
        vid = rel.rsplit(".", 1)[0]
        base = {
            "video_id": vid,
            "dataset": "oulu",
            "method": kind,
            "split": "x",
            "label": int(kind != "bonafide"),
        }
        face_rows.append({**base, "frame": 0, "crop_path": f"faces/{vid}/000000.png"})
        video_rows.append({**base, "path": str(root / rel), "status": "ok"})
    from ffdetect.data.manifest import MANIFEST_COLUMNS, VIDEO_COLUMNS, write_csv

    write_csv(prep / "manifest.csv", MANIFEST_COLUMNS, face_rows)
    write_csv(prep / "videos.csv", VIDEO_COLUMNS, video_rows)
    view = tmp_path / "p3f2"
    args = [
        "prepare",
        str(root),
        "--dataset",
        "oulu",
        "--protocol",
        "3",
        "--fold",
        "2",
        "--from",
        str(prep),
        "--out",
        str(view),
    ]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    rows = read_csv(view / "videos.csv")
    assert {r["video_id"].split("/")[1][0] for r in rows if r["split"] == "test"} == {"2"}
    assert {r["split"] for r in rows} == {"train", "val", "test"}
    assert all(r["crop_path"].startswith("../prep/faces/") for r in read_csv(view / "manifest.csv"))
    r = runner.invoke(app, [*args[:-2], "--out", str(tmp_path / "v"), "--from", str(prep)])
    assert r.exit_code == 2 and "one --from" in r.output


@pytest.fixture(scope="module")
def ocim(domains, tmp_path_factory) -> Path:
    view = tmp_path_factory.mktemp("views") / "OCI-M"
    args = ["prepare", "--protocol", "OCI-M", "--out", str(view)]
    args += [x for d in domains.values() for x in ("--from", str(d))]
    assert runner.invoke(app, args).exit_code == 0
    return view


def test_train_calibrate_evaluate_pad(ocim, tmp_path) -> None:
    run = tmp_path / "run"
    args = ["train", "--config", str(CONFIG), "--data", str(ocim), "--out", str(run), *TINY]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    model = run / "model"
    assert read_meta(model).task == "pad"
    r = runner.invoke(
        app, ["calibrate", "--model", str(model), "--results", str(run / "val_results.csv")]
    )
    assert r.exit_code == 0, r.output
    calibration = read_meta(model).calibration
    assert calibration.method == "eer"  # a PAD model's default: the development EER threshold
    threshold = calibration.threshold
    res = tmp_path / "res"
    args = [
        "evaluate",
        "--model",
        str(model),
        "--data",
        str(ocim),
        "--out",
        str(res),
        "--workers",
        "0",
    ]
    r = runner.invoke(app, args, terminal_width=200)
    assert r.exit_code == 0, r.output
    assert (res / "msu.csv").is_file() and "APCER" in r.output
    doc = json.loads((res / "metrics.json").read_text())
    assert [row["name"] for row in doc["rows"]] == ["msu", "msu/print", "msu/replay"]
    whole = doc["rows"][0]
    assert whole["threshold"] == pytest.approx(threshold)
    assert whole["threshold_source"] == "development EER threshold"
    # The field split rule: the target's train and test identities (2 + 2) test.
    assert whole["n_bonafide"] == 4 and whole["n_attack"] == 8
    assert 0.0 <= whole["hter_test_eer"] <= 1.0
    assert 0.0 <= whole["hter"] <= 1.0 and set(whole["apcer_per_type"]) == {"print", "replay"}


def test_train_task_option_and_bad_task(ocim, tmp_path) -> None:
    deepfake_cfg = ROOT / "configs" / "tiny-competitive.yaml"
    base = ["train", "--config", str(deepfake_cfg), "--data", str(ocim), *TINY, "--max-steps", "1"]
    r = runner.invoke(app, [*base, "--out", str(tmp_path / "a"), "--task", "pad"])
    assert r.exit_code == 0, r.output
    assert read_meta(tmp_path / "a" / "model").task == "pad"
    r = runner.invoke(app, [*base, "--out", str(tmp_path / "b"), "--task", "spoof"])
    assert r.exit_code == 2 and "task must be" in r.output


def test_prepare_reads_a_replay_attack_stand_in_with_face_detection(tmp_path) -> None:
    """Videos in Replay-Attack's layout -> MTCNN -> aligned crops with attack types."""
    root = tmp_path / "replay"
    write_layout(
        root,
        "replay",
        [grace_hopper(), astronaut()],
        {"train": [1], "val": [2]},
        n_frames=2,
        height=160,
    )
    out = tmp_path / "prep"
    args = [
        "prepare",
        str(root),
        "--dataset",
        "replay",
        "--out",
        str(out),
        "--frames",
        "2",
        "--size",
        "64",
        "--no-progress",
    ]
    r = runner.invoke(app, args)
    assert r.exit_code == 0, r.output
    videos = read_csv(out / "videos.csv")
    assert len(videos) == 8 and all(v["status"] == "ok" for v in videos), videos
    assert {v["method"] for v in videos} == {"bonafide", "print", "replay"}
    assert {v["split"] for v in videos} == {"train", "val"}
