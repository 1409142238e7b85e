"""Request limits of ``ffdetect serve``: upload size (enforced while the body streams in) and
media checks (decoded, not guessed from the name), each answered with a clear 4xx."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from ffdetect.inference.inputs import Media


@dataclass
class ServeLimits:
    """What one request may ask of the server."""

    max_upload_mb: float = 50.0
    max_video_seconds: float = 120.0
    max_video_pixels: int = 1920 * 1080
    max_image_pixels: int = 40_000_000
    max_queue: int = 4  # requests waiting or running; more get 503
    frames: int = 32
    explain_faces: int = 6  # heat maps per face track returned to the page

    @property
    def max_upload_bytes(self) -> int:
        """The upload limit in bytes."""
        return int(self.max_upload_mb * 1024 * 1024)


class LimitError(Exception):
    """A request outside the limits: ``status`` is the HTTP code to answer."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def check_media(media: Media, limits: ServeLimits) -> None:
    """Raise :class:`LimitError` (413) for a video that is too long or too large."""
    if media.kind != "video" or media.video is None:
        return
    info = media.video
    if info.width * info.height > limits.max_video_pixels:
        raise LimitError(
            413,
            f"video resolution {info.width}x{info.height} exceeds the limit of "
            f"{limits.max_video_pixels} pixels per frame",
        )
    if info.fps > 0 and info.frames / info.fps > limits.max_video_seconds:
        raise LimitError(
            413,
            f"video lasts {info.frames / info.fps:.1f} s; the limit is "
            f"{limits.max_video_seconds:g} s",
        )


class _BodyTooLarge(Exception):
    pass


class BodyLimit:
    """ASGI middleware: refuse a request body over ``max_bytes`` with 413 while it streams in
    (declared ``Content-Length`` first, then the bytes actually received)."""

    def __init__(self, app: Any, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(send)
            return
        received = 0
        started = False

        async def limited_receive() -> dict:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise _BodyTooLarge
            return message

        async def tracking_send(message: dict) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except _BodyTooLarge:
            if not started:
                await self._refuse(send)

    async def _refuse(self, send: Any) -> None:
        mb = self.max_bytes / 1024 / 1024
        body = json.dumps({"detail": f"upload larger than the limit of {mb:g} MB"}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [(b"content-type", b"application/json"), (b"connection", b"close")],
            }
        )
        await send({"type": "http.response.body", "body": body})
