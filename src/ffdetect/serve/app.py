"""``ffdetect serve``: the REST API and the web page (FastAPI).

- ``POST /v1/detect``: multipart upload (field ``file``) of an image or a video; answers the JSON
  of ``ffdetect detect`` for that input (``?explain=true`` adds heat maps as PNG data URIs).
- ``GET /healthz``, ``GET /v1/model``, ``GET /openapi.json`` and ``GET /docs`` (a plain page
  generated from the schema: no CDN).
- ``GET /``: the web page (static, self-contained).

A request's whole body is read (at most ``max_upload_mb``, within ``body_timeout`` seconds:
413 / 408) before it may take a place in the detection queue, so slow uploads never block
detection. Uploads are written into a private temporary folder (mode 0700) created for each
request and deleted after it; the client's file name is reduced to a safe base name. Detection
runs on one worker thread; at most ``max_queue`` requests wait or run, more are answered 503.
Who may connect: :mod:`ffdetect.serve.security` (Host check, bearer token, bind rule); how long
a request head may take and how many connections one address may hold:
:mod:`ffdetect.serve.connections`. A model that produces NaN is answered 500.
``GET /v1/model`` shows no local paths or command lines.
"""

from __future__ import annotations

import asyncio
import base64
import re
import shutil
import sys
import tempfile
from collections.abc import AsyncIterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from importlib import resources
from pathlib import Path
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse

from ffdetect.inference.inputs import MediaError, sniff
from ffdetect.inference.pipeline import DetectionPipeline, DetectOptions
from ffdetect.serve.connections import guarded_protocol
from ffdetect.serve.limits import BodyLimit, LimitError, ServeLimits, check_media
from ffdetect.serve.security import (
    LOCAL_NAMES,
    HostCheck,
    TokenAuth,
    check_bind,
    default_allowed_hosts,
)

CHUNK = 1 << 20


def _static(name: str) -> str:
    return resources.files("ffdetect.serve").joinpath("static", name).read_text()


def _safe_name(name: str | None) -> str:
    """A client's file name as a plain base name: no folders, no leading dots, never empty."""
    base = re.split(r"[/\\]", name or "")[-1]
    return re.sub(r"[^A-Za-z0-9._-]", "_", base)[:100].lstrip(".") or "upload"


#: Keys that may carry local paths or command lines; dropped from ``GET /v1/model``.
PRIVATE_KEYS = frozenset({"command", "config", "chosen_on", "args", "argv", "source", "path"})


def public_info(value: Any) -> Any:
    """``value`` without :data:`PRIVATE_KEYS` and with any path-like string cut to its base name."""
    if isinstance(value, dict):
        return {k: public_info(v) for k, v in value.items() if k not in PRIVATE_KEYS}
    if isinstance(value, list | tuple):
        return [public_info(v) for v in value]
    if isinstance(value, str) and ("/" in value or "\\" in value):
        return re.split(r"[/\\]", value.rstrip("/\\"))[-1]
    return value


def _data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode()


class DetectService:
    """The pipeline behind one worker thread, a bounded queue and a private upload folder."""

    def __init__(self, pipeline: DetectionPipeline, limits: ServeLimits) -> None:
        self.pipeline = pipeline
        self.limits = limits
        self.pending = 0
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ffdetect-detect")
        self.upload_root = Path(tempfile.mkdtemp(prefix="ffdetect-serve-"))  # mode 0700

    def close(self) -> None:
        """Stop the worker and remove the upload folder."""
        self.executor.shutdown(wait=False, cancel_futures=True)
        shutil.rmtree(self.upload_root, ignore_errors=True)

    async def detect_queued(self, path: Path, name: str, explain: bool) -> dict[str, Any]:
        """Take a place in the queue (503 when full) and detect ``path`` on the worker thread."""
        if self.pending >= self.limits.max_queue:
            raise HTTPException(503, "server busy: too many requests in the queue; retry later")
        self.pending += 1
        try:
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(self.executor, self.detect_file, path, name, explain)
        finally:
            self.pending -= 1

    def detect_file(self, path: Path, name: str, explain: bool) -> dict[str, Any]:
        """Check and detect one saved upload (runs on the worker thread)."""
        try:
            media = sniff(path, max_image_pixels=self.limits.max_image_pixels)
        except MediaError as exc:
            message = str(exc).replace(str(path), name)  # never show server paths
            raise LimitError(415, f"unsupported content: {message}") from None
        check_media(media, self.limits)
        result = self.pipeline.run(path)
        if result.error:  # a broken model is the server's fault (500), a bad input the client's
            status = 500 if result.model_failed else 422
            raise LimitError(status, result.error.replace(str(path), name))
        result.input = name
        out = result.to_dict()
        if explain and result.faces:
            files = self.pipeline.explain(result, max_per_track=self.limits.explain_faces)
            out["explanations"] = {
                "faces": [
                    {
                        "track": int(key[5 : key.index("_")]),
                        "frame": int(key.split("frame")[1].split(".")[0]),
                        "png": _data_uri(png),
                    }
                    for key, png in files.items()
                    if key.startswith("track")
                ],
                "scores_png": _data_uri(files["scores.png"]) if "scores.png" in files else None,
            }
        return out


