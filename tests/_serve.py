"""``fastfer serve`` started as a user starts it, for the server's tests and its benchmark: the
command in a subprocess on a free loopback port, ready once ``/readyz`` answers 200, stopped
at the end. Plain ``http.client`` and sockets talk to it."""

from __future__ import annotations

import base64
import http.client
import json
import os
import signal
import socket
import struct
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Optional

#: Seconds for the server to load and warm its models (a loaded 2-core machine is slow).
START_TIMEOUT_S = 120.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Response:
    def __init__(self, status: int, headers: dict, body: bytes):
        self.status, self.headers, self.body = status, headers, body

    def json(self):
        return json.loads(self.body)


class ServeProcess:
    """``python -m fastfer serve --port P OPTIONS...`` with its log in ``log_path``."""

    def __init__(self, *options: str, log_path: Path, env: Optional[dict] = None):
        self.port = free_port()
        self.log_path = log_path
        self._log = open(log_path, "wb")
        command = [sys.executable, "-m", "fastfer", "serve", "--port", str(self.port), *options]
        self.proc = subprocess.Popen(
            command, stdout=self._log, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})}
        )
        self._wait_ready()

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"fastfer serve exited with {self.proc.returncode}: {self.log()}")
            try:
                if self.request("GET", "/readyz", timeout=2).status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"fastfer serve was not ready within {START_TIMEOUT_S:g} s: {self.log()}")

    def request(
        self, method: str, path: str, body: Optional[bytes] = None, headers: Optional[dict] = None, timeout: float = 60
    ) -> Response:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            answer = conn.getresponse()
            return Response(answer.status, {k.lower(): v for k, v in answer.getheaders()}, answer.read())
        finally:
            conn.close()

    def analyze(self, data: bytes, path: str = "/v1/analyze", headers: Optional[dict] = None, **kwargs) -> Response:
        return self.request("POST", path, data, {"Content-Type": "image/jpeg", **(headers or {})}, **kwargs)

    def metric(self, name: str, headers: Optional[dict] = None, **labels) -> float:
        """One sample of /metrics (0 when it has not been counted yet)."""
        text = self.request("GET", "/metrics", headers=headers).body.decode()
        want = ",".join(f'{k}="{v}"' for k, v in labels.items())
        head = f"{name}{{{want}}}" if labels else name
        for line in text.splitlines():
            if line.startswith(head + " "):
                return float(line.rsplit(" ", 1)[1])
        return 0.0

    def rss_bytes(self) -> int:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        raise RuntimeError("no VmRSS line")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]

    def stop(self) -> int:
        """SIGINT, as Ctrl-C: the server closes its connections and exits."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()
        return self.proc.returncode


def multipart(files: list, boundary: Optional[str] = None) -> tuple:
    """(body, content type) of a multipart/form-data form of ``files``: [(name, filename, bytes)]."""
    boundary = boundary or uuid.uuid4().hex
    parts = []
    for name, filename, data in files:
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n".encode()
            + data
            + b"\r\n"
        )
    return b"".join(parts) + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def raw_http(port: int, head: bytes, body: bytes = b"", timeout: float = 10) -> bytes:
    """Sends ``head`` and ``body`` as they are and returns all the server answers until it
    closes the connection (or ``timeout`` passes)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(head + body)
        chunks = []
        try:
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                chunks.append(chunk)
                if b"\r\n\r\n" in b"".join(chunks) and _complete(b"".join(chunks)):
                    break
        except socket.timeout:
            pass
    return b"".join(chunks)


def _complete(answer: bytes) -> bool:
    head, _, body = answer.partition(b"\r\n\r\n")
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            return len(body) >= int(line.split(b":")[1])
    return False


def status_of(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/1.1 ") else 0


def ws_handshake(port: int, path: str = "/v1/stream") -> socket.socket:
    """A raw socket past a WebSocket handshake, for frames no client library would send."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        (
            f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    answer = b""
    while b"\r\n\r\n" not in answer:
        answer += sock.recv(4096)
    assert answer.startswith(b"HTTP/1.1 101"), answer
    return sock


def ws_frame(
    payload: bytes, opcode: int = 2, fin: bool = True, masked: bool = True, rsv: int = 0, declared: Optional[int] = None
) -> bytes:
    """One WebSocket frame as given (a client must mask; ``declared``: a length other than the
    payload's)."""
    size = len(payload) if declared is None else declared
    first = (0x80 if fin else 0) | (rsv << 4) | opcode
    flag = 0x80 if masked else 0
    if size < 126:
        head = bytes([first, flag | size])
    elif size < 65536:
        head = bytes([first, flag | 126]) + struct.pack(">H", size)
    else:
        head = bytes([first, flag | 127]) + struct.pack(">Q", size)
    if not masked:
        return head + payload
    mask = os.urandom(4)
    return head + mask + bytes(b ^ mask[k % 4] for k, b in enumerate(payload))
