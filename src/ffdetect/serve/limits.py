"""Request limits of ``ffdetect serve``: upload size and body read time (enforced while the body
streams in, before the request reaches the detection queue) and media checks (decoded, not
guessed from the name), each answered with a clear 4xx."""

from __future__ import annotations

import asyncio
import json
import tempfile
from dataclasses import dataclass
from typing import Any

from ffdetect.inference.inputs import Media

#: Frames allowed per second of ``max_video_seconds`` when ``max_video_frames`` is not set.
VIDEO_FPS_ALLOWANCE = 60


@dataclass
class ServeLimits:
    """What one request may ask of the server."""

    max_upload_mb: float = 50.0
    max_video_seconds: float = 120.0
    # Frames per video (None: 60 per allowed second). Decoding runs to the last sampled frame,
    # so the frame count, not the duration, is the cost; it holds whatever the rate (0 too).
    max_video_frames: int | None = None
    max_video_pixels: int = 1920 * 1080
    max_image_pixels: int = 40_000_000
    max_queue: int = 4  # requests waiting or running; more get 503
    body_timeout: float = 30.0  # seconds to receive a request's whole body; then 408
    max_connections: int = 64  # open connections (uvicorn's limit_concurrency); more get 503
    header_timeout: float = 10.0  # seconds to receive a request's line and headers; then 408
    max_connections_per_client: int = 8  # open connections of one address; more get 503
    frames: int = 32
    explain_faces: int = 6  # heat maps per face track returned to the page

    @property
    def video_frame_limit(self) -> int:
        """The most frames a video may have."""
        if self.max_video_frames is not None:
            return self.max_video_frames
        return int(self.max_video_seconds * VIDEO_FPS_ALLOWANCE)

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
    """Raise :class:`LimitError` (413) for a video that is too large, has too many frames
    (whatever its frame rate, 0 included) or lasts too long."""
    if media.kind != "video" or media.video is None:
        return
    info = media.video
    if info.width * info.height > limits.max_video_pixels:
        raise LimitError(
            413,
            f"video resolution {info.width}x{info.height} exceeds the limit of "
            f"{limits.max_video_pixels} pixels per frame",
        )
    if info.frames > limits.video_frame_limit:
        raise LimitError(
            413, f"video has {info.frames} frames; the limit is {limits.video_frame_limit} frames"
        )
    if info.duration > limits.max_video_seconds:
        raise LimitError(
            413,
            f"video lasts {info.duration:.1f} s; the limit is {limits.max_video_seconds:g} s",
        )


#: :meth:`BodyLimit._read_body`'s answer when the client went away (nothing to answer).
DISCONNECTED = 0
#: Bytes of an over-limit body still read (and dropped) before the 413, so that a client that
#: sends its whole body before reading gets the answer instead of a connection reset.
DRAIN_BYTES = 4 << 20
#: Body bytes kept in memory before the spool moves to a file in the private upload folder.
SPOOL_IN_MEMORY = 1 << 20
REPLAY_CHUNK = 1 << 16


class BodyLimit:
    """ASGI middleware: read a request's whole body *before* the application sees the request.

    The body may hold at most ``max_bytes`` (413: the declared ``Content-Length`` first, then the
    bytes actually received, so a chunked upload is held to it too) and must arrive within
    ``timeout`` seconds of the request's headers (408). It is spooled (memory, then a file in
    ``spool_dir``) and replayed to the application, so a slow or stalled upload holds nothing
    the application counts (the detection queue) and is cut off on time. Refusals close the
    connection.
    """

    def __init__(
        self, app: Any, max_bytes: int, timeout: float = 30.0, spool_dir: str | None = None
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.timeout = timeout
        self.spool_dir = spool_dir

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        """Read, check and replay the body; answer 408 or 413 instead when it breaks a limit."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(send, 413)
            return
        with tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY, dir=self.spool_dir) as spool:
            status = await self._read_body(receive, spool)
            if status == DISCONNECTED:
                return
            if status is not None:
                await self._refuse(send, status)
                return
            size = spool.tell()
            spool.seek(0)
            await self.app(scope, _replay(spool, size, receive), send)

    async def _read_body(self, receive: Any, spool: Any) -> int | None:
        """Spool the body; ``None`` when complete, else 408, 413 or :data:`DISCONNECTED`."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout
        received = 0
        while True:
            try:
                message = await asyncio.wait_for(receive(), timeout=deadline - loop.time())
            except TimeoutError:
                return 408
            if message["type"] == "http.disconnect":
                return DISCONNECTED
            chunk = message.get("body", b"")
            received += len(chunk)
            if received > self.max_bytes + DRAIN_BYTES:
                return 413
            if received <= self.max_bytes:
                spool.write(chunk)
            if not message.get("more_body", False):
                return 413 if received > self.max_bytes else None

    async def _refuse(self, send: Any, status: int) -> None:
        if status == 413:
            detail = f"upload larger than the limit of {self.max_bytes / 1024 / 1024:g} MB"
        else:
            detail = f"request body not received within {self.timeout:g} s"
        body = json.dumps({"detail": detail}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


def _replay(spool: Any, size: int, receive: Any) -> Any:
    """An ASGI ``receive`` that hands out the spooled body, then defers to the real one."""
    done = False

    async def replay() -> dict:
        nonlocal done
        if done:
            return await receive()
        chunk = spool.read(REPLAY_CHUNK)
        done = spool.tell() >= size
        return {"type": "http.request", "body": chunk, "more_body": not done}

    return replay