def create_app(
    pipeline: DetectionPipeline,
    limits: ServeLimits | None = None,
    allowed_hosts: Sequence[str] | None = None,
    token: str | None = None,
    backend: str = "torch",
) -> Any:
    """The ASGI application: FastAPI behind the Host check, the bearer token (when given) and
    the body limits. ``allowed_hosts`` defaults to the local names (see
    :func:`~ffdetect.serve.security.default_allowed_hosts`); ``backend`` names how
    ``pipeline`` scores, for ``GET /v1/model``."""
    limits = limits or ServeLimits()
    pipeline.options.frames = limits.frames
    service = DetectService(pipeline, limits)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        service.close()

    app = FastAPI(
        title="ffdetect",
        summary="Face forgery (deepfake) detection",
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.service = service

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def page() -> str:
        return _static("index.html")

    @app.get("/docs", response_class=HTMLResponse, include_in_schema=False)
    def docs() -> str:
        return _static("docs.html")

    @app.get("/healthz")
    def healthz() -> dict[str, Any]:
        """Liveness: the model is loaded and the queue length."""
        return {"status": "ok", "pending": service.pending, "max_queue": limits.max_queue}

    @app.get("/v1/model")
    def model() -> dict[str, Any]:
        """The loaded model: architecture, parameters, calibration, provenance, limits."""
        info = public_info(pipeline.model_info())
        return info | {"backend": backend, "limits": limits.__dict__}

    @app.post("/v1/detect")
    async def detect(request: Request, explain: bool = False) -> JSONResponse:
        """Detect one uploaded image or video (multipart field ``file``).

        The body is already complete here (:class:`~ffdetect.serve.limits.BodyLimit`): the
        queue place is taken only for the saved file's detection."""
        folder = Path(tempfile.mkdtemp(dir=service.upload_root))
        try:
            form = await request.form(max_files=1, max_fields=4)
            upload = form.get("file")
            if upload is None or isinstance(upload, str):
                raise HTTPException(422, "send the image or video as multipart field 'file'")
            name = _safe_name(upload.filename)
            path = folder / name
            with path.open("wb") as fh:
                while chunk := await upload.read(CHUNK):
                    fh.write(chunk)
            await upload.close()
            return JSONResponse(await service.detect_queued(path, name, explain))
        except LimitError as exc:
            raise HTTPException(exc.status, exc.message) from None
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    app.add_middleware(
        BodyLimit,
        max_bytes=limits.max_upload_bytes,
        timeout=limits.body_timeout,
        spool_dir=str(service.upload_root),
    )
    if token:
        app.add_middleware(TokenAuth, token=token)
    app.add_middleware(HostCheck, allowed_hosts=list(allowed_hosts or LOCAL_NAMES))
    return app


def load_app(
    model: str | Path,
    backend: str = "torch",
    limits: ServeLimits | None = None,
    allowed_hosts: Sequence[str] | None = None,
    token: str | None = None,
    options: DetectOptions | None = None,
) -> Any:
    """Load the model directory ``model`` and build its application (:func:`create_app`).

    ``backend`` scores with the model itself (``"torch"``), its dynamically quantized int8
    copy (``"int8"``, :func:`ffdetect.models.fast.quantize_int8`) or ``MODEL/model.onnx``
    (``"onnx"``); explanations always use the fp32 model."""
    pipeline = DetectionPipeline.from_model(model, options, backend=backend)
    return create_app(pipeline, limits, allowed_hosts, token, backend=backend)


def serve(
    model: str | Path,
    host: str = "127.0.0.1",
    port: int = 8000,
    limits: ServeLimits | None = None,
    backend: str = "torch",
    allowed_hosts: Sequence[str] | None = None,
    token: str | None = None,
) -> None:
    """Load the model and run the server with uvicorn until interrupted.

    Refuses (:class:`~ffdetect.serve.security.ServeConfigError`) a non-loopback ``host``
    without a ``token`` before loading anything; warns on stderr for a non-loopback bind."""
    import uvicorn

    limits = limits or ServeLimits()
    for warning in check_bind(host, token):
        print(f"warning: {warning}", file=sys.stderr)
    app = load_app(model, backend, limits, allowed_hosts or default_allowed_hosts(host), token)
    uvicorn.run(app, host=host, port=port, log_level="info", **server_options(limits))


def server_options(limits: ServeLimits) -> dict[str, Any]:
    """uvicorn settings that hold ``limits``' connection rules: at most ``max_connections``
    open (then 503), ``max_connections_per_client`` per client address and ``header_timeout``
    seconds per request head (:func:`~ffdetect.serve.connections.guarded_protocol`)."""
    return {
        "limit_concurrency": limits.max_connections,
        "timeout_keep_alive": 5,
        "http": guarded_protocol(limits.header_timeout, limits.max_connections_per_client),
    }
