"""``ffdetect serve``: the web page and REST API for detection (FastAPI + uvicorn)."""

from __future__ import annotations

from pathlib import Path

from ffdetect.commands.failures import as_user_errors
from ffdetect.serve.app import serve
from ffdetect.serve.limits import ServeLimits


def run(
    model: Path,
    host: str,
    port: int,
    max_upload_mb: float,
    max_seconds: float,
    max_queue: int,
    frames: int,
    backend: str,
    body_timeout: float,
    header_timeout: float,
    max_per_client: int,
    allowed_host: list[str],
    token: str | None,
) -> None:
    """Serve ``model`` on ``host``:``port`` under the given limits until interrupted."""
    limits = ServeLimits(
        max_upload_mb=max_upload_mb, max_video_seconds=max_seconds, max_queue=max_queue,
        frames=frames, body_timeout=body_timeout, header_timeout=header_timeout,
        max_connections_per_client=max_per_client,
    )  # fmt: skip
    with as_user_errors(FileNotFoundError, ValueError):
        serve(model, host, port, limits, backend, allowed_host or None, token)
