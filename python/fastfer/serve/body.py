"""Request bodies, read within the server's limits: a size cap enforced before and while the
body arrives (never after reading it whole), and the request's deadline for slow clients."""

from __future__ import annotations

import asyncio

from starlette.requests import Request

from .pool import Deadline

#: Content types of a body that is the image itself.
RAW_IMAGE_TYPES = ("image/", "application/octet-stream")
MULTIPART = "multipart/form-data"


class ServeError(Exception):
    """An answer other than 200: ``status``, a message naming the problem, extra headers."""

    def __init__(self, status: int, message: str, headers: dict | None = None):
        super().__init__(message)
        self.status, self.message, self.headers = status, message, headers or {}


def too_large(limit: int) -> ServeError:
    return ServeError(413, f"the request body is larger than this server's limit of {limit:,} bytes (--max-body-mb)")


class BodyLimit:
    """ASGI middleware: a declared Content-Length over ``limit`` is answered 413 before any of
    the body is read; a body without one (chunked) is counted as it arrives and refused as soon
    as it passes the limit (a 413 :class:`ServeError` raised inside ``receive``, which the
    application's handler answers)."""

    def __init__(self, app, limit: int, on_refused):
        self.app, self.limit, self.on_refused = app, limit, on_refused

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = _content_length(scope)
        if declared is not None and declared > self.limit:
            return await self.on_refused(scope, send, too_large(self.limit))
        if declared == -1:
            return await self.on_refused(scope, send, ServeError(400, "the Content-Length header is not a number"))
        received = 0

        async def counted_receive():
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise too_large(self.limit)
            return message

        await self.app(scope, counted_receive, send)


def _content_length(scope) -> int | None:
    """The declared length; -1 when the header is not a number; None when absent."""
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            text = value.decode("latin-1").strip()
            return int(text) if text.isdigit() else -1
    return None


def _media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";", 1)[0].strip().lower()


async def _within(awaitable, deadline: Deadline):
    try:
        return await asyncio.wait_for(awaitable, deadline.remaining())
    except asyncio.TimeoutError:
        raise ServeError(
            408, f"the request body did not arrive within the server's timeout of {deadline.seconds:g} s"
        ) from None


async def read_images(request: Request, deadline: Deadline, max_images: int) -> list:
    """[(name, bytes)] from the body: the body itself when it is an image (``image/*``,
    ``application/octet-stream`` or no content type), else each file of a multipart form."""
    media = _media_type(request)
    if media == MULTIPART:
        return await _form_files(request, deadline, max_images)
    if not media or media.startswith(RAW_IMAGE_TYPES):
        data = await _within(request.body(), deadline)
        if not data:
            raise ServeError(
                400,
                "the request body is empty: send an image (JPEG, PNG, ...) as the "
                "body or as a multipart/form-data file",
            )
        return [("body", data)]
    raise ServeError(
        415,
        f"unsupported content type {media!r}: send the image as the body (image/jpeg, "
        "image/png, ... or application/octet-stream) or as multipart/form-data",
    )


async def _form_files(request: Request, deadline: Deadline, max_images: int) -> list:
    from starlette.datastructures import UploadFile

    form = await _within(request.form(max_files=max_images, max_fields=max_images), deadline)
    try:
        files = [value for _, value in form.multi_items() if isinstance(value, UploadFile)]
        if not files:
            raise ServeError(400, "the multipart body holds no file: send the image as a file field")
        return [(upload.filename or f"file {k}", await upload.read()) for k, upload in enumerate(files)]
    finally:
        await form.close()


class HeadDeadline:
    """Mixed into uvicorn's h11 protocol by :func:`http_protocol`: a deadline of
    ``head_timeout`` seconds on each request's head."""

    head_timeout = 30.0
    _head_timer = None
    _waiting_after = None  # the cycle answered before the head now awaited (None: the first)

    def connection_made(self, transport) -> None:
        super().connection_made(transport)
        self._arm_head_timer()

    def _arm_head_timer(self) -> None:
        self._cancel_head_timer()
        self._waiting_after = self.cycle
        self._head_timer = self.loop.call_later(self.head_timeout, self._head_timed_out)

    def _cancel_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def handle_events(self) -> None:
        super().handle_events()
        if self.cycle is not self._waiting_after:  # a new request's head has arrived
            self._cancel_head_timer()

    def handle_websocket_upgrade(self, event) -> None:
        self._cancel_head_timer()
        super().handle_websocket_upgrade(event)

    def on_response_complete(self) -> None:
        self._arm_head_timer()  # first: a pipelined request handled inside disarms it
        super().on_response_complete()

    def connection_lost(self, exc) -> None:
        self._cancel_head_timer()
        super().connection_lost(exc)

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self.transport.is_closing() or self.cycle is not self._waiting_after:
            return
        self.transport.write(_HEAD_TIMEOUT_ANSWER)
        self.transport.close()


def http_protocol(head_timeout: float) -> type:
    """uvicorn's h11 protocol with a deadline on each request's head: a connection that has not
    sent a whole request line and headers within ``head_timeout`` seconds of opening (or of its
    previous answer) is answered 408 and closed. uvicorn itself waits for a head without end,
    and bytes trickled one at a time keep its keep-alive timer from ever firing, so a few
    hundred such connections would hold every slot of --max-connections."""
    from uvicorn.protocols.http.h11_impl import H11Protocol

    return type("HeadDeadlineH11", (HeadDeadline, H11Protocol), {"head_timeout": head_timeout, "__module__": __name__})


def __getattr__(name: str):
    # ``http="fastfer.serve.body:HeadDeadlineH11"`` for uvicorn.run / its --workers processes
    # (an import string: a class made at run time cannot be sent to them): the default timeout.
    if name == "HeadDeadlineH11":
        from .config import DEFAULT_TIMEOUT

        protocol = globals()[name] = http_protocol(DEFAULT_TIMEOUT)
        return protocol
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


_HEAD_TIMEOUT_BODY = b'{"error": "the request head did not arrive within the server\'s timeout"}'
_HEAD_TIMEOUT_ANSWER = (
    b"HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\nconnection: close\r\n"
    b"content-length: %d\r\n\r\n%s" % (len(_HEAD_TIMEOUT_BODY), _HEAD_TIMEOUT_BODY)
)
