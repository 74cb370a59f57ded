"""The ASGI application of ``fastfer serve`` (FastAPI): routes, access rules and error answers.

Every answer other than 200 is JSON ``{"error": "..."}`` naming the problem; an unexpected
failure is logged with its traceback on the server and answered 500 without one.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import time
from contextlib import asynccontextmanager
from dataclasses import dataclass
from importlib import resources
from typing import Awaitable, Callable, Optional

from fastapi import Depends, FastAPI, Query, Request, WebSocket
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.websockets import WebSocketDisconnect

import fastfer
from fastfer.core.timing import analyze_timed

from .body import BodyLimit, ServeError, read_images
from .config import ServeConfig
from .metrics import Metrics
from .pool import AnalysisTimeout, Deadline, InferencePool, PoolFull
from .stream import StreamSession, error_reply

log = logging.getLogger("fastfer.serve")

#: Seconds a client refused for a full queue is asked to wait before trying again.
RETRY_AFTER_S = 1

_PAGE_FILES = {
    "/": ("index.html", "text/html; charset=utf-8"),
    "/app.js": ("app.js", "text/javascript; charset=utf-8"),
    "/style.css": ("style.css", "text/css; charset=utf-8"),
}

# The page loads nothing from elsewhere: its own script and style, images the user picks (blob:),
# the camera, and this server's API over fetch and the WebSocket.
_PAGE_POLICY = (
    "default-src 'self'; img-src 'self' blob: data:; media-src 'self' blob: mediastream:; "
    "connect-src 'self' ws: wss:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)

_RAW_OR_MULTIPART = {
    "requestBody": {
        "required": True,
        "content": {
            "image/jpeg": {"schema": {"type": "string", "format": "binary"}},
            "image/png": {"schema": {"type": "string", "format": "binary"}},
            "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
            "multipart/form-data": {
                "schema": {"type": "object", "properties": {"file": {"type": "string", "format": "binary"}}}
            },
        },
    }
}


class Server:
    """What the routes share: the settings, the loaded FER, the pool and the metrics."""

    def __init__(self, config: ServeConfig, metrics: Metrics):
        self.config, self.metrics = config, metrics
        self.fer: Optional[fastfer.FER] = None
        self.pool: Optional[InferencePool] = None
        self.streams = 0

    def ready(self) -> bool:
        return self.fer is not None and self.pool is not None

    def ready_or_503(self) -> None:
        if not self.ready():
            raise ServeError(503, "the models are still loading", {"Retry-After": str(RETRY_AFTER_S)})

    async def run(self, fn, *args, deadline: Deadline):
        """``fn(*args)`` in the pool, its refusals as the answers they get."""
        self.ready_or_503()
        try:
            return await self.pool.run(fn, *args, deadline=deadline)
        except PoolFull:
            self.metrics.rejected.inc()
            raise ServeError(
                503,
                "the server is busy: every worker is taken and the queue is full; try again shortly",
                {"Retry-After": str(RETRY_AFTER_S)},
            ) from None
        except AnalysisTimeout:
            raise ServeError(
                504, f"the analysis did not finish within the server's timeout of {deadline.seconds:g} s"
            ) from None


# ------------------------------------------------------------------------------ analysis


def _narrowing(config: ServeConfig, fer: fastfer.FER, min_face, max_faces, score_threshold) -> dict:
    """The per-request filters, refused (400) where they would widen what the server looks for."""
    detector = fer.detector
    if min_face is not None and min_face < detector.min_face:
        raise ServeError(
            400,
            f"min_face={min_face} is below this server's {detector.min_face}: smaller "
            "faces are not looked for (start the server with a lower --min-face)",
        )
    if max_faces is not None and max_faces > detector.max_faces:
        raise ServeError(
            400,
            f"max_faces={max_faces} is above this server's {detector.max_faces} "
            "(start the server with a higher --max-faces)",
        )
    if score_threshold is not None and score_threshold < detector.score_threshold:
        raise ServeError(
            400,
            f"score_threshold={score_threshold} is below this server's "
            f"{detector.score_threshold} (start the server with a lower --score-threshold)",
        )
    return {"min_face": min_face, "max_faces": max_faces, "score_threshold": score_threshold}


def _narrow(faces: list, min_face=None, max_faces=None, score_threshold=None) -> list:
    """``faces`` (best score first) without those smaller or less sure than asked, at most
    ``max_faces``. A face's size is its box's long side, as the detector's min_face measures it."""
    kept = [
        f
        for f in faces
        if (min_face is None or max(f.box[2] - f.box[0], f.box[3] - f.box[1]) >= min_face)
        and (score_threshold is None or f.score >= score_threshold)
    ]
    return kept if max_faces is None else kept[:max_faces]


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 3)


