"""``ffdetect serve`` against hostile but fair clients (issue #13), over real loopback sockets:
stalled uploads, chunked bodies over the limit, odd file names, foreign Host headers, the bearer
token, the bind rule, paths in ``/v1/model`` and videos with too many frames."""

from __future__ import annotations

import http.client
import json
import select
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from typer.testing import CliRunner

from test_detect_helpers import photo, save_tiny_model, stub_pipeline
from test_serve import png_bytes

pytest.importorskip("fastapi")
uvicorn = pytest.importorskip("uvicorn")
from fastapi.testclient import TestClient  # noqa: E402

from ffdetect.checkpoint.metadata import Calibration  # noqa: E402
from ffdetect.checkpoint.model_format import read_meta, write_meta  # noqa: E402
from ffdetect.cli import app as cli_app  # noqa: E402
from ffdetect.data.video import VideoInfo  # noqa: E402
from ffdetect.inference.inputs import Media  # noqa: E402
from ffdetect.serve.app import create_app, public_info, server_options  # noqa: E402
from ffdetect.serve.limits import LimitError, ServeLimits, check_media  # noqa: E402
from ffdetect.serve.security import ServeConfigError, check_bind, is_loopback  # noqa: E402

BOUNDARY = "ffdetect-test-boundary"


@pytest.fixture
def model(tmp_path: Path) -> Path:
    return save_tiny_model(tmp_path / "model")


def multipart(filename: str, data: bytes) -> bytes:
    """A multipart/form-data body with one file field ``file``."""
    head = (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"'
        "\r\nContent-Type: application/octet-stream\r\n\r\n"
    )
    return head.encode() + data + f"\r\n--{BOUNDARY}--\r\n".encode()


def head(port: int, *lines: str) -> bytes:
    """The request line and headers of a ``POST /v1/detect`` to the test server."""
    fields = [f"Host: 127.0.0.1:{port}", f"Content-Type: multipart/form-data; boundary={BOUNDARY}"]
    return ("\r\n".join(["POST /v1/detect HTTP/1.1", *fields, *lines]) + "\r\n\r\n").encode()


def read_status(sock: socket.socket, timeout: float) -> tuple[int, dict]:
    """Read one whole response (the server closes the connection after it)."""
    sock.settimeout(timeout)
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    status_line, _, rest = data.partition(b"\r\n")
    body = rest.partition(b"\r\n\r\n")[2]
    return int(status_line.split()[1]), json.loads(body)


