"""``ffdetect demo``: the whole method on an embedded demo model, offline, in a few minutes.

1. The model: ``demo_model/model`` as shipped in the repository (made by
   ``demo_model/make_demo_model.sh`` with the project's own commands; its metadata records them).
   When it is missing the script is run to make it.
2. Sample videos from package-shipped photos (matplotlib's Grace Hopper, scikit-image's
   astronaut), which the demo model never saw: each untouched, each with its face self-blended in
   the SBI recipe (a forgery made in the full frame), and both people side by side, untouched and
   with one of them forged.
3. ``ffdetect detect --explain`` on all of them; verdicts, and where the pictures are, printed.
   Each forgery's score is set against its untouched twin's (the same frames before forging):
   a small model may miss a forgery at the threshold yet still score it above its twin, or not.

``run_untrained_demo`` (``ffdetect demo --untrained``) keeps the older plumbing-only demo with
random weights.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from rich.console import Console
from rich.table import Table

from ffdetect.checkpoint.metadata import ModelMeta
from ffdetect.evaluation.calibration import decide
from ffdetect.inference.scoring import score_crops
from ffdetect.models.backbone import architecture_for
from ffdetect.models.detector import CompetitiveDetector
from ffdetect.synthesis.sources import center_square, lfw_faces, named_photos

REPO_ROOT = Path(__file__).resolve().parents[2]
DEMO_MODEL = REPO_ROOT / "demo_model" / "model"
DEMO_SCRIPT = REPO_ROOT / "demo_model" / "make_demo_model.sh"
VIDEO_HEIGHT = 360
VIDEO_FRAMES = 16
DETECT_FRAMES = 8
#: SBI jitter of the demo's forged videos: the paper's ranges (training drew 0.5-1.5).
DEMO_STRENGTH = 1.0


class DemoError(RuntimeError):
    """The demo cannot run (no model and no way to make one)."""


@dataclass(frozen=True)
class DemoVideo:
    """A sample video and what it really is."""

    path: Path
    truth: str  # "real" or "fake"
    description: str
    twin: Path | None = None  # a forgery's untouched twin


def _forged(photo: np.ndarray, seed: int) -> np.ndarray:
    from ffdetect.data.detectors import make_detector
    from ffdetect.synthesis.media import sbi_face_in_photo

    faces = sorted(make_detector("mtcnn").detect(photo), key=lambda f: -f.area)
    if not faces:
        raise DemoError("no face found in a demo photo")
    return sbi_face_in_photo(photo, faces[0], np.random.default_rng(seed), DEMO_STRENGTH)


def build_demo_videos(out: str | Path, seed: int = 0) -> list[DemoVideo]:
    """Write the sample videos into ``out`` (RGB H.264, 360 px high, 16 frames at 10 fps)."""
    from ffdetect.synthesis.media import clip_frames, resize_to_height, write_video

    out = Path(out)
    photos = {k: resize_to_height(v, VIDEO_HEIGHT) for k, v in named_photos().items()}
    forged = {k: _forged(v, seed + i) for i, (k, v) in enumerate(photos.items())}
    videos = []
    for i, name in enumerate(photos):
        real = write_video(
            clip_frames(photos[name], VIDEO_FRAMES, seed + i), out / f"{name}_real.mp4"
        )
        fake = write_video(
            clip_frames(forged[name], VIDEO_FRAMES, seed + i), out / f"{name}_fake.mp4"
        )
        videos.append(DemoVideo(real, "real", f"{name}, untouched"))
        videos.append(DemoVideo(fake, "fake", f"{name}, face self-blended (forged)", real))
    left = photos["grace_hopper"]
    real = write_video(
        clip_frames(np.concatenate([left, photos["astronaut"]], axis=1), VIDEO_FRAMES, seed + 7),
        out / "two_people_untouched.mp4",
    )
    fake = write_video(
        clip_frames(np.concatenate([left, forged["astronaut"]], axis=1), VIDEO_FRAMES, seed + 7),
        out / "two_people_one_forged.mp4",
    )
    videos.append(DemoVideo(real, "real", "Grace Hopper + astronaut, both untouched"))
    videos.append(DemoVideo(fake, "fake", "Grace Hopper untouched + astronaut forged", real))
    return videos


def against_twin(score: float | None, twin: float | None) -> str:
    """A forgery's score against its untouched twin's: ``+0.105 over 0.412`` (or why not)."""
    if score is None or twin is None:
        return "no score"
    return f"{score - twin:+.3f} over {twin:.3f}"


def ensure_demo_model(model: str | Path | None, console: Console) -> Path:
    """The model to use: the one given, the shipped one, or one made now by the script."""
    if model is not None:
        return Path(model)
    if (DEMO_MODEL / "ffdetect.json").is_file():
        return DEMO_MODEL
    if not DEMO_SCRIPT.is_file():
        raise DemoError(f"no demo model at {DEMO_MODEL} and no {DEMO_SCRIPT} to make one")
    console.print(f"[bold]No demo model at {DEMO_MODEL}: making one with {DEMO_SCRIPT}[/bold]")
    subprocess.run(["bash", str(DEMO_SCRIPT)], check=True, cwd=REPO_ROOT)
    return DEMO_MODEL


def describe_demo_model(model: Path, console: Console) -> None:
    """Say plainly what the model is (and is not)."""
    from ffdetect.checkpoint.model_format import read_meta

    meta = read_meta(model)
    arch, cal, prov = meta.architecture, meta.calibration, meta.provenance
    console.print(
        f"[bold]Demo model[/bold] {model}: {meta.kind}, {arch.size} ViT, {arch.depth} blocks, "
        f"{arch.embed_dim} wide, {arch.img_size} px input (patch {arch.patch_size})."
    )
    demo = prov.get("demo", {})
    if demo:
        console.print(f"  made by: {demo.get('script', '')}")
        for step in demo.get("commands", []):
            console.print(f"    $ {step}")
        console.print(f"  trained on: {demo.get('data', '')}")
    console.print(
        f"  decision rule: threshold {cal.threshold:.3f}, confidence floor {cal.c_min:.3f}, "
        f"gamma {cal.gamma:g} ({cal.method}, chosen on {cal.chosen_on})"
    )
    if "balanced_accuracy" in cal.stats:
        console.print(
            f"  on its validation videos: balanced accuracy {cal.stats['balanced_accuracy']:.3f} "
            f"({cal.stats.get('n_videos')} videos of faces it was not trained on)"
        )
    console.print(
        "  [yellow]What it is not:[/yellow] a production deepfake detector. It is a tiny 64 px "
        "model that learnt self-blending artefacts from about 850 CelebA photos (its figures on "
        "held-out people: benchmarks/results/real_faces.md); use the authors' checkpoint "
        "(`ffdetect convert`) or train on FF++ for real detection (README)."
    )


def run_demo(out: str | Path = "demo_output", model: str | Path | None = None) -> list:
    """Build the sample videos, detect them with explanations, print verdicts and file paths."""
    from ffdetect.checkpoint.model_format import read_meta
    from ffdetect.inference.detect_files import DetectRequest, run_detect

    console = Console()
    out = Path(out)
    model = ensure_demo_model(model, console)
    describe_demo_model(model, console)
    videos = build_demo_videos(out / "videos")
    console.print(f"\nwrote {len(videos)} sample videos to {out / 'videos'}/")
    explain = out / "explain"
    command = (
        f"ffdetect detect {out / 'videos'} --model {model} --frames {DETECT_FRAMES} "
        f"--explain {explain} --json {out / 'results.json'}"
    )
    console.print(f"$ {command}")
    results = run_detect(
        DetectRequest(
            inputs=[str(v.path) for v in videos],
            model=model,
            frames=DETECT_FRAMES,
            explain_dir=explain,
            json_path=out / "results.json",
            csv_path=out / "results.csv",
        ),
        console,
    )
    table = Table(title="demo: truth versus verdict")
    columns = ("video", "truth", "verdict", "score", "vs untouched twin", "confidence")
    for column in (*columns, "driving face"):
        table.add_column(column)
    correct, above, scores = 0, 0, {v.path: r.score for v, r in zip(videos, results, strict=True)}
    for video, result in zip(videos, results, strict=True):
        correct += result.verdict == video.truth
        twin = "" if video.twin is None else against_twin(result.score, scores[video.twin])
        if video.twin is not None and None not in (result.score, scores[video.twin]):
            above += result.score > scores[video.twin]
        driver = ""
        if len(result.tracks) > 1:
            box = next(f.box for f in result.faces if f.track == result.driving_track)
            side = "left" if (box[0] + box[2]) / 2 < VIDEO_HEIGHT else "right"
            driver = f"track {result.driving_track} ({side} face)"
        table.add_row(
            video.description,
            video.truth,
            str(result.verdict or result.error or "no face"),
            "" if result.score is None else f"{result.score:.3f}",
            twin,
            "" if result.confidence is None else f"{result.confidence:.3f}",
            driver,
        )
    console.print(table)
    n_fake = sum(v.twin is not None for v in videos)
    console.print(
        f"{correct} of {len(videos)} verdicts match the truth; {above} of {n_fake} forgeries score "
        f"above their untouched twin (threshold {read_meta(model).calibration.threshold:.3f}). "
        f"Pictures: heat maps per face and per-frame score plots in {explain}/ (one folder per "
        f"video); JSON and CSV in {out}/."
    )
    return results


def demo_faces() -> dict[str, np.ndarray]:
    """Named face images: two portraits (centre squares) and three small LFW crops."""
    faces = {name: center_square(img) for name, img in named_photos().items()}
    for i, face in enumerate(lfw_faces()[:3]):
        faces[f"lfw_{i}"] = face
    return faces


def run_untrained_demo(seed: int = 0, console: Console | None = None) -> list[dict]:
    """Score the demo faces with an untrained tiny model; returns and prints the rows."""
    console = console or Console()
    torch.manual_seed(seed)
    detector = CompetitiveDetector.build(architecture_for("tiny")).eval().main_branch()
    meta = ModelMeta(kind="detector", architecture=architecture_for("tiny"))
    console.print(
        "[bold yellow]UNTRAINED MODEL[/bold yellow]: random weights; the scores below test the "
        "pipeline, not these faces. Run `ffdetect demo` for the trained demo model."
    )
    faces = demo_faces()
    scores = score_crops(detector, meta, list(faces.values()))
    rows = []
    table = Table(title="ffdetect demo (untrained weights)")
    for column in ("face", "p_fake", "confidence", "verdict"):
        table.add_column(column)
    for name, score in zip(faces, scores, strict=True):
        verdict = decide(score.p_fake, score.confidence, meta.calibration)
        rows.append(
            {
                "face": name,
                "p_fake": score.p_fake,
                "confidence": score.confidence,
                "verdict": verdict,
            }
        )
        table.add_row(name, f"{score.p_fake:.3f}", f"{score.confidence:.3f}", verdict)
    console.print(table)
    return rows
