"""``ffdetect prepare``: videos -> aligned face crops, manifest.csv and videos.csv; PAD views."""

from __future__ import annotations

from pathlib import Path

import typer

from ffdetect.commands.failures import CommandError, as_user_errors
from ffdetect.data.detectors import available_detectors
from ffdetect.data.manifest import merge_shards
from ffdetect.data.pad.protocols import cross_domain_view, protocol_view
from ffdetect.data.prepare import (
    PrepareConfig,
    Summary,
    _make_detector,
    parse_shard,
    run_prepare,
)
from ffdetect.data.readers import read_dataset


def run(
    root: Path | None,
    dataset: str,
    out: Path,
    frames: int = 8,
    size: int = 224,
    scale: float = 1.3,
    align: str = "similarity",
    detector: str = "mtcnn",
    detector_model: Path | None = None,
    min_score: float = 0.95,
    workers: int = 1,
    shard: str | None = None,
    compression: str = "c23",
    methods: str = "Deepfakes,Face2Face,FaceSwap,NeuralTextures",
    splits: Path | None = None,
    merge: bool = False,
    merge_from: list[Path] | None = None,
    verify: str = "hash",
    retry_failed: bool = False,
    progress: bool = True,
    task: str | None = None,
    protocol: str | None = None,
    fold: int | None = None,
    split_rule: str | None = None,
) -> int:
    """Prepare, merge shards or write a protocol view; returns 1 when no video succeeded."""
    oulu_protocol = None
    if split_rule is not None and (protocol is None or "-" not in protocol):
        raise CommandError("--split-rule goes with a cross-domain --protocol (e.g. OCI-M)")
    if protocol is not None:
        if "-" in protocol:
            if fold is not None:
                raise CommandError(
                    "--fold selects a fold of OULU-NPU protocols 3 and 4, not of " + protocol
                )
            _cross_domain(root, protocol, out, merge_from or [], split_rule or "field")
            return 0
        try:
            oulu_protocol = int(protocol)
        except ValueError:
            raise CommandError(
                f"--protocol takes 1-4 (OULU-NPU) or e.g. OCI-M, got {protocol!r}"
            ) from None
        if merge_from:
            _oulu_view(root, dataset, oulu_protocol, fold, out, merge_from)
            return 0
    if merge:
        with as_user_errors(FileNotFoundError, ValueError):
            n_faces, n_videos, missing = merge_shards(out, merge_from or [])
        typer.echo(f"merged {n_videos} videos, {n_faces} faces into {out}/manifest.csv")
        if missing:
            typer.secho(f"warning: shards missing: {missing}", err=True, fg=typer.colors.YELLOW)
        return 0
    if root is None:
        raise CommandError("ROOT is required (except with --merge)")
    if align not in ("similarity", "box"):
        raise CommandError("--align must be similarity or box")
    if verify not in ("hash", "size"):
        raise CommandError("--verify must be hash or size")
    if detector.split(":", 1)[0] not in available_detectors():
        raise CommandError(f"unknown detector {detector!r}; choose from {available_detectors()}")
    if detector.startswith("retinaface") and detector_model is None and ":" not in detector:
        raise CommandError("--detector retinaface needs --detector-model FILE (a local ONNX model)")
    with as_user_errors(ValueError):
        shard_t = parse_shard(shard)
        items = read_dataset(
            dataset,
            root,
            compression=compression,
            methods=[m for m in methods.split(",") if m],
            splits=splits,
            task=task,
            protocol=oulu_protocol,
            fold=fold,
        )
    cfg = PrepareConfig(
        frames=frames,
        size=size,
        scale=scale,
        align=align,
        detector=detector,
        detector_model=str(detector_model) if detector_model else None,
        min_score=min_score,
        workers=workers,
        verify=verify,
        retry_failed=retry_failed,
    )
    with as_user_errors(RuntimeError, ValueError, FileNotFoundError):
        _make_detector(cfg, None)  # fail fast: a missing package or model file
    s = run_prepare(items, out, cfg, shard=shard_t, progress=progress, on_start=_echo_retry_hint)
    where = f" (shard {shard_t[0]}/{shard_t[1]})" if shard_t[1] > 1 else ""
    rate = s.done / s.seconds if s.seconds > 0 else 0.0
    typer.echo(
        f"prepare{where}: {s.total} videos: {s.done} processed, {s.skipped} skipped (done before), "
        f"{s.failed} failed, {s.shortfalls} with fewer than {frames} faces; {s.faces} faces; "
        f"{s.seconds:.1f} s ({rate:.2f} videos/s)"
    )
    if s.errors:
        typer.echo("failures: " + ", ".join(f"{k} {v}" for k, v in sorted(s.errors.items())))
    typer.echo(f"wrote {out}/{'shards/' if shard_t[1] > 1 else ''}manifest + videos CSVs")
    _echo_retry_hint(s)
    return 1 if s.total > 0 and s.succeeded == 0 else 0


def _echo_retry_hint(summary: Summary) -> None:
    """Print what to do about videos that failed in an earlier run, if any were skipped."""
    hint = summary.retry_hint()
    if hint is not None:
        typer.secho(f"note: {hint}", fg=typer.colors.YELLOW)


def _cross_domain(
    root: Path | None, protocol: str, out: Path, sources: list[Path], split_rule: str
) -> None:
    """Write the cross-domain PAD protocol view ``protocol`` of the prepared ``sources``."""
    if root is not None:
        raise CommandError(
            "a cross-domain protocol is a view of prepared directories: no ROOT, --from"
        )
    counts = cross_domain_view(out, protocol, sources, split_rule)
    _echo_view(out, f"{protocol} ({split_rule} splits)", counts)


def _oulu_view(
    root: Path | None, dataset: str, protocol: int, fold: int | None, out: Path, src: list[Path]
) -> None:
    """Write the OULU-NPU protocol view of the one prepared directory ``src``."""
    if root is None or dataset != "oulu" or len(src) != 1:
        raise CommandError(
            "an OULU-NPU protocol view needs ROOT (its Protocols/), --dataset oulu and "
            "one --from PREP (OULU-NPU prepared without a protocol)"
        )
    items = read_dataset("oulu", root, protocol=protocol, fold=fold)
    info = {"protocol": f"OULU-NPU {protocol}", "fold": fold, "dataset": "oulu"}
    counts = protocol_view(out, src[0], items, info)
    _echo_view(out, f"OULU-NPU protocol {protocol}" + (f" fold {fold}" if fold else ""), counts)


def _echo_view(out: Path, name: str, counts: dict[str, dict[str, int]]) -> None:
    """Print what a protocol view holds per split."""
    parts = ", ".join(f"{k} {v['videos']} videos / {v['faces']} faces" for k, v in counts.items())
    typer.echo(f"{name}: wrote the view {out} ({parts})")
