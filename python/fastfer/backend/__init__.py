"""The engines: the image and detection kernels (:mod:`~fastfer.backend.kernels`), native
(``fastfer._core``) or their numpy twins (:mod:`~fastfer.backend.reference`), and ONNX Runtime
sessions for verified models (:mod:`~fastfer.backend.runtime`). It may import ``models``, ``io``
and the top-level ``errors``, ``labels``, ``_args`` and ``_core``; never ``core`` or anything above.

This module chooses the kernel backend once, at import: the native module or its numpy twin.
``FASTFER_BACKEND`` may be ``native`` (fail unless the native module loads), ``python`` (always the
numpy twin) or unset (native when it loads, else the twin, with the reason kept for
``fastfer.capabilities()``).
"""

from __future__ import annotations

import os
from types import ModuleType

from ..errors import BackendError

_REQUEST = os.environ.get("FASTFER_BACKEND", "").strip().lower()
if _REQUEST not in ("", "native", "python"):
    raise BackendError(f"FASTFER_BACKEND must be 'native' or 'python', got {_REQUEST!r}")

native: ModuleType | None = None
native_error: str | None = None
if _REQUEST == "python":
    native_error = "disabled by FASTFER_BACKEND=python"
else:
    try:
        from .. import _core as native  # type: ignore[no-redef]
    except ImportError as exc:  # a build without the extension, or a broken one
        if _REQUEST == "native":
            raise BackendError(f"FASTFER_BACKEND=native but fastfer._core failed to load: {exc}") from exc
        native_error = f"{type(exc).__name__}: {exc}"

from . import reference  # noqa: E402

active: ModuleType = native if native is not None else reference
name: str = "native" if native is not None else "python"
