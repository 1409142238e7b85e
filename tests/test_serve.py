"""``ffdetect serve``: the REST API with FastAPI's test client (limits, queue, clean-up)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from test_detect_helpers import (
    BoxDetector,
    photo,
    save_tiny_model,
    small_video,
    stub_pipeline,
    write_png,
)

pytest.importorskip("fastapi")
from fastapi.testclient import TestClient  # noqa: E402

from ffdetect.inference.pipeline import DetectOptions  # noqa: E402
from ffdetect.serve.app import create_app, load_app  # noqa: E402
from ffdetect.serve.limits import ServeLimits  # noqa: E402


@pytest.fixture
def model(tmp_path: Path) -> Path:
    return save_tiny_model(tmp_path / "model")


def client_for(model: Path, token: str | None = None, **limits) -> tuple[TestClient, object]:
    asgi = create_app(stub_pipeline(model), ServeLimits(frames=3, **limits), token=token)
    return TestClient(asgi, base_url="http://localhost"), asgi.state.service


def png_bytes(height: int = 100) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(photo(height)).save(buf, format="PNG")
    return buf.getvalue()


def test_health_model_page_and_docs(model: Path) -> None:
    client, _ = client_for(model)
    with client:
        assert client.get("/healthz").json()["status"] == "ok"
        info = client.get("/v1/model").json()
        assert info["architecture"]["depth"] == 2 and "calibration" in info
        page = client.get("/").text
        assert "Drop an image or a video" in page
        assert "http://" not in page and "https://" not in page  # no CDN
        assert "/v1/detect" in client.get("/openapi.json").json()["paths"]
        docs = client.get("/docs").text
        assert "openapi.json" in docs and "https://" not in docs


def test_detect_image_with_explanations(model: Path) -> None:
    client, service = client_for(model)
    with client:
        r = client.post(
            "/v1/detect?explain=true", files={"file": ("../../evil name.png", png_bytes())}
        )
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["input"] == "evil_name.png"
        assert body["kind"] == "image" and body["n_faces"] == 2
        assert body["verdict"] in ("real", "fake", "uncertain")
        faces = body["explanations"]["faces"]
        assert len(faces) == 2 and faces[0]["png"].startswith("data:image/png;base64,")
        assert list(service.upload_root.iterdir()) == []  # upload deleted after use


def test_detect_video_same_json_as_cli(model: Path, tmp_path: Path) -> None:
    client, _ = client_for(model)
    video = small_video(tmp_path / "v.mp4", frames=4).read_bytes()
    with client:
        body = client.post("/v1/detect", files={"file": ("v.mp4", video)}).json()
    assert body["kind"] == "video" and body["frames_sampled"] == 3
    assert len(body["tracks"]) == 2 and "explanations" not in body
    assert {"frame", "track", "box", "p_fake", "confidence"} == set(body["faces"][0])


def test_limits_answer_4xx(model: Path, tmp_path: Path) -> None:
    client, service = client_for(model, max_upload_mb=0.05, max_video_seconds=0.2)
    video = small_video(tmp_path / "v.mp4", frames=4).read_bytes()  # 0.4 s at 10 fps
    with client:
        r = client.post("/v1/detect", files={"file": ("x.png", b"\x89PNG not really")})
        assert r.status_code == 415 and "unsupported content" in r.json()["detail"]
        r = client.post("/v1/detect", files={"file": ("big.png", png_bytes(400))})
        assert r.status_code == 413 and "limit" in r.json()["detail"]
        r = client.post("/v1/detect", files={"file": ("v.mp4", video)})
        assert r.status_code == 413 and "lasts" in r.json()["detail"]
        r = client.post("/v1/detect", data={"nothing": "here"})
        assert r.status_code == 422
        assert list(service.upload_root.iterdir()) == []


def test_video_resolution_limit(model: Path, tmp_path: Path) -> None:
    client, _ = client_for(model, max_video_pixels=100 * 100)
    video = small_video(tmp_path / "v.mp4", frames=3).read_bytes()
    with client:
        r = client.post("/v1/detect", files={"file": ("v.mp4", video)})
    assert r.status_code == 413 and "resolution" in r.json()["detail"]


def test_full_queue_answers_503(model: Path) -> None:
    client, service = client_for(model, max_queue=1)
    with client:
        service.pending = 1  # one request is being served
        r = client.post("/v1/detect", files={"file": ("a.png", png_bytes())})
        assert r.status_code == 503 and "busy" in r.json()["detail"]
        service.pending = 0
        assert client.post("/v1/detect", files={"file": ("a.png", png_bytes())}).status_code == 200


def test_upload_dir_is_private_and_removed(model: Path) -> None:
    client, service = client_for(model)
    root = service.upload_root
    with client:
        assert (root.stat().st_mode & 0o777) == 0o700
    assert not root.exists()  # removed at shutdown


def test_unreadable_image_file_on_disk(model: Path, tmp_path: Path) -> None:
    """A corrupt image passes neither decoder: 415, not a crash."""
    bad = write_png(tmp_path / "ok.png", photo(60)).read_bytes()[:60]
    client, _ = client_for(model)
    with client:
        assert client.post("/v1/detect", files={"file": ("ok.png", bad)}).status_code == 415


def test_int8_backend_scores_close_to_torch(model: Path) -> None:
    """``load_app(backend="int8")`` scores with the quantized copy: 200, a score within 0.02
    of torch's, and ``GET /v1/model`` says which backend answers."""
    scores = {}
    for backend in ("torch", "int8"):
        asgi = load_app(model, backend, ServeLimits(frames=3), options=DetectOptions(crop_size=64))
        asgi.state.service.pipeline._face_detector = BoxDetector([(0.1, 0.1, 0.45, 0.6)])
        with TestClient(asgi, base_url="http://localhost") as client:
            r = client.post("/v1/detect", files={"file": ("a.png", png_bytes())})
            assert r.status_code == 200, r.text
            scores[backend] = r.json()["score"]
            assert client.get("/v1/model").json()["backend"] == backend
    assert scores["int8"] == pytest.approx(scores["torch"], abs=0.02)
