"""ONNX Runtime sessions built from verified model bytes (Python API for now).

Providers are asked for by short name, in priority order: ``"cpu"``, ``"cuda"`` (or
``("cuda", device_id)``). ONNX Runtime silently falls back to the CPU when a provider cannot be
used; fastfer does not: a provider that is not available raises BackendError, and after the
session is built the providers it really uses are checked against the request.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional, Sequence, Union

from .._args import positive_int
from ..errors import BackendError, ModelError
from ..models import load_bytes, spec as model_spec
from .session_checks import check_session

ProviderRequest = Union[str, tuple]
_ORT_NAMES = {"cpu": "CPUExecutionProvider", "cuda": "CUDAExecutionProvider"}


def _ort():
    try:
        import onnxruntime
    except ImportError as exc:  # a dependency, but say so clearly if it is broken
        raise BackendError(f"onnxruntime is not installed or failed to import: {exc}") from exc
    return onnxruntime


def available_providers() -> list:
    """The providers the installed onnxruntime offers, by fastfer's names ("cpu", "cuda")."""
    offered = set(_ort().get_available_providers())
    return [short for short, ort_name in _ORT_NAMES.items() if ort_name in offered]


def _providers(requested: Sequence[ProviderRequest]) -> list:
    ort = _ort()
    if isinstance(requested, str) or not requested:
        raise ValueError(f"providers must be a non-empty sequence such as ('cpu',), got {requested!r}")
    available = set(ort.get_available_providers())
    out = []
    for item in requested:
        name, options = (item, {}) if isinstance(item, str) else (item[0], {"device_id": int(item[1])})
        if name not in _ORT_NAMES:
            raise ValueError(f"unknown provider {name!r}; expected one of {sorted(_ORT_NAMES)}")
        ort_name = _ORT_NAMES[name]
        if ort_name not in available:
            raise BackendError(
                f"provider {name!r} is not available in this onnxruntime "
                f"(available: {sorted(available)}); install onnxruntime-gpu for cuda"
            )
        out.append((ort_name, options) if options else ort_name)
    return out


def create_session(model_name: str, *, threads: int = 1, providers: Sequence[ProviderRequest] = ("cpu",)):
    """An InferenceSession for a shipped or registered model, from its verified bytes.

    ``threads`` is the intra-op thread count (default 1: the caller decides on parallelism;
    spinning is off so idle sessions use no CPU).
    """
    threads = positive_int(threads, "threads")
    ort = _ort()
    wanted = _providers(providers)
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3  # errors only: ORT's warnings are not the user's business
    data = load_bytes(model_name)
    try:
        session = ort.InferenceSession(data, sess_options=options, providers=wanted)
    except Exception as exc:  # ORT raises its own exception types for invalid models
        raise ModelError(f"model {model_name!r}: ONNX Runtime: cannot load the model: {exc}") from exc
    active = session.get_providers()
    first = wanted[0] if isinstance(wanted[0], str) else wanted[0][0]
    if first not in active:
        raise BackendError(f"model {model_name!r}: asked for {first} but ONNX Runtime runs it on {active}")
    check_session(
        model_spec(model_name),
        [i.name for i in session.get_inputs()],
        [o.name for o in session.get_outputs()],
        lambda name, batch, out: session.run([out], {name: batch})[0],
    )
    return session


def onnxruntime_library() -> Optional[str]:
    """The ONNX Runtime shared library inside the installed onnxruntime (or onnxruntime-gpu)
    package, which the native session dlopen()s; None when there is none."""
    try:
        import onnxruntime
    except ImportError:
        return None
    capi = Path(onnxruntime.__file__).parent / "capi"
    for pattern in ("libonnxruntime.so*", "libonnxruntime*.dylib", "onnxruntime.dll"):
        found = sorted(capi.glob(pattern))
        if found:
            return str(found[0])
    return None


def native_inference_unavailable() -> Optional[str]:
    """Why fastfer cannot run inference in its C++ pipeline here, or None when it can."""
    from .. import backend

    native = backend.native
    if native is None:
        return f"native module not in use ({backend.native_error})"
    if not native.has_onnxruntime() or not hasattr(native, "Pipeline"):
        return (
            "the native module was built without the ONNX Runtime C API header (`pip install -v .` "
            "shows why; FASTFER_ORT_INCLUDE_DIR points the build at one)"
        )
    if onnxruntime_library() is None:
        return "no libonnxruntime in the installed onnxruntime package"
    return None


def create_native_session(model_name: str, *, threads: int = 1, providers: Sequence[ProviderRequest] = ("cpu",)):
    """A fastfer._core.Session (ONNX Runtime's C API from C++) for a model, from its verified
    bytes; same thread and provider rules as create_session."""
    from .. import backend

    threads = positive_int(threads, "threads")
    reason = native_inference_unavailable()
    if reason:
        raise BackendError(f"native inference is not available: {reason}")
    _providers(providers)  # same checks and messages as the Python path
    native = backend.native
    load_error = getattr(native, "ModelLoadError", ())
    data = load_bytes(model_name)
    try:
        session = native.Session(data, onnxruntime_library(), threads=threads, providers=tuple(providers))
    except load_error as exc:  # "ONNX Runtime: cannot load the model: ...", as on the Python path
        raise ModelError(f"model {model_name!r}: {exc}") from exc
    check_session(
        model_spec(model_name),
        list(session.input_names),
        list(session.output_names),
        lambda name, batch, out: session.run({name: batch}, [out])[0],
    )
    return session