def _analyze_image(fer: fastfer.FER, data: bytes, submitted: float, narrowing: dict) -> dict:
    """One image's answer: size, faces and where the time went (run in a worker thread)."""
    start = time.perf_counter()
    image = fastfer.load_image(data)
    decoded = time.perf_counter()
    faces, stages = analyze_timed(fer, image)
    timing = {name: _ms(value) for name, value in stages.to_dict().items()}
    timing.update(queue=_ms(start - submitted), decode=_ms(decoded - start), total=_ms(time.perf_counter() - start))
    height, width = image.shape[:2]
    faces = _narrow(faces, **narrowing)
    return {"width": width, "height": height, "faces": [face.to_dict() for face in faces], "timing_ms": timing}


def _image_error(exc: BaseException) -> tuple:
    """(status, message) for an image that could not be analysed."""
    status = 413 if isinstance(exc, fastfer.ImageTooLargeError) else 400
    text = str(exc)
    if status == 413:
        text += " (the server's --max-pixels)"
    return status, text


def _analyze_batch(fer: fastfer.FER, images: list, submitted: float, narrowing: dict) -> list:
    results = []
    for index, (name, data) in enumerate(images):
        entry = {"index": index, "filename": name}
        try:
            entry.update(_analyze_image(fer, data, submitted, narrowing))
        except (fastfer.Error, OSError) as exc:
            entry["status"], entry["error"] = _image_error(exc)
        results.append(entry)
    return results


# ------------------------------------------------------------------------------- the app


def create_app(config: ServeConfig, fer: Optional[fastfer.FER] = None) -> FastAPI:
    """The application for ``config``; ``fer``: the FER to serve (default: one built from
    ``config.fer`` when the application starts)."""
    metrics = Metrics()
    server = Server(config, metrics)

    @asynccontextmanager
    async def lifespan(app):
        if config.max_pixels is not None:
            fastfer.set_max_pixels(config.max_pixels)
        server.fer = fer if fer is not None else await asyncio.to_thread(lambda: fastfer.FER(**config.fer))
        server.pool = InferencePool(config.workers, config.queue_size, metrics)
        log.info(
            "fastfer serve: %s + %s (%s inference), %d workers, queue %d",
            server.fer.detector.spec.name,
            server.fer.classifier.spec.name,
            server.fer.inference,
            config.workers,
            config.queue_size,
        )
        try:
            yield
        finally:
            pool, server.pool = server.pool, None
            await asyncio.to_thread(pool.shutdown)

    app = FastAPI(
        title="fastfer",
        version=fastfer.__version__,
        lifespan=lifespan,
        description="Faces, landmarks and expressions of images. See docs/serve.md.",
    )
    app.state.server = server
    _add_error_handlers(app)
    _add_page(app)
    _add_probes(app, server)
    _add_analysis(app, server)
    _add_stream(app, server)
    _add_middleware(app, server)
    return app


def _authorized(config: ServeConfig, header: Optional[str]) -> bool:
    if config.api_key is None:
        return True
    expected = f"Bearer {config.api_key}".encode()
    return hmac.compare_digest((header or "").encode("utf-8", "replace"), expected)


def _key_checker(server: Server):
    # async although it never awaits: FastAPI runs a plain-def dependency in its thread pool,
    # a hand-off to another thread and back on every request for a check of one header.
    async def require_key(request: Request) -> None:
        if not _authorized(server.config, request.headers.get("authorization")):
            raise ServeError(
                401,
                "missing or wrong API key: send the header 'Authorization: Bearer KEY'",
                {"WWW-Authenticate": "Bearer"},
            )

    return require_key


def _error(status: int, message: str, headers: Optional[dict] = None) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=headers)


