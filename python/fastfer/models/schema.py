"""The typed model spec: what fastfer needs to know to feed a model and read its outputs.

A manifest entry (or the mapping given to ``fastfer.models.register``) is parsed once, here, by
:func:`parse_spec`: every check is made there, and every fault is a ModelError naming the model and
the key. The Detector, the Classifier, the session checks and the native pipeline's configuration
read the typed fields; the defaults they need live in :mod:`fastfer.models.defaults`.
:meth:`ModelSpec.to_dict` gives the manifest-shaped dict back (with the keys fastfer does not read,
such as notes, kept).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any, Literal, Mapping, Optional, Union

from ..errors import ModelError, ModelSpecError
from ..labels import LABELS
from ._fields import Fields, is_int, is_number
from .defaults import DEFAULT_CROP_MARGIN, DEFAULT_CROP_SQUARE, DEFAULT_PAD_MULTIPLE
from .families import FAMILIES, DetectorDecoder

TASKS = ("detector", "classifier")
#: The largest input side (pixels) a spec may give: the face crop kernel's limit, and far above any
#: detector's fixed size; a spec of 100000×100000 would ask for a 120 GB tensor at the first run.
MAX_INPUT_SIDE = 4096
_INPUT_KEYS = ("name", "layout", "color", "size", "mean", "scale")
#: A classifier's output activations: probabilities as they are, or logits to softmax.
ACTIVATIONS = ("probs", "logits")

Size = Union[tuple[int, int], Literal["dynamic"]]


@dataclass(frozen=True)
class InputSpec:
    """A model's input tensor: its ``name``, ``layout`` ("nchw" or "nhwc"), ``color`` ("rgb",
    "bgr" or "gray"; the source is BGR), ``size`` ((width, height), or "dynamic" for a detector
    that takes any size, padded to a multiple of ``pad_multiple``), and its normalisation:
    ``(pixel - mean) * scale``, one value for every channel or one per channel."""

    name: str
    layout: str
    color: str
    size: Size
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    pad_multiple: int = DEFAULT_PAD_MULTIPLE

    @property
    def channels(self) -> int:
        return 1 if self.color == "gray" else 3

    def to_entry(self) -> dict[str, Any]:
        """The manifest's form (lists for tuples; pad_multiple for a dynamic size only)."""
        entry: dict[str, Any] = {"name": self.name, "layout": self.layout, "color": self.color}
        entry["size"] = self.size if self.size == "dynamic" else list(self.size)
        if self.size == "dynamic":
            entry["pad_multiple"] = self.pad_multiple
        return {**entry, "mean": list(self.mean), "scale": list(self.scale)}


@dataclass(frozen=True)
class CropSpec:
    """How a detected face is framed for a classifier: the box made ``square`` (its long side)
    and grown by ``margin`` × its side on each side."""

    margin: float = DEFAULT_CROP_MARGIN
    square: bool = DEFAULT_CROP_SQUARE

    def to_entry(self) -> dict[str, Any]:
        return {"square": self.square, "margin": self.margin}


@dataclass(frozen=True)
class ModelSpec:
    """A shipped or registered model (see manifest.json). A detector has a ``decoder`` (its
    family's class, :mod:`fastfer.models.families`); a classifier has ``labels`` (its output
    columns), ``crop`` and ``activation`` ("probs", or "logits" to softmax).

    ``notes`` holds, per part ("input", "decoder", "crop"), the keys fastfer does not read (notes,
    landmark names), and ``key_order`` the order the spec wrote each part's keys in: neither
    changes what fastfer does; :meth:`to_dict` gives them back."""

    name: str
    task: str
    sha256: str
    input: InputSpec
    outputs: Mapping[str, str]
    license: str = "unknown"
    source: Mapping[str, Any] = field(default_factory=dict)
    decoder: Optional[DetectorDecoder] = None
    labels: Optional[tuple[str, ...]] = None
    crop: Optional[CropSpec] = None
    activation: str = "probs"
    file: Optional[str] = None
    size: Optional[int] = None
    description: str = ""
    notes: Mapping[str, Mapping[str, Any]] = field(default_factory=dict, compare=False, repr=False)
    key_order: Mapping[str, tuple[str, ...]] = field(default_factory=dict, compare=False, repr=False)

    def to_dict(self) -> dict[str, Any]:
        """The manifest-shaped dict (plain JSON-able values, copies), with the name."""
        return copy.deepcopy(
            {
                "name": self.name,
                "task": self.task,
                "sha256": self.sha256,
                "input": self._part("input", self.input.to_entry()),
                "outputs": dict(self.outputs),
                "license": self.license,
                "source": dict(self.source),
                "decoder": self._decoder_entry(),
                "labels": list(self.labels) if self.labels is not None else None,
                "crop": self._part("crop", self.crop.to_entry()) if self.crop is not None else None,
                "file": self.file,
                "size": self.size,
                "description": self.description,
            }
        )

    def _decoder_entry(self) -> Optional[dict[str, Any]]:
        if self.decoder is not None:
            return self._part("decoder", self.decoder.to_entry())
        if self.activation != "probs" or "decoder" in self.key_order:
            return self._part("decoder", {"activation": self.activation})
        return None

    def _part(self, part: str, entry: dict[str, Any]) -> dict[str, Any]:
        """A part's manifest form with its notes, in the order the spec wrote its keys (keys it did
        not write come after)."""
        merged = {**entry, **self.notes.get(part, {})}
        written = {key: merged[key] for key in self.key_order.get(part, ()) if key in merged}
        return {**written, **merged}


