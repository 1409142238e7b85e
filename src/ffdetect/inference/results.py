"""What ``detect`` answers, per input and per face, and its JSON / CSV / terminal forms.

Decision for an input with several faces (ffdetect's rule, built on METHOD.md section 3): every
face track gets its own score, confidence and verdict (:func:`decide`). The input is ``fake`` when
any track is fake (the highest-scoring fake track drives it); otherwise ``uncertain`` when any
track is uncertain (the least confident one drives it); otherwise ``real`` (the highest-scoring
track drives it). The input's score and confidence are those of the driving track.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ffdetect.checkpoint.metadata import Calibration


@dataclass
class FaceResult:
    """One scored face: where it was and what the model said."""

    frame: int
    track: int
    box: tuple[float, float, float, float]
    p_fake: float
    confidence: float
    crop: np.ndarray | None = field(default=None, repr=False)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields (the crop is left out)."""
        return {
            "frame": self.frame,
            "track": self.track,
            "box": [round(float(v), 1) for v in self.box],
            "p_fake": self.p_fake,
            "confidence": self.confidence,
        }


@dataclass
class TrackResult:
    """One person across the sampled frames (a single face for an image)."""

    track: int
    score: float
    confidence: float
    verdict: str
    n_faces: int

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields."""
        return asdict(self)


@dataclass
class DetectionResult:
    """The answer for one input file."""

    input: str
    kind: str  # "image", "video" or "unknown" (when unreadable)
    verdict: str | None = None  # real, fake, uncertain; None when no face or an error
    score: float | None = None
    confidence: float | None = None
    threshold: float | None = None
    c_min: float | None = None
    gamma: float | None = None
    n_faces: int = 0
    driving_track: int | None = None
    frames_sampled: int = 0
    tracks: list[TrackResult] = field(default_factory=list)
    faces: list[FaceResult] = field(default_factory=list)
    error: str | None = None
    model_failed: bool = False  # ``error`` is the model's (non-finite outputs), not the input's
    seconds: float = 0.0
    explanations: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The JSON form shared by ``detect --json`` and ``POST /v1/detect``."""
        out = {
            k: getattr(self, k)
            for k in (
                "input",
                "kind",
                "verdict",
                "score",
                "confidence",
                "threshold",
                "c_min",
                "gamma",
                "n_faces",
                "driving_track",
                "frames_sampled",
                "error",
            )
        }
        out["seconds"] = round(self.seconds, 3)
        out["tracks"] = [t.to_dict() for t in self.tracks]
        out["faces"] = [f.to_dict() for f in self.faces]
        if self.explanations:
            out["explanations"] = self.explanations
        return out


def combine_tracks(tracks: list[TrackResult]) -> TrackResult | None:
    """The track that drives the input's verdict (see the module docstring)."""
    if not tracks:
        return None
    fake = [t for t in tracks if t.verdict == "fake"]
    if fake:
        return max(fake, key=lambda t: t.score)
    uncertain = [t for t in tracks if t.verdict == "uncertain"]
    if uncertain:
        return min(uncertain, key=lambda t: t.confidence)
    return max(tracks, key=lambda t: t.score)


#: Verdict words per model task: the decision rule says real/fake; presentation attack
#: detection (``task == "pad"``) reports ``bona fide`` / ``attack`` instead.
VERDICT_WORDS = {"deepfake": {}, "pad": {"real": "bona fide", "fake": "attack"}}


def task_verdict(verdict: str, task: str = "deepfake") -> str:
    """``verdict`` (real, fake or uncertain) in the words of ``task``."""
    return VERDICT_WORDS.get(task, {}).get(verdict, verdict)