@contextmanager
def running_server(app, **config) -> Iterator[int]:
    """Serve ``app`` with uvicorn on a free 127.0.0.1 port in a thread; yields the port."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", **config))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "server did not start"
        time.sleep(0.02)
    try:
        yield sock.getsockname()[1]
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def test_stalled_uploads_hold_no_slot_and_get_408(model: Path) -> None:
    """Five clients send headers and half a body, then stall (max_queue 4): a normal client is
    served meanwhile, and each stalled one gets 408 once its body timeout has passed."""
    timeout, n_stalled = 3.0, 5
    app = create_app(stub_pipeline(model), ServeLimits(frames=3, body_timeout=timeout))
    body = multipart("face.png", png_bytes())
    with running_server(app) as port:
        stalled, started = [], []
        for _ in range(n_stalled):
            s = socket.create_connection(("127.0.0.1", port), timeout=5)
            s.sendall(head(port, f"Content-Length: {len(body)}") + body[: len(body) // 2])
            stalled.append(s)
            started.append(time.monotonic())
        time.sleep(0.3)  # the server has read every stalled request's headers

        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout + 10)
        t0 = time.monotonic()
        conn.request("POST", "/v1/detect", body=body, headers={"Content-Type": head_type()})
        response = conn.getresponse()
        normal_latency = time.monotonic() - t0
        result = json.loads(response.read())
        conn.close()
        assert response.status == 200, result
        assert result["kind"] == "image" and result["n_faces"] == 2
        for s in stalled:  # still waiting: nothing answered yet
            s.setblocking(False)
            with pytest.raises(BlockingIOError):
                s.recv(1)
            s.setblocking(True)

        answered = []
        for s, t in zip(stalled, started, strict=True):
            status, detail = read_status(s, timeout + 10)
            answered.append(time.monotonic() - t)
            s.close()
            assert status == 408 and "not received within" in detail["detail"]
    assert normal_latency < timeout
    assert all(timeout - 0.1 <= a <= timeout + 3.0 for a in answered), answered
    print(f"\nnormal client {normal_latency:.2f} s; 408 after {min(answered):.2f}-"
          f"{max(answered):.2f} s (timeout {timeout} s, {n_stalled} stalled)")  # fmt: skip


def head_type() -> str:
    return f"multipart/form-data; boundary={BOUNDARY}"


def test_chunked_upload_over_the_limit_is_413(model: Path) -> None:
    """No Content-Length, chunked transfer: the received bytes are counted (413, not 500)."""
    app = create_app(stub_pipeline(model), ServeLimits(frames=3, max_upload_mb=0.05))
    body = multipart("big.png", png_bytes(400))
    assert len(body) > 0.05 * 1024 * 1024
    with running_server(app) as port:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            s.sendall(head(port, "Transfer-Encoding: chunked"))
            for i in range(0, len(body), 8192):
                part = body[i : i + 8192]
                s.sendall(f"{len(part):x}\r\n".encode() + part + b"\r\n")
            s.sendall(b"0\r\n\r\n")
            status, detail = read_status(s, 10)
        assert status == 413 and "limit" in detail["detail"]
        # A chunked upload within the limit is served as usual.
        small = multipart("small.png", png_bytes(60))
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            s.sendall(head(port, "Transfer-Encoding: chunked", "Connection: close"))
            s.sendall(f"{len(small):x}\r\n".encode() + small + b"\r\n0\r\n\r\n")
            status, result = read_status(s, 20)
        assert status == 200 and result["kind"] == "image"


@pytest.mark.parametrize(
    ("filename", "shown"),
    [("..", "upload"), ("/", "upload"), ("", "upload"), ("../../x", "x"), (".", "upload"),
     ("...png", "png"), ("a\\..\\..\\b.png", "b.png"), ("../.hidden.png", "hidden.png")],
)  # fmt: skip
def test_odd_file_names_are_plain_names(model: Path, filename: str, shown: str) -> None:
    client = TestClient(create_app(stub_pipeline(model), ServeLimits(frames=3)), "http://localhost")
    with client:
        r = client.post(
            "/v1/detect",
            content=multipart(filename, png_bytes(60)),
            headers={"Content-Type": head_type()},
        )
        assert r.status_code == 200, r.text
        assert r.json()["input"] == shown
        assert list(client.app.state.service.upload_root.iterdir()) == []


def test_host_header_check(model: Path) -> None:
    """DNS rebinding: a foreign Host is refused; local names and the allowed list pass."""
    app = create_app(stub_pipeline(model))
    for host, status in [
        ("evil.example", 400),
        ("evil.example:8000", 400),
        ("localhost:8000", 200),
        ("127.0.0.1", 200),
        ("[::1]:8000", 200),
    ]:
        assert TestClient(app).get("/healthz", headers={"Host": host}).status_code == status, host
    named = create_app(stub_pipeline(model), allowed_hosts=["detect.lab.example"])
    client = TestClient(named)
    assert client.get("/healthz", headers={"Host": "detect.lab.example:80"}).status_code == 200
    assert client.get("/healthz", headers={"Host": "localhost"}).status_code == 400
    anyone = TestClient(create_app(stub_pipeline(model), allowed_hosts=["*"]))
    assert anyone.get("/healthz", headers={"Host": "evil.example"}).status_code == 200


def test_bearer_token(model: Path) -> None:
    client = TestClient(create_app(stub_pipeline(model), token="s3cret"), "http://localhost")
    upload = {"file": ("a.png", png_bytes(60))}
    assert client.get("/v1/model").status_code == 401
    wrong = {"Authorization": "Bearer guess"}
    assert client.post("/v1/detect", files=upload, headers=wrong).status_code == 401
    right = {"Authorization": "Bearer s3cret"}
    assert client.get("/v1/model", headers=right).status_code == 200
    assert client.post("/v1/detect", files=upload, headers=right).status_code == 200
    assert client.get("/healthz").status_code == 200 and client.get("/").status_code == 200


def test_bind_rule() -> None:
    """A non-loopback bind needs a token (refused without one) and is warned about."""
    for host in ("127.0.0.1", "localhost", "::1", "127.0.0.2"):
        assert is_loopback(host) and check_bind(host, None) == []
    for host in ("0.0.0.0", "::", "192.168.1.10", "example.org"):
        assert not is_loopback(host)
        with pytest.raises(ServeConfigError, match="--token"):
            check_bind(host, None)
        assert "reachable from the network" in check_bind(host, "t")[0]


def test_serve_refuses_open_network_bind_before_loading(tmp_path: Path) -> None:
    runner = CliRunner()
    missing = str(tmp_path / "no-model")
    r = runner.invoke(cli_app, ["serve", "--model", missing, "--host", "0.0.0.0"], env={})
    assert r.exit_code == 2 and "--token" in r.output and "Traceback" not in r.output
    r = runner.invoke(
        cli_app,
        ["serve", "--model", missing, "--host", "0.0.0.0"],
        env={"FFDETECT_TOKEN": "t"},
    )
    assert r.exit_code == 2 and "no-model" in r.output  # got past the bind rule to the model


def test_model_info_shows_no_local_paths(model: Path, tmp_path: Path) -> None:
    meta = read_meta(model)
    secret = str(tmp_path / "home" / "alice" / "ffpp")
    meta.provenance = {
        "how": "ffdetect train",
        "command": f"ffdetect train --data {secret} --out {secret}/run",
        "config": {"data": {"root": secret}, "model": {"init": f"{secret}/beit.pth"}},
        "created": "2026-12-01T10:00:00+00:00",
    }
    meta.calibration = Calibration(chosen_on=f"{secret}/val_results.csv")
    write_meta(model, meta)
    client = TestClient(create_app(stub_pipeline(model)), "http://localhost")
    text = client.get("/v1/model").text
    assert "alice" not in text and str(tmp_path) not in text and "ffdetect train --data" not in text
    info = json.loads(text)
    assert info["provenance"] == {"how": "ffdetect train", "created": "2026-12-01T10:00:00+00:00"}
    assert "chosen_on" not in info["calibration"] and info["calibration"]["threshold"] == 0.5
    assert public_info({"stats": {"from": f"{secret}/v.csv", "n": 3}, "argv": ["x"]}) == {
        "stats": {"from": "v.csv", "n": 3}
    }


def test_frame_count_limit_holds_at_any_frame_rate(model: Path, tmp_path: Path) -> None:
    """A 20,000-frame clip at 1000 fps lasts 20 s (under 120 s) but costs 20,000 decodes."""
    import cv2

    path = tmp_path / "fast.mp4"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 1000, (32, 32))
    frame = cv2.resize(photo(64), (32, 32))
    for _ in range(20_000):
        writer.write(frame)
    writer.release()
    client = TestClient(create_app(stub_pipeline(model), ServeLimits(frames=3)), "http://localhost")
    r = client.post("/v1/detect", files={"file": ("fast.mp4", path.read_bytes())})
    assert r.status_code == 413 and "20000 frames" in r.json()["detail"]

    def refused(info: VideoInfo, limits: ServeLimits) -> str | None:
        try:
            check_media(Media(Path("v.mp4"), "video", info.width, info.height, info), limits)
        except LimitError as exc:
            return exc.message
        return None

    limits = ServeLimits()
    assert "frames" in refused(VideoInfo(20_000, 0.0, 32, 32), limits)  # fps 0: still counted
    assert "lasts" in refused(VideoInfo(100, 0.0, 32, 32, seconds=500.0), limits)
    assert refused(VideoInfo(3000, 25.0, 32, 32), limits) is None  # 2 minutes at 25 fps
    assert "frames" in refused(VideoInfo(3000, 25.0, 32, 32), ServeLimits(max_video_frames=2000))


def stall_head(port: int, source: str = "127.0.0.1") -> socket.socket:
    """A connection that sends its request line and part of its headers, then stalls."""
    s = socket.create_connection(("127.0.0.1", port), timeout=10, source_address=(source, 0))
    s.sendall(f"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nX-Slow: ".encode())
    return s


def read_raw(sock: socket.socket, timeout: float) -> bytes:
    """Everything the server sends until it closes the connection."""
    sock.settimeout(timeout)
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    return data


def read_response(sock: socket.socket) -> bytes:
    """One whole response (head and a Content-Length body), however the bytes arrive."""
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(65536)
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    while len(body) < length:
        body += sock.recv(65536)
    return head + b"\r\n\r\n" + body


def test_stalled_headers_do_not_starve_other_clients(model: Path) -> None:
    """70 connections from 127.0.0.1 stall inside their headers (one dribbles a byte every
    0.3 s): past the per-address cap they get 503 at once, the held ones 408 after the header
    timeout, and a client from 127.0.0.2 is served all along. Plain uvicorn answers it 503."""
    limits = ServeLimits(frames=3, header_timeout=2.0, max_connections_per_client=8)
    app = create_app(stub_pipeline(model), limits)
    with running_server(app, **server_options(limits)) as port:
        t0 = time.monotonic()
        stalled = [stall_head(port) for _ in range(70)]
        refused: list[socket.socket] = []
        while len(refused) < 70 - 8 and time.monotonic() - t0 < 1.5:
            refused = select.select(stalled, [], [], 0.1)[0]
        assert len(refused) == 70 - 8, "all but 8 answered at once"
        for s in refused:
            assert read_raw(s, 5).startswith(b"HTTP/1.1 503"), "over the cap: 503"
            s.close()
        held = [s for s in stalled if s not in refused]
        conn = http.client.HTTPConnection(
            "127.0.0.1", port, timeout=10, source_address=("127.0.0.2", 0)
        )
        conn.request("GET", "/healthz")
        response = conn.getresponse()
        assert response.status == 200 and response.read()
        conn.request("POST", "/v1/detect", body=multipart("f.png", png_bytes()),
                     headers={"Content-Type": head_type()})  # fmt: skip
        response = conn.getresponse()
        assert response.status == 200 and json.loads(response.read())["n_faces"] == 2
        conn.close()
        while time.monotonic() - t0 < 1.5:  # dribbling bytes does not restart the clock
            held[0].sendall(b"x")
            time.sleep(0.3)
        for s in held:
            assert read_raw(s, 5).startswith(b"HTTP/1.1 408")
            s.close()
        waited = time.monotonic() - t0
        assert 2.0 <= waited < 5.0, waited

        # Keep-alive: after a served request, the next head is timed too.
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            s.sendall(f"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode())
            assert read_response(s).startswith(b"HTTP/1.1 200")
            t1 = time.monotonic()
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: ")
            assert read_raw(s, 5).startswith(b"HTTP/1.1 408")
            assert 2.0 <= time.monotonic() - t1 < 5.0


def test_plain_uvicorn_is_starved_by_stalled_headers(model: Path) -> None:
    """Why the guard exists: without it 64 stalled heads make another address's request 503."""
    app = create_app(stub_pipeline(model), ServeLimits(frames=3))
    with running_server(app, limit_concurrency=64) as port:
        stalled = [stall_head(port) for _ in range(70)]
        time.sleep(0.3)
        conn = http.client.HTTPConnection(
            "127.0.0.1", port, timeout=10, source_address=("127.0.0.2", 0)
        )
        conn.request("GET", "/healthz")
        assert conn.getresponse().status == 503
        conn.close()
        for s in stalled:
            s.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_serve_verb_backend_and_connection_options(model: Path) -> None:
    """``ffdetect serve --backend int8 --header-timeout 2 --max-per-client 2`` as a real
    process: ``/v1/model`` reports them, a third stalled head from one address gets 503 and
    the held ones 408; an unknown backend is one error line."""
    port = free_port()
    command = [sys.executable, "-m", "ffdetect.cli", "serve", "--model", str(model),
               "--port", str(port), "--backend", "int8", "--header-timeout", "2",
               "--max-per-client", "2"]  # fmt: skip
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert server.poll() is None and time.monotonic() < deadline, "serve did not start"
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                conn.request("GET", "/v1/model")
                info = json.loads(conn.getresponse().read())
                conn.close()
                break
            except ConnectionRefusedError:
                time.sleep(0.2)
        assert info["backend"] == "int8"
        assert info["limits"]["header_timeout"] == 2.0
        assert info["limits"]["max_connections_per_client"] == 2
        stalled = [stall_head(port) for _ in range(3)]
        assert read_raw(stalled[2], 5).startswith(b"HTTP/1.1 503")
        assert all(read_raw(s, 5).startswith(b"HTTP/1.1 408") for s in stalled[:2])
        for s in stalled:
            s.close()
    finally:
        server.terminate()
        server.wait(timeout=20)
    r = CliRunner().invoke(cli_app, ["serve", "--model", str(model), "--backend", "fp16"])
    assert r.exit_code == 2 and "backend must be" in r.output and "Traceback" not in r.output
