"""``fastfer serve``: an HTTP service over one loaded ``FER``, and a page at ``/`` to try it.

Needs the ``serve`` extra (``pip install "fastfer[serve]"``: FastAPI, uvicorn, websockets,
prometheus-client, python-multipart). ``import fastfer`` never imports this package; the
``fastfer serve`` command imports it when it runs. See docs/serve.md for the endpoints, the
limits and how to deploy it.

- :class:`ServeConfig`: what the server is started with (the command line's options).
- :func:`create_app`: the ASGI application for a config (and optionally an already-loaded FER).
"""

from __future__ import annotations

from .config import ServeConfig

__all__ = ["ServeConfig", "create_app"]


def __getattr__(name: str):
    # The application (FastAPI and the rest of the extra) is imported on first use, so that the
    # command line can read ServeConfig's defaults for its help without the extra installed.
    if name == "create_app":
        from .app import create_app

        return create_app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
