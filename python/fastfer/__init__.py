"""fastfer: fast facial expression recognition.

Finds faces, their 5 landmarks and their expression probabilities in :data:`LABELS` order.
"""

import os as _os
import sys as _sys

from ._version import __version__


def _exit_if_command_line(exc: BaseException) -> None:
    """Exit with status 2 and ``fastfer: error: ...`` when ``exc`` is a bad FASTFER_* environment
    value met while the ``fastfer`` command (or ``python -m fastfer``) starts: one line, not a
    traceback. Otherwise return, and the caller re-raises."""
    orig = list(getattr(_sys, "orig_argv", []))  # Python >= 3.10
    command_line = _os.path.basename(_sys.argv[0]) in ("fastfer", "fastfer.exe") or any(
        a == "-m" and b == "fastfer" for a, b in zip(orig, orig[1:])
    )
    if "FASTFER_" in str(exc) and command_line:
        print(f"fastfer: error: {exc}", file=_sys.stderr)
        raise SystemExit(2)


try:
    # isort: off
    from .io import pixel_cap as _pixel_cap  # noqa: F401  first: sets OpenCV's decoder limit before cv2 loads

    # isort: on
    from . import _moved, compat
    from .api import FER
    from .core.result import Face
    from .draw import draw
    from .errors import (
        BackendError,
        Error,
        ImageDecodeError,
        ImageTooLargeError,
        InvalidImageError,
        ModelError,
        ModelIntegrityError,
        ModelNotFoundError,
        ModelSpecError,
        UnsupportedInputError,
        VideoDecodeError,
    )
    from .io.image import get_max_pixels, load_image, set_max_pixels
    from .labels import LABELS
    from .table import to_frame
except (ValueError, RuntimeError) as _exc:  # what a bad FASTFER_* value raises (ValueError, BackendError)
    # A bad FASTFER_BACKEND / FASTFER_MAX_PIXELS is read at import: the command line says so in
    # one line instead of a traceback; a Python caller gets the exception.
    _exit_if_command_line(_exc)
    raise


_moved.install()


def __getattr__(name: str):
    """``fastfer.stream`` and the other module paths of 0.1 (see :mod:`fastfer._moved`)."""
    if name in _moved.MOVED:
        module = globals()[name] = _moved.import_moved(name)  # warns once per name
        return module
    raise AttributeError(f"module 'fastfer' has no attribute {name!r}")


def capabilities() -> dict:
    """What this installation runs on.

    Returns a dict with ``backend`` (``"native"`` or ``"python"``), ``simd`` (the SIMD path of the
    native kernels: ``"avx2"``, ``"sse4.1"``, ``"neon"`` or ``"scalar"``; ``None`` for the python
    backend), ``simd_available`` (every path this build and CPU can run), ``native_error`` (why
    the native module is not in use, else ``None``), ``native_session`` (whether the native module
    was built with the ONNX Runtime session), ``inference`` (``"native"``: ``FER`` runs its models
    in the C++ pipeline through ONNX Runtime's C API; ``"python"``: through onnxruntime's Python
    API), ``inference_error`` (why not native, else ``None``), ``providers_available`` (the
    execution providers the installed onnxruntime offers, by fastfer's names: ``"cpu"``,
    ``"cuda"``; asking FER for another raises BackendError), ``precision`` (``"int8"`` or
    ``"fp32"``: the default models' precision, int8 where the CPU has an 8-bit dot-product
    instruction, see ``fastfer.models.PRECISION``), ``default_models`` (detector, classifier) and
    ``version``.
    """
    from . import backend, models
    from .backend.runtime import available_providers, native_inference_unavailable

    inference_error = native_inference_unavailable()

    native = backend.native
    return {
        "version": __version__,
        "backend": backend.name,
        "simd": native.simd_level() if native is not None else None,
        "simd_available": list(native.available_simd_levels()) if native is not None else [],
        "native_error": backend.native_error,
        "native_session": bool(native is not None and native.has_onnxruntime()),
        "inference": "python" if inference_error else "native",
        "inference_error": inference_error,
        "providers_available": available_providers(),
        "precision": models.PRECISION,
        "default_models": (models.DEFAULT_DETECTOR, models.DEFAULT_CLASSIFIER),
    }


__all__ = [
    "LABELS",
    "__version__",
    "capabilities",
    "load_image",
    "get_max_pixels",
    "set_max_pixels",
    "FER",
    "Face",
    "draw",
    "compat",
    "to_frame",
    "Error",
    "UnsupportedInputError",
    "InvalidImageError",
    "ImageDecodeError",
    "ImageTooLargeError",
    "BackendError",
    "ModelError",
    "ModelIntegrityError",
    "ModelNotFoundError",
    "ModelSpecError",
    "VideoDecodeError",
]
