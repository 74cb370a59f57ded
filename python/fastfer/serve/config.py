"""What ``fastfer serve`` is started with: the models, the limits and the access rules."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Optional

from .._args import int_in, positive_number

#: Request bodies (one image, a batch, one WebSocket frame) larger than this are refused (413).
DEFAULT_MAX_BODY_BYTES = 20 << 20
#: Requests waiting for a worker beyond those running; past it the answer is 503 at once.
DEFAULT_QUEUE_SIZE = 8
#: Seconds a request may take in all: its body arriving, waiting for a worker and the analysis.
DEFAULT_TIMEOUT = 30.0
#: Images in one ``/v1/analyze/batch`` request.
DEFAULT_MAX_BATCH = 16
#: WebSocket streams open at once (each holds a tracker and a decoding thread).
DEFAULT_MAX_STREAMS = 32


@dataclass(frozen=True)
class ServeConfig:
    """The server's settings.

    Args:
        fer: ``fastfer.FER``'s keyword arguments (detector, classifier, min_face, ...), fixed at
            start; per request, ``min_face``, ``max_faces`` and ``score_threshold`` may only
            narrow what these find.
        max_pixels: the pixel cap for decoded images (None: the process default).
        workers: inference threads over the one FER (the native pipeline runs without the GIL).
        queue_size: requests admitted beyond the running ones; the next gets 503 + Retry-After.
        max_body_bytes: the largest request body or WebSocket frame.
        timeout: seconds per request (body, queue and analysis); 408 while the body is still
            arriving, 504 when the analysis is not done in time.
        max_batch: images per batch request.
        max_streams: WebSocket streams open at once.
        api_key: when set, ``/v1/*`` and ``/metrics`` need ``Authorization: Bearer <api_key>``.
        cors_origins: origins a browser may call the API from (none: CORS off).
    """

    fer: dict = field(default_factory=dict)
    max_pixels: Optional[int] = None
    workers: int = 1
    queue_size: int = DEFAULT_QUEUE_SIZE
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    timeout: float = DEFAULT_TIMEOUT
    max_batch: int = DEFAULT_MAX_BATCH
    max_streams: int = DEFAULT_MAX_STREAMS
    api_key: Optional[str] = None
    cors_origins: tuple = ()

    def __post_init__(self):
        # The checked values are stored as Python ints and floats: numpy scalars are accepted, and
        # public() goes to JSON as it is (GET /v1/models).
        for name, minimum in (
            ("workers", 1),
            ("max_body_bytes", 1),
            ("max_batch", 1),
            ("max_streams", 1),
            ("queue_size", 0),
        ):
            object.__setattr__(self, name, int_in(getattr(self, name), name, minimum))
        if self.max_pixels is not None:
            object.__setattr__(self, "max_pixels", int_in(self.max_pixels, "max_pixels", 1))
        object.__setattr__(self, "timeout", positive_number(self.timeout, "timeout", " of seconds"))
        if self.api_key is not None and (not isinstance(self.api_key, str) or not self.api_key):
            raise ValueError("api_key must be a non-empty string (or None for no key)")
        object.__setattr__(self, "cors_origins", tuple(self.cors_origins))

    def public(self) -> dict:
        """The settings a client may see (``GET /v1/models``): everything but the API key."""
        out = dataclasses.asdict(self)
        out["api_key"] = self.api_key is not None
        out["cors_origins"] = list(self.cors_origins)
        return out