def finish(
    result: DetectionResult, calibration: Calibration, task: str = "deepfake"
) -> DetectionResult:
    """Fill the input-level verdict, score and rule from its tracks (in ``task``'s words)."""
    result.threshold = calibration.threshold
    result.c_min = calibration.c_min
    result.gamma = calibration.gamma
    result.n_faces = len(result.faces)
    driver = combine_tracks(result.tracks)
    for t in result.tracks:
        t.verdict = task_verdict(t.verdict, task)
    if driver is not None:
        result.verdict = driver.verdict
        result.score = driver.score
        result.confidence = driver.confidence
        result.driving_track = driver.track
    return result


def results_json(results: list[DetectionResult], model: dict[str, Any]) -> str:
    """The ``--json`` document: the model's facts and one entry per input."""
    return json.dumps({"model": model, "results": [r.to_dict() for r in results]}, indent=2)


CSV_COLUMNS = [
    "input", "kind", "verdict", "score", "confidence", "threshold", "driving_track",
    "track", "frame", "box_x1", "box_y1", "box_x2", "box_y2", "face_p_fake", "face_confidence",
    "error",
]  # fmt: skip


def results_csv(results: list[DetectionResult]) -> str:
    """One CSV row per face (one row for an input without faces or with an error)."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for r in results:
        base = {
            "input": r.input,
            "kind": r.kind,
            "verdict": r.verdict or "",
            "score": "" if r.score is None else f"{r.score:.6f}",
            "confidence": "" if r.confidence is None else f"{r.confidence:.6f}",
            "threshold": "" if r.threshold is None else f"{r.threshold:.6f}",
            "driving_track": "" if r.driving_track is None else r.driving_track,
            "error": r.error or "",
        }
        if not r.faces:
            writer.writerow(base)
        for f in r.faces:
            x1, y1, x2, y2 = f.box
            writer.writerow(
                base
                | {
                    "track": f.track,
                    "frame": f.frame,
                    "box_x1": f"{x1:.1f}",
                    "box_y1": f"{y1:.1f}",
                    "box_x2": f"{x2:.1f}",
                    "box_y2": f"{y2:.1f}",
                    "face_p_fake": f"{f.p_fake:.6f}",
                    "face_confidence": f"{f.confidence:.6f}",
                }
            )
    return buf.getvalue()


def write_text(path: str | Path, text: str) -> Path:
    """Write a report file, creating its folder."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


VERDICT_STYLE = {
    "fake": "bold red", "real": "bold green", "uncertain": "bold yellow",
    "attack": "bold red", "bona fide": "bold green",
}  # fmt: skip


def print_results(results: list[DetectionResult], console: Any = None) -> None:
    """A readable rich table: one row per input, one indented row per face track."""
    from rich.console import Console
    from rich.table import Table

    console = console or Console()
    table = Table(title="ffdetect detect")
    table.add_column("input", overflow="fold", min_width=16)
    for column in ("verdict", "score", "confidence", "threshold", "faces"):
        table.add_column(column, no_wrap=True)
    table.add_column("note", overflow="fold")
    for r in results:
        if r.error is not None:
            table.add_row(Path(r.input).name, "[red]error[/red]", "", "", "", "", r.error)
            continue
        if r.verdict is None:
            table.add_row(Path(r.input).name, "no face", "", "", f"{r.threshold:.3f}", "0", "")
            continue
        style = VERDICT_STYLE.get(r.verdict, "")
        note = (
            f"{len(r.tracks)} faces; track {r.driving_track} decides" if len(r.tracks) > 1 else ""
        )
        table.add_row(
            Path(r.input).name,
            f"[{style}]{r.verdict}[/{style}]",
            f"{r.score:.3f}",
            f"{r.confidence:.3f}",
            f"{r.threshold:.3f}",
            str(r.n_faces),
            note,
        )
        if len(r.tracks) > 1:
            for t in r.tracks:
                table.add_row(
                    f"  track {t.track}",
                    t.verdict,
                    f"{t.score:.3f}",
                    f"{t.confidence:.3f}",
                    "",
                    str(t.n_faces),
                    "",
                )
    console.print(table)
