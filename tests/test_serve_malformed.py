"""``fastfer serve`` against malformed clients, each written byte by byte on a raw socket where a
library would refuse to send it: truncated multipart, lying Content-Lengths, slow and idle
clients, wrong content types, non-images, decompression bombs, WebSocket protocol garbage and a
WebSocket client that never reads. Each is answered or closed cleanly, quickly, without a
traceback, and the server still answers ``/healthz`` and a real analysis afterwards.

The server runs as users start it (``fastfer serve`` in a subprocess on a free loopback port),
with a 3 s ``--timeout`` so that the deadlines are within a test's reach."""

from __future__ import annotations

import json
import socket
import struct
import time
import zlib

import numpy as np
import pytest
from _paths import SHIPPED_PHOTO
from _serve import ServeProcess, multipart, raw_http, status_of, ws_frame, ws_handshake

pytest.importorskip("fastapi", reason="fastfer serve needs the serve extra: pip install '.[serve]'")
pytest.importorskip("uvicorn", reason="fastfer serve needs the serve extra: pip install '.[serve]'")
from websockets.sync.client import connect

PHOTO = SHIPPED_PHOTO.read_bytes()
TIMEOUT_S = 3
MAX_PIXELS = 20_000_000
#: How long past the server's timeout a deadline may take to show (a loaded 2-core machine).
SLACK_S = 4


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    proc = ServeProcess(
        "--workers",
        "1",
        "--queue",
        "4",
        "--timeout",
        str(TIMEOUT_S),
        "--max-body-mb",
        "4",
        "--max-pixels",
        str(MAX_PIXELS),
        "--max-connections",
        "16",
        log_path=tmp_path_factory.mktemp("serve") / "malformed.log",
    )
    yield proc
    assert proc.stop() == 0, proc.log()
    assert "Traceback" not in proc.log(), proc.log()


def still_serves(proc: ServeProcess) -> None:
    assert proc.request("GET", "/healthz", timeout=10).status == 200
    answer = proc.analyze(PHOTO, timeout=30)
    assert answer.status == 200, answer.body
    assert len(answer.json()["faces"]) == 1