# --- parsing --------------------------------------------------------------------------------------

#: part ("input", "decoder", "crop") -> its fields and the keys fastfer reads from them.
_Read = dict[str, tuple[Fields, tuple[str, ...]]]


def parse_spec(name: str, entry: Mapping[str, Any]) -> ModelSpec:
    """The ModelSpec of a manifest entry or a register() mapping; ModelError names the model and
    the missing or wrong key."""
    task = _check_shape(name, entry)
    top = Fields(name, "", entry)
    inp = Fields(name, "input", entry["input"])
    read: _Read = {"input": (inp, (*_INPUT_KEYS, "pad_multiple"))}
    typed_input = _input_spec(name, task, inp)
    outputs = _outputs(name, entry["outputs"])
    if task == "detector":
        parts = _detector_parts(top, typed_input, outputs, read)
    else:
        parts = _classifier_parts(top, typed_input, outputs, read)
    license_ = entry.get("license", "unknown")
    description = entry.get("description", "")
    source = entry.get("source", {})
    if not isinstance(license_, str) or not isinstance(description, str) or not isinstance(source, Mapping):
        top.fail("license and description must be strings, source a mapping")
    notes = {part: fields.notes(known) for part, (fields, known) in read.items()}
    return ModelSpec(
        name=name,
        task=task,
        sha256=entry["sha256"],
        input=typed_input,
        outputs=outputs,
        license=license_,
        source=copy.deepcopy(dict(source)),
        file=entry.get("file"),
        size=entry.get("size"),
        description=description,
        notes={part: values for part, values in notes.items() if values},
        key_order={part: fields.order() for part, (fields, _) in read.items()},
        **parts,
    )


def _check_shape(name: str, entry: Mapping[str, Any]) -> str:
    """The entry's shape: a mapping with a task, an input, outputs, a decoder or labels, and a
    sha256. Returns the task."""
    if not isinstance(entry, Mapping):
        raise ModelError(f"model {name!r}: spec must be a mapping, got {type(entry).__name__}")
    task = entry.get("task")
    if task not in TASKS:
        raise ModelSpecError(f"model {name!r}: task must be one of {TASKS}, got {task!r}")
    inp = entry.get("input")
    if not isinstance(inp, Mapping) or any(k not in inp for k in _INPUT_KEYS):
        raise ModelSpecError(f"model {name!r}: input spec needs the keys {_INPUT_KEYS}")
    if inp["layout"] not in ("nchw", "nhwc") or inp["color"] not in ("rgb", "bgr", "gray"):
        raise ModelSpecError(f"model {name!r}: input layout must be nchw/nhwc and color rgb/bgr/gray")
    outputs = entry.get("outputs")
    if not isinstance(outputs, Mapping) or not outputs:
        raise ModelSpecError(f"model {name!r}: outputs must map roles to tensor names")
    if task == "detector" and not isinstance(entry.get("decoder"), Mapping):
        raise ModelSpecError(f"model {name!r}: a detector needs a decoder spec")
    labels = entry.get("labels")
    if task == "classifier" and (not isinstance(labels, (list, tuple)) or not labels):
        raise ModelSpecError(f"model {name!r}: a classifier needs its label order")
    sha = entry.get("sha256")
    if not isinstance(sha, str) or len(sha) != 64:
        raise ModelSpecError(f"model {name!r}: sha256 must be 64 hex digits")
    return task


def _input_spec(name: str, task: str, fields: Fields) -> InputSpec:
    """The input tensor's name, size, mean and scale (layout and colour are checked already)."""
    inp = fields.data
    if not isinstance(inp["name"], str) or not inp["name"]:
        raise ModelSpecError(f"model {name!r}: input name must be a non-empty string, got {inp['name']!r}")
    if task == "detector" and inp["color"] == "gray":
        fields.fail("a detector's input color must be rgb or bgr, got 'gray'")
    size = _input_size(name, task, inp["size"])
    channels = 1 if inp["color"] == "gray" else 3
    return InputSpec(
        name=inp["name"],
        layout=inp["layout"],
        color=inp["color"],
        size=size,
        mean=_per_channel(fields, "mean", channels),
        scale=_per_channel(fields, "scale", channels),
        pad_multiple=fields.integer("pad_multiple", DEFAULT_PAD_MULTIPLE),
    )


