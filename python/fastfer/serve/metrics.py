"""The server's Prometheus metrics, in a registry of its own (one per application, so that two
servers in one process never count into each other)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

#: Paths counted under their own name; anything else is counted as "other", so that clients
#: cannot create new label values (and grow the registry) by inventing paths.
ENDPOINTS = (
    "/",
    "/app.js",
    "/style.css",
    "/healthz",
    "/readyz",
    "/metrics",
    "/v1/models",
    "/v1/analyze",
    "/v1/analyze/batch",
    "/v1/stream",
    "/docs",
    "/openapi.json",
)

LATENCY_BUCKETS = (0.005, 0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class Metrics:
    content_type = CONTENT_TYPE_LATEST

    def __init__(self):
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "fastfer_http_requests",
            "HTTP requests answered, by endpoint and status",
            ("endpoint", "status"),
            registry=r,
        )
        self.latency = Histogram(
            "fastfer_http_request_seconds",
            "Time to answer an HTTP request",
            ("endpoint",),
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.images = Counter("fastfer_images_analysed", "Images and stream frames analysed", registry=r)
        self.faces = Counter("fastfer_faces", "Faces found in the images analysed", registry=r)
        self.queue_depth = Gauge("fastfer_queue_depth", "Tasks waiting for an inference worker", registry=r)
        self.running = Gauge("fastfer_inference_running", "Tasks being analysed now", registry=r)
        self.rejected = Counter("fastfer_rejected", "Tasks refused because the queue was full", registry=r)
        self.streams = Gauge("fastfer_streams_open", "WebSocket streams open", registry=r)
        self.stream_messages = Counter(
            "fastfer_stream_messages", "WebSocket messages, by outcome", ("outcome",), registry=r
        )

    @staticmethod
    def endpoint(path: str) -> str:
        return path if path in ENDPOINTS else "other"

    def observe_request(self, path: str, status: int, seconds: float) -> None:
        endpoint = self.endpoint(path)
        self.requests.labels(endpoint, str(status)).inc()
        self.latency.labels(endpoint).observe(seconds)

    def observe_faces(self, count: int) -> None:
        self.images.inc()
        self.faces.inc(count)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
