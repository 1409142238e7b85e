"""The body of ``ffdetect prepare`` (kept out of cli.py so ``ffdetect --help`` stays fast)."""

from __future__ import annotations

from pathlib import Path

import typer

__all__ = ["run_prepare_command"]


def _err(msg: str) -> int:
    typer.secho(f"error: {msg}", err=True, fg=typer.colors.RED)
    return 2


def run_prepare_command(
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
    """Run the verb; returns the exit code (0 ok, 1 nothing succeeded, 2 usage error)."""
    from .detectors import available_detectors
    from .manifest import merge_shards
    from .prepare import PrepareConfig, parse_shard, run_prepare
    from .readers import DatasetError, read_dataset

    oulu_protocol = None
    if split_rule is not None and (protocol is None or "-" not in protocol):
        return _err("--split-rule goes with a cross-domain --protocol (e.g. OCI-M)")
    if protocol is not None:
        if "-" in protocol:
            if fold is not None:
                return _err(
                    "--fold selects a fold of OULU-NPU protocols 3 and 4, not of " + protocol
                )
            return _cross_domain(root, protocol, out, merge_from or [], split_rule or "field")
        try:
            oulu_protocol = int(protocol)
        except ValueError:
            return _err(f"--protocol takes 1-4 (OULU-NPU) or e.g. OCI-M, got {protocol!r}")
        if merge_from:
            return _oulu_view(root, dataset, oulu_protocol, fold, out, merge_from)
    if merge:
        try:
            n_faces, n_videos, missing = merge_shards(out, merge_from or [])
        except (FileNotFoundError, ValueError) as e:
            return _err(str(e))
        typer.echo(f"merged {n_videos} videos, {n_faces} faces into {out}/manifest.csv")
        if missing:
            typer.secho(f"warning: shards missing: {missing}", err=True, fg=typer.colors.YELLOW)
        return 0
    if root is None:
        return _err("ROOT is required (except with --merge)")
    if align not in ("similarity", "box"):
        return _err("--align must be similarity or box")
    if verify not in ("hash", "size"):
        return _err("--verify must be hash or size")
    if detector.split(":", 1)[0] not in available_detectors():
        return _err(f"unknown detector {detector!r}; choose from {available_detectors()}")
    if detector.startswith("retinaface") and detector_model is None and ":" not in detector:
        return _err("--detector retinaface needs --detector-model FILE (a local ONNX model)")
    try:
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
    except (DatasetError, ValueError) as e:
        return _err(str(e))
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
    try:  # fail fast on detector set-up problems (missing package or model file)
        from .prepare import _make_detector

        _make_detector(cfg, None)
    except (RuntimeError, ValueError, FileNotFoundError) as e:
        return _err(str(e))
    s = run_prepare(items, out, cfg, shard=shard_t, progress=progress)
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
    return 1 if s.total > 0 and s.succeeded == 0 else 0


def _cross_domain(
    root: Path | None, protocol: str, out: Path, sources: list[Path], split_rule: str
) -> int:
    from .pad.protocols import cross_domain_view
    from .readers import DatasetError

    if root is not None:
        return _err("a cross-domain protocol is a view of prepared directories: no ROOT, --from")
    try:
        counts = cross_domain_view(out, protocol, sources, split_rule)
    except DatasetError as e:
        return _err(str(e))
    _echo_view(out, f"{protocol} ({split_rule} splits)", counts)
    return 0


def _oulu_view(
    root: Path | None, dataset: str, protocol: int, fold: int | None, out: Path, src: list[Path]
) -> int:
    from .pad.protocols import protocol_view
    from .readers import DatasetError, read_dataset

    if root is None or dataset != "oulu" or len(src) != 1:
        return _err(
            "an OULU-NPU protocol view needs ROOT (its Protocols/), --dataset oulu and "
            "one --from PREP (OULU-NPU prepared without a protocol)"
        )
    try:
        items = read_dataset("oulu", root, protocol=protocol, fold=fold)
        info = {"protocol": f"OULU-NPU {protocol}", "fold": fold, "dataset": "oulu"}
        counts = protocol_view(out, src[0], items, info)
    except DatasetError as e:
        return _err(str(e))
    _echo_view(out, f"OULU-NPU protocol {protocol}" + (f" fold {fold}" if fold else ""), counts)
    return 0


def _echo_view(out: Path, name: str, counts: dict[str, dict[str, int]]) -> None:
    parts = ", ".join(f"{k} {v['videos']} videos / {v['faces']} faces" for k, v in counts.items())
    typer.echo(f"{name}: wrote the view {out} ({parts})")