def _input_size(name: str, task: str, size: object) -> Size:
    """(width, height) of positive ints up to MAX_INPUT_SIDE, or "dynamic" for a detector."""
    if size == "dynamic" and task == "detector":
        return "dynamic"
    if not (isinstance(size, (list, tuple)) and len(size) == 2 and all(is_int(v) and v > 0 for v in size)):
        raise ModelSpecError(
            f"model {name!r}: input size must be [width, height] (or 'dynamic' for a detector), got {size!r}"
        )
    if max(size) > MAX_INPUT_SIDE:
        raise ModelSpecError(
            f"model {name!r}: input size {size[0]}×{size[1]} is larger than fastfer "
            f"accepts ({MAX_INPUT_SIDE} pixels a side at most)"
        )
    return (size[0], size[1])


def _per_channel(fields: Fields, key: str, channels: int) -> tuple[float, ...]:
    """mean or scale: a number, or a list of 1 or ``channels`` numbers."""
    value = fields.data[key]
    values = (value,) if is_number(value) else value
    if not (isinstance(values, (list, tuple)) and values and all(is_number(v) for v in values)):
        fields.fail(f"input {key} must be a number or a list of numbers, got {value!r}")
    if len(values) not in (1, channels):
        wanted = "1 value (one channel)" if channels == 1 else f"1 or {channels} values (one per channel)"
        fields.fail(f"input {key} needs {wanted}, got {len(values)}")
    return tuple(values)


def _outputs(name: str, outputs: Mapping[str, Any]) -> dict[str, str]:
    if not all(isinstance(k, str) and isinstance(v, str) and v for k, v in outputs.items()):
        raise ModelSpecError(f"model {name!r}: outputs must map role names to tensor names, got {dict(outputs)!r}")
    return dict(outputs)


def _detector_parts(top: Fields, inp: InputSpec, outputs: Mapping[str, str], read: _Read) -> dict[str, Any]:
    """A detector's decoder, of its family's class, and the output roles that family reads.
    Adds the decoder's fields and the keys it reads to ``read``."""
    fields = Fields(top.model, "decoder", top.data["decoder"])
    kind = fields.data.get("kind")
    if not isinstance(kind, str) or not kind:
        top.fail(f"a detector's decoder needs its kind (a string), got {kind!r}")
    if kind not in FAMILIES:
        top.fail(f"unknown decoder kind {kind!r} (known: {', '.join(sorted(FAMILIES))})")
    decoder = FAMILIES[kind].parse(fields, inp)
    read["decoder"] = (fields, FAMILIES[kind].KEYS)
    missing = [role for role in decoder.roles() if role not in outputs]
    if missing:
        top.fail(f"a {kind} detector's outputs need the roles {missing}")
    return {"decoder": decoder}


def _classifier_parts(top: Fields, inp: InputSpec, outputs: Mapping[str, str], read: _Read) -> dict[str, Any]:
    """A classifier's labels (fastfer.LABELS in its column order), square input, crop and
    activation. Adds the crop and decoder fields it was given, and the keys read, to ``read``."""
    if "probs" not in outputs:
        top.fail("a classifier's outputs need the role 'probs'")
    labels = top.data["labels"]
    if not all(isinstance(label, str) for label in labels):
        top.fail(f"labels must be strings, got {labels!r}")
    if sorted(labels) != sorted(LABELS):
        top.fail(f"labels {tuple(labels)} are not the 7 of fastfer.LABELS")
    if inp.size[0] != inp.size[1]:
        top.fail(f"only square classifier inputs are supported, got {list(inp.size)}")
    for key in ("crop", "decoder"):
        if top.data.get(key) is not None and not isinstance(top.data[key], Mapping):
            top.fail(f"{key} must be a mapping, got {top.data[key]!r}")
    crop = Fields(top.model, "crop", top.data.get("crop") or {})
    decoder = Fields(top.model, "decoder", top.data.get("decoder") or {})
    activation = decoder.text("activation", "probs")
    if activation not in ACTIVATIONS:
        top.fail(f"decoder activation must be one of {ACTIVATIONS}, got {activation!r}")
    for part, fields, known in (("crop", crop, ("margin", "square")), ("decoder", decoder, ("activation",))):
        if top.data.get(part) is not None:
            read[part] = (fields, known)
    return {
        "labels": tuple(labels),
        "crop": CropSpec(
            margin=crop.number("margin", DEFAULT_CROP_MARGIN), square=crop.flag("square", DEFAULT_CROP_SQUARE)
        ),
        "activation": activation,
    }
