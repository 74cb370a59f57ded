"""``fastfer serve``: the HTTP service and the page to try it (docs/serve.md).

The server's packages (the ``serve`` extra) are imported only when the command runs, so that
``fastfer --help`` and every other command work without them.
"""

from __future__ import annotations

import argparse
import os

from . import common

HELP = "serve analysis over HTTP, with a page to try it at / (needs fastfer[serve])"

#: The environment variable read for the API key when --api-key is not given (a key on the
#: command line is visible to every user of the machine in the process list).
API_KEY_ENV = "FASTFER_API_KEY"


def _positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be more than 0 seconds, got {text}")
    return value


def add_parser(sub) -> argparse.ArgumentParser:
    parser = sub.add_parser(
        "serve",
        help=HELP,
        description=(
            "Serve fastfer over HTTP: POST /v1/analyze, POST /v1/analyze/batch, WS /v1/stream, "
            "GET /v1/models, /healthz, /readyz, /metrics, /docs, and a page to try it at /. "
            "Binds 127.0.0.1 unless --host says otherwise; see docs/serve.md."
        ),
    )
    _add_listen_options(parser.add_argument_group("server"))
    _add_limits(parser.add_argument_group("limits"))
    _add_access_options(parser.add_argument_group("access and logging"))
    common.add_model_options(parser.add_argument_group("model"))
    return parser


def _add_listen_options(group) -> None:
    """Where the server listens and how many threads run the models."""
    group.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default 127.0.0.1: this machine only; 0.0.0.0 for every interface)",
    )
    group.add_argument("--port", type=common.non_negative_int, default=8000, help="TCP port (default 8000)")
    group.add_argument(
        "--workers",
        type=common.positive_int,
        default=None,
        help="inference threads over the loaded models (default: the usable cores divided by --threads)",
    )


def _add_limits(group) -> None:
    """The bounds on queueing, time, sizes and connections (defaults from fastfer.serve.config)."""
    from fastfer.serve.config import (
        DEFAULT_MAX_BATCH,
        DEFAULT_MAX_BODY_BYTES,
        DEFAULT_MAX_STREAMS,
        DEFAULT_QUEUE_SIZE,
        DEFAULT_TIMEOUT,
    )

    group.add_argument(
        "--queue",
        type=common.non_negative_int,
        default=DEFAULT_QUEUE_SIZE,
        help="requests waiting for a worker at most; beyond, 503 with Retry-After at once "
        f"(default {DEFAULT_QUEUE_SIZE})",
    )
    group.add_argument(
        "--timeout",
        type=_positive_seconds,
        default=DEFAULT_TIMEOUT,
        help=f"seconds per request: its head, body, queue and analysis; also the WebSocket ping "
        f"interval and pong wait (default {DEFAULT_TIMEOUT:g})",
    )
    group.add_argument(
        "--max-body-mb",
        type=common.positive_int,
        default=DEFAULT_MAX_BODY_BYTES >> 20,
        help=f"largest request body or stream frame, MiB (default {DEFAULT_MAX_BODY_BYTES >> 20})",
    )
    group.add_argument(
        "--max-batch",
        type=common.positive_int,
        default=DEFAULT_MAX_BATCH,
        help=f"images per /v1/analyze/batch request (default {DEFAULT_MAX_BATCH})",
    )
    group.add_argument(
        "--max-streams",
        type=common.positive_int,
        default=DEFAULT_MAX_STREAMS,
        help=f"WebSocket streams open at once (default {DEFAULT_MAX_STREAMS})",
    )
    group.add_argument(
        "--max-connections",
        type=common.positive_int,
        default=256,
        help="open connections at once; beyond, 503 (default 256)",
    )


def _add_access_options(group) -> None:
    """Who may call the API (key, CORS origins) and how much the server logs."""
    group.add_argument(
        "--api-key",
        default=None,
        help=f"require 'Authorization: Bearer KEY' on /v1/* and /metrics (default: "
        f"the {API_KEY_ENV} environment variable, which keeps the key out of the process list)",
    )
    group.add_argument(
        "--cors-origin",
        action="append",
        default=[],
        metavar="ORIGIN",
        help="let pages from ORIGIN (e.g. https://app.example.com) call the API; "
        "repeat for several (default: none, CORS off)",
    )
    group.add_argument(
        "--log-level",
        default="info",
        choices=("critical", "error", "warning", "info", "debug"),
        help="server log level (default info: one line per request)",
    )


def _config(args: argparse.Namespace):
    from fastfer.scale.parallel import usable_cores
    from fastfer.serve import ServeConfig

    api_key = args.api_key if args.api_key is not None else os.environ.get(API_KEY_ENV) or None
    if args.api_key == "":
        raise common.UsageError("--api-key is empty: give a key, or leave the option out")
    workers = args.workers or max(1, usable_cores() // args.threads)
    return ServeConfig(
        fer=dict(detector=args.detector, classifier=args.classifier, **common.fer_options(args)),
        max_pixels=args.max_pixels,
        workers=workers,
        queue_size=args.queue,
        max_body_bytes=args.max_body_mb << 20,
        timeout=args.timeout,
        max_batch=args.max_batch,
        max_streams=args.max_streams,
        api_key=api_key,
        cors_origins=tuple(args.cors_origin),
    )


def run(args: argparse.Namespace) -> int:
    try:
        import uvicorn

        from fastfer.serve import create_app
        from fastfer.serve.body import http_protocol
    except ImportError as exc:
        raise common.UsageError(
            f"fastfer serve needs the serve extra: pip install 'fastfer[serve]' (missing: {exc.name or exc})"
        ) from None
    config = _config(args)
    fer = common.make_fer(args)  # loaded before listening: a bad model option is one clear error
    # h11 with a deadline on each request's head (slow or idle clients are closed after
    # --timeout); WebSocket frames capped at the body limit and read one message at a time, and
    # a stream whose client answers no ping within --timeout (it does not read) closed.
    uvicorn.run(
        create_app(config, fer),
        host=args.host,
        port=args.port,
        log_level=args.log_level,
        http=http_protocol(config.timeout),
        ws="websockets-sansio",
        ws_max_size=config.max_body_bytes,
        ws_max_queue=1,
        ws_ping_interval=config.timeout,
        ws_ping_timeout=config.timeout,
        limit_concurrency=args.max_connections,
        timeout_graceful_shutdown=5,
        server_header=False,
    )
    return 0