def head(method: str = "POST", path: str = "/v1/analyze", **headers: str) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1"]
    lines += [f"{name.replace('_', '-')}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def _read_until(sock: socket.socket, within: float, done, failure: str) -> bytes:
    """What the server sends until it ends the connection or ``done(received)`` holds; fails with
    ``failure`` if neither happens within ``within`` s."""
    sock.settimeout(0.5)
    out, deadline = b"", time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            continue
        except ConnectionResetError:
            return out
        out += chunk
        if not chunk or done(out):
            return out
    raise AssertionError(f"{failure} in {within} s; got {out[:200]!r}")


def read_until_closed(sock: socket.socket, within: float) -> bytes:
    """What the server sends until it closes the connection; fails if it has not within ``within`` s."""
    return _read_until(sock, within, lambda out: False, "the server kept the connection open")


def read_close_frame(sock: socket.socket, within: float) -> bytes:
    """Reads until the server's close frame (or the end of the connection); fails after ``within`` s."""
    return _read_until(
        sock, within, lambda out: out[:1] == b"\x88" and len(out) >= 4, "no close frame nor end of connection"
    )


def wait_streams_closed(proc: ServeProcess, within: float) -> None:
    deadline = time.monotonic() + within
    while proc.metric("fastfer_streams_open") > 0 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert proc.metric("fastfer_streams_open") == 0


def png_bomb(side: int) -> bytes:
    """A real PNG of side × side black grey pixels: a few hundred kB that inflate to side² bytes."""
    rows = zlib.compressobj(9)
    row = b"\0" * (side + 1)
    data = b"".join(rows.compress(row) for _ in range(side)) + rows.flush()

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", data) + chunk(b"IEND", b"")


def jpeg_claiming(width: int, height: int) -> bytes:
    """The shipped JPEG with its frame header (SOF0) saying width × height."""
    data = bytearray(PHOTO)
    at = data.index(b"\xff\xc0")
    data[at + 5 : at + 9] = struct.pack(">HH", height, width)
    return bytes(data)


# ------------------------------------------------------------------------- truncated multipart


def test_truncated_multipart_then_silence_is_a_408_at_the_deadline(server):
    body, content_type = multipart([("file", "photo.jpg", PHOTO)])
    start = time.monotonic()
    answer = raw_http(
        server.port,
        head(Content_Type=content_type, Content_Length=str(len(body))),
        body[: len(body) // 2],
        timeout=TIMEOUT_S + SLACK_S,
    )
    assert status_of(answer) == 408, answer[:200]
    assert time.monotonic() - start < TIMEOUT_S + SLACK_S
    still_serves(server)


def test_truncated_multipart_then_hang_up_is_dropped_quietly(server):
    body, content_type = multipart([("file", "photo.jpg", PHOTO)])
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(head(Content_Type=content_type, Content_Length=str(len(body))) + body[: len(body) // 2])
        sock.shutdown(socket.SHUT_WR)
        read_until_closed(sock, TIMEOUT_S + SLACK_S)
    still_serves(server)
    assert "Traceback" not in server.log()


def test_multipart_cut_inside_its_headers_or_without_a_boundary_is_a_400(server):
    body, content_type = multipart([("file", "photo.jpg", PHOTO)])
    cut = body[: body.index(b"filename") + 3]
    for data, media in (
        (cut, content_type),
        (body, "multipart/form-data"),
        (body, "multipart/form-data; boundary=not-the-one-used"),
    ):
        answer = server.request("POST", "/v1/analyze", data, {"Content-Type": media})
        assert answer.status == 400, (media, answer.body)
        assert answer.json()["error"]
    still_serves(server)


# ---------------------------------------------------------------------------- Content-Length


def test_a_2gb_content_length_on_the_batch_endpoint_is_a_413_at_once(server):
    _, content_type = multipart([("images", "a.jpg", PHOTO)])
    start = time.monotonic()
    answer = raw_http(
        server.port,
        head(path="/v1/analyze/batch", Content_Type=content_type, Content_Length="2147483648"),
        b"--x\r\n",
        timeout=10,
    )
    assert status_of(answer) == 413, answer[:200]
    assert time.monotonic() - start < 5
    still_serves(server)


@pytest.mark.parametrize("declared", ["abc", "-5", "1e9", "99999999999999999999999999999", "12, 34"])
def test_a_content_length_that_is_no_size_is_refused(server, declared):
    answer = raw_http(server.port, head(Content_Type="image/jpeg", Content_Length=declared), b"\xff\xd8", timeout=10)
    assert status_of(answer) in (400, 413), answer[:200]
    still_serves(server)


# ------------------------------------------------------------------------ slow and idle clients


def trickle(sock: socket.socket, data: bytes, wait: float) -> bytes:
    """``data`` sent a byte at a time, each followed by a read of up to ``wait`` s; the first
    answer, or b"" when the server hangs up or nothing comes by its deadline (and the slack)."""
    start = time.monotonic()
    sock.settimeout(wait)
    answer = b""
    for byte in data:
        try:
            sock.sendall(bytes([byte]))
            answer = sock.recv(65536)
        except socket.timeout:
            continue
        except (BrokenPipeError, ConnectionResetError):
            break
        if answer or time.monotonic() - start > TIMEOUT_S + SLACK_S:
            break
    return answer


def test_a_body_trickled_a_byte_at_a_time_is_a_408_at_the_deadline(server):
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(head(Content_Type="image/jpeg", Content_Length=str(len(PHOTO))))
        answer = trickle(sock, PHOTO, 0.25)
    assert status_of(answer) == 408, answer[:200]
    still_serves(server)


def test_a_head_trickled_a_byte_at_a_time_is_closed_at_the_deadline(server):
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        answer = trickle(sock, head(Content_Type="image/jpeg", Content_Length="10", X_Padding="y" * 400), 0.2)
    assert status_of(answer) == 408, answer[:200]
    still_serves(server)


def test_idle_connections_are_closed_and_do_not_lock_others_out(server):
    """More silent connections than --max-connections (16): at first the others may be refused
    (503), and after the timeout the silent ones are closed and everyone is served again."""
    idle = [socket.create_connection(("127.0.0.1", server.port), timeout=10) for _ in range(20)]
    try:
        for sock in idle[:3]:
            assert status_of(read_until_closed(sock, TIMEOUT_S + SLACK_S)) == 408
        time.sleep(1)
        still_serves(server)
    finally:
        for sock in idle:
            sock.close()


# ------------------------------------------------------------------- content types, non-images


@pytest.mark.parametrize(
    "media", ["text/plain", "application/json", "application/x-www-form-urlencoded", "image", "\xff\xfe/\x00x"]
)
def test_a_wrong_content_type_is_a_415(server, media):
    answer = raw_http(
        server.port,
        head(Content_Type=media, Content_Length=str(len(PHOTO))).replace(b"\xc3\xbf\xc3\xbe", b"\xff\xfe"),
        PHOTO,
        timeout=10,
    )
    assert status_of(answer) in (400, 415), answer[:200]
    if status_of(answer) == 415:
        assert b"multipart/form-data" in answer
    still_serves(server)


@pytest.mark.parametrize(
    "name,data",
    [
        ("random bytes", bytes(np.random.default_rng(0).integers(0, 256, 4096, np.uint8))),
        ("html", b"<!doctype html><html><body>hello</body></html>"),
        ("jpeg start only", PHOTO[:600]),
        ("jpeg header, garbage after", PHOTO[:600] + b"\x00" * 4000),
        ("png signature only", b"\x89PNG\r\n\x1a\n"),
        ("gif header only", b"GIF89a\x10\x00\x10\x00\x00\x00\x00;"),
    ],
)
def test_a_non_image_is_a_400_naming_the_problem(server, name, data):
    answer = server.analyze(data)
    assert answer.status in (200, 400), (name, answer.body)  # a truncated JPEG may decode in part
    assert "Traceback" not in answer.body.decode(errors="replace")
    if answer.status == 400:
        assert "decode" in answer.json()["error"], answer.body
    still_serves(server)


# --------------------------------------------------------------------------- decompression bombs


def test_decompression_bombs_are_a_413_before_decoding(server):
    bomb = png_bomb(10_000)  # 100 MP, five times the cap, in a few hundred kB
    assert len(bomb) < 1 << 20
    rss = server.rss_bytes()
    for data in (bomb, jpeg_claiming(60_000, 60_000)):
        start = time.monotonic()
        answer = server.analyze(data, headers={"Content-Type": "application/octet-stream"})
        assert answer.status == 413 and "--max-pixels" in answer.json()["error"], answer.body
        assert time.monotonic() - start < 2
    body, content_type = multipart([("images", "bomb.png", bomb), ("images", "ok.jpg", PHOTO)])
    results = server.request("POST", "/v1/analyze/batch", body, {"Content-Type": content_type}).json()["results"]
    assert results[0]["status"] == 413 and len(results[1]["faces"]) == 1
    with connect(f"ws://127.0.0.1:{server.port}/v1/stream") as ws:
        ws.send(bomb)
        assert json.loads(ws.recv(timeout=30))["status"] == 413
    assert server.rss_bytes() - rss < 64 << 20  # 100 MB were never allocated
    still_serves(server)


# ------------------------------------------------------------------------------ WebSocket

GARBAGE_FRAMES = {
    "unmasked frame": ws_frame(b"\xff\xd8 unmasked", masked=False),
    "reserved opcode": ws_frame(b"what", opcode=0x3),
    "rsv bits without an extension": ws_frame(b"zipped?", rsv=0b100),
    "text that is not UTF-8": ws_frame(b"\xff\xfe\xfd", opcode=0x1),
    "a frame declaring 4 EiB": ws_frame(b"\0" * 16, declared=1 << 62),
    "a control frame of 200 bytes": ws_frame(b"p" * 200, opcode=0x9),
    "bytes that are no frame": b"GET / HTTP/1.1\r\n\r\n" * 4,
}


@pytest.mark.parametrize("kind", list(GARBAGE_FRAMES))
def test_websocket_protocol_garbage_closes_the_stream_cleanly(server, kind):
    sock = ws_handshake(server.port)
    try:
        sock.sendall(GARBAGE_FRAMES[kind])
        answer = read_close_frame(sock, TIMEOUT_S + SLACK_S)
    finally:
        sock.close()
    if answer:  # a close frame, with a protocol-error code
        assert answer[0] == 0x88, answer[:20]
        assert struct.unpack(">H", answer[2:4])[0] in (1002, 1007, 1009), answer[:20]
    wait_streams_closed(server, 10)
    still_serves(server)


def test_websocket_garbage_messages_get_errors_and_the_stream_goes_on(server):
    with connect(f"ws://127.0.0.1:{server.port}/v1/stream") as ws:
        for garbage in (b"", b"\x00" * 1000, "{not json", json.dumps({"frame": 1}), PHOTO[:500]):
            ws.send(garbage)
            reply = json.loads(ws.recv(timeout=30))
            assert reply["status"] == 400 and reply["error"], reply
        ws.send(PHOTO)
        assert len(json.loads(ws.recv(timeout=30))["faces"]) == 1
    still_serves(server)


def test_websocket_clients_that_never_read_are_closed_and_others_served(server):
    """One client sends a frame and then never reads (nor answers the server's pings); another
    leaves a fragmented message unfinished. Both are closed within two timeouts (the ping and
    its pong's wait); meanwhile a good stream and HTTP clients are served."""
    mute = ws_handshake(server.port)
    mute.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    mute.sendall(ws_frame(PHOTO))
    unfinished = ws_handshake(server.port)
    unfinished.sendall(ws_frame(PHOTO[:1000], fin=False))
    try:
        with connect(f"ws://127.0.0.1:{server.port}/v1/stream") as ws:
            ws.send(PHOTO)
            assert len(json.loads(ws.recv(timeout=30))["faces"]) == 1
        still_serves(server)
        read_until_closed(unfinished, 2 * TIMEOUT_S + SLACK_S)
        wait_streams_closed(server, 2 * TIMEOUT_S + SLACK_S)
    finally:
        mute.close()
        unfinished.close()
    still_serves(server)


def test_a_websocket_handshake_that_is_wrong_is_refused(server):
    for extra in (
        "Sec-WebSocket-Version: 13\r\n",
        "Sec-WebSocket-Key: short\r\nSec-WebSocket-Version: 13\r\n",
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 7\r\n",
    ):
        request = (
            f"GET /v1/stream HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n{extra}\r\n"
        ).encode()
        answer = raw_http(server.port, request, timeout=TIMEOUT_S + SLACK_S)
        assert 400 <= status_of(answer) < 500, answer[:200]
    still_serves(server)


# ------------------------------------------------------------------------------- afterwards


def test_metrics_count_the_refusals(server):
    def count(status: str) -> float:
        return server.metric("fastfer_http_requests_total", endpoint="/v1/analyze", status=status)

    before = {status: count(status) for status in ("400", "408", "413", "415")}
    errors = server.metric("fastfer_stream_messages_total", outcome="error")
    server.analyze(b"no image")
    server.analyze(jpeg_claiming(60_000, 60_000))
    server.request("POST", "/v1/analyze", PHOTO, {"Content-Type": "text/plain"})
    raw_http(
        server.port,
        head(Content_Type="image/jpeg", Content_Length=str(len(PHOTO))),
        PHOTO[:100],
        timeout=TIMEOUT_S + SLACK_S,
    )
    with connect(f"ws://127.0.0.1:{server.port}/v1/stream") as ws:
        ws.send(b"no image")
        ws.recv(timeout=30)
    assert {status: count(status) - before[status] for status in before} == {"400": 1, "408": 1, "413": 1, "415": 1}
    assert server.metric("fastfer_stream_messages_total", outcome="error") - errors == 1
    wait_streams_closed(server, 10)