def _add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ServeError)
    async def serve_error(request, exc: ServeError):
        return _error(exc.status, exc.message, exc.headers)

    @app.exception_handler(fastfer.InvalidImageError)
    async def bad_image(request, exc):
        return _error(*_image_error(exc))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request, exc: StarletteHTTPException):
        return _error(exc.status_code, str(exc.detail), getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request, exc: RequestValidationError):
        parts = [f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg', 'invalid')}" for e in exc.errors()]
        return _error(422, "; ".join(parts) or "invalid request")

    @app.exception_handler(Exception)
    async def unexpected(request, exc: Exception):
        log.error("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
        return _error(500, "internal server error (the server's log has the details)")


def _add_page(app: FastAPI) -> None:
    static = resources.files("fastfer.serve") / "static"
    files = {path: (static.joinpath(name).read_bytes(), media) for path, (name, media) in _PAGE_FILES.items()}
    headers = {
        "Content-Security-Policy": _PAGE_POLICY,
        "X-Content-Type-Options": "nosniff",
        "Cache-Control": "no-cache",
    }

    def serve_file(path: str):
        body, media = files[path]

        async def page_file():
            return Response(body, media_type=media, headers=headers)

        return page_file

    for path in files:
        app.get(path, include_in_schema=False)(serve_file(path))


def _add_probes(app: FastAPI, server: Server) -> None:
    require_key = _key_checker(server)

    @app.get("/healthz", summary="The process answers")
    async def healthz():
        return {"status": "ok"}

    @app.get("/readyz", summary="The models are loaded and warmed")
    async def readyz():
        if not server.ready():
            return _error(503, "the models are still loading", {"Retry-After": str(RETRY_AFTER_S)})
        return {"status": "ready"}

    @app.get("/metrics", summary="Prometheus metrics", dependencies=[Depends(require_key)])
    async def metrics():
        return Response(server.metrics.exposition(), media_type=server.metrics.content_type)

    @app.get("/v1/models", summary="The models served and the server's settings", dependencies=[Depends(require_key)])
    async def models():
        server.ready_or_503()
        fer = server.fer
        return {
            "version": fastfer.__version__,
            "detector": fer.detector.spec.name,
            "classifier": fer.classifier.spec.name,
            "inference": fer.inference,
            "labels": list(fastfer.LABELS),
            "min_face": fer.detector.min_face,
            "max_faces": fer.detector.max_faces,
            "score_threshold": fer.detector.score_threshold,
            "max_pixels": fastfer.get_max_pixels(),
            "settings": server.config.public(),
        }


def _add_analysis(app: FastAPI, server: Server) -> None:
    """POST /v1/analyze and POST /v1/analyze/batch, behind the API key, with the same filters."""
    require_key = _key_checker(server)
    filters = _filter_queries()
    for endpoint in _ANALYSIS_ENDPOINTS:
        _add_analysis_endpoint(app, server, require_key, filters, endpoint)


def _filter_queries() -> dict:
    """The query parameters both analysis endpoints take to narrow the faces answered."""
    return dict(
        min_face=Query(
            None,
            ge=0,
            description="drop faces shorter than this (long side, pixels); not below the server's --min-face",
        ),
        max_faces=Query(None, ge=1, description="at most this many faces, best score first"),
        score_threshold=Query(None, ge=0.0, le=1.0, description="drop faces scored lower"),
    )


@dataclass(frozen=True)
class _AnalysisEndpoint:
    """One of the analysis endpoints: its route (``name``: the OpenAPI operation's; ``description``:
    what /docs says of it), how many images a request may hold, and how they are answered."""

    path: str
    name: str
    summary: str
    description: str
    max_images: Callable[[ServeConfig], int]
    answer: Callable[[Server, list, dict, Deadline], Awaitable[dict]]


def _add_analysis_endpoint(
    app: FastAPI, server: Server, require_key, filters: dict, endpoint: _AnalysisEndpoint
) -> None:
    """POST ``endpoint.path``: the request's images read (within the deadline, the filters
    checked first), then analysed and answered by ``endpoint.answer``."""
    config = server.config

    @app.post(
        endpoint.path,
        name=endpoint.name,
        summary=endpoint.summary,
        description=endpoint.description,
        openapi_extra=_RAW_OR_MULTIPART,
        dependencies=[Depends(require_key)],
    )
    async def analysis(
        request: Request,
        min_face: Optional[int] = filters["min_face"],
        max_faces: Optional[int] = filters["max_faces"],
        score_threshold: Optional[float] = filters["score_threshold"],
    ):
        deadline = Deadline(config.timeout)
        server.ready_or_503()
        narrowing = _narrowing(config, server.fer, min_face, max_faces, score_threshold)
        images = await read_images(request, deadline, max_images=endpoint.max_images(config))
        return await endpoint.answer(server, images, narrowing, deadline)


async def _answer_one(server: Server, images: list, narrowing: dict, deadline: Deadline) -> dict:
    result = await server.run(
        _analyze_image, server.fer, images[0][1], time.perf_counter(), narrowing, deadline=deadline
    )
    server.metrics.observe_faces(len(result["faces"]))
    return result


async def _answer_batch(server: Server, images: list, narrowing: dict, deadline: Deadline) -> dict:
    results = await server.run(_analyze_batch, server.fer, images, time.perf_counter(), narrowing, deadline=deadline)
    for entry in results:
        if "faces" in entry:
            server.metrics.observe_faces(len(entry["faces"]))
    return {"results": results}


_ANALYSIS_ENDPOINTS = (
    _AnalysisEndpoint(
        "/v1/analyze",
        "analyze",
        "Faces and expressions of one image",
        "The image as the body (image/jpeg, image/png, ... or application/octet-stream) or as\n"
        "one multipart/form-data file. Answers {width, height, faces: [Face.to_dict()], timing_ms}.",
        lambda config: 1,
        _answer_one,
    ),
    _AnalysisEndpoint(
        "/v1/analyze/batch",
        "analyze_batch",
        "Faces and expressions of several images",
        "Several multipart/form-data files. Answers {results: [...]}, one entry per file in\n"
        "order: {index, filename, width, height, faces, timing_ms}, or {index, filename, status,\n"
        "error} for a file that could not be analysed (the others are still analysed).",
        lambda config: config.max_batch,
        _answer_batch,
    ),
)


def _add_stream(app: FastAPI, server: Server) -> None:
    config, metrics = server.config, server.metrics

    @app.websocket("/v1/stream")
    async def stream(ws: WebSocket):
        if not server.ready() or server.streams >= config.max_streams:
            await ws.close(code=1013, reason="busy: too many streams, or the models are loading")
            return
        server.streams += 1
        metrics.streams.inc()
        session = None
        try:
            await ws.accept()
            if not _authorized(config, ws.headers.get("authorization")) and not await _first_message_key(ws, config):
                await ws.close(code=1008, reason="missing or wrong API key")
                return
            session = StreamSession(server.fer)
            await _serve_stream(ws, server, session)
        except WebSocketDisconnect:
            pass
        finally:
            server.streams -= 1
            metrics.streams.dec()
            if session is not None:
                await asyncio.to_thread(session.close)


async def _first_message_key(ws: WebSocket, config: ServeConfig) -> bool:
    """A browser cannot set headers on a WebSocket: its first message may be the text
    ``{"authorization": "Bearer KEY"}`` instead."""
    try:
        message = await asyncio.wait_for(ws.receive(), config.timeout)
    except asyncio.TimeoutError:
        return False
    text = message.get("text")
    if not text:
        return False
    try:
        header = json.loads(text).get("authorization")
    except (ValueError, AttributeError):
        return False
    return isinstance(header, str) and _authorized(config, header)


async def _serve_stream(ws: WebSocket, server: Server, session: StreamSession) -> None:
    config, metrics = server.config, server.metrics
    while True:
        message = await ws.receive()
        if message["type"] == "websocket.disconnect":
            return
        data = message.get("bytes")
        if data is None:
            reply, outcome = error_reply(400, "send each frame as one binary message (JPEG or PNG bytes)"), "error"
        else:
            reply, outcome = await _stream_frame(server, session, data)
        metrics.stream_messages.labels(outcome).inc()
        try:
            await asyncio.wait_for(ws.send_text(reply), config.timeout)
        except asyncio.TimeoutError:  # the client does not read: stop holding its replies
            log.info("closing a stream whose client has not read for %g s", config.timeout)
            return


async def _stream_frame(server: Server, session: StreamSession, data: bytes) -> tuple:
    """(the reply, the outcome counted in the metrics) for one frame."""
    try:
        result = await server.run(session.analyze, data, time.perf_counter(), deadline=Deadline(server.config.timeout))
    except ServeError as exc:
        return error_reply(exc.status, exc.message), "busy" if exc.status == 503 else "error"
    except (fastfer.Error, OSError) as exc:
        return error_reply(*_image_error(exc)), "error"
    server.metrics.observe_faces(len(result["faces"]))
    return json.dumps(result), "frame"


# ---------------------------------------------------------------------------- middleware


class RequestMetrics:
    """ASGI middleware: counts every HTTP answer by endpoint and status, with its latency."""

    def __init__(self, app, metrics: Metrics):
        self.app, self.metrics = app, metrics

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        start, status = time.perf_counter(), 500

        async def send_counted(message):
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_counted)
        finally:
            self.metrics.observe_request(scope["path"], status, time.perf_counter() - start)


def _add_middleware(app: FastAPI, server: Server) -> None:
    config = server.config

    async def refuse(scope, send, exc: ServeError):
        response = _error(exc.status, exc.message, exc.headers)
        response.headers["Connection"] = "close"  # the unread body must not be taken as the next request
        await response(scope, None, send)

    app.add_middleware(BodyLimit, limit=config.max_body_bytes, on_refused=refuse)
    if config.cors_origins:
        from fastapi.middleware.cors import CORSMiddleware

        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(config.cors_origins),
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "Content-Type"],
        )
    app.add_middleware(RequestMetrics, metrics=server.metrics)  # added last: outermost, sees every answer
