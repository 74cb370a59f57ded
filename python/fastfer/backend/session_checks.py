"""Checks that a freshly built ONNX Runtime session is the model its spec describes.

Run on both session kinds (onnxruntime's Python API and fastfer's native C++ session), with the
same messages, so a model that does not fit its spec is a ModelError when it is loaded, not a
KeyError, a silently mis-sliced array or an ONNX Runtime error at the first image:

- the spec's input name and every output name exist in the model;
- a classifier, run once on a blank batch of one in its input format, gives one row of one
  column per label: an 8-wide output is refused rather than read as 7 columns.
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from ..errors import ModelError

#: run(input name, float32 batch, output name) -> that output as an array.
RunOne = Callable[[str, np.ndarray, str], np.ndarray]


def check_session(spec, input_names: Sequence[str], output_names: Sequence[str], run: RunOne) -> None:
    """Raises ModelError naming the mismatch between ``spec`` (a ModelSpec) and the session."""
    name = spec.name
    if spec.input.name not in input_names:
        raise ModelError(
            f"model {name!r}: no input named {spec.input.name!r} (the model's inputs: {', '.join(input_names)})"
        )
    missing = [tensor for tensor in spec.outputs.values() if tensor not in output_names]
    if missing:
        raise ModelError(
            f"model {name!r}: no output named {', '.join(map(repr, missing))} "
            f"(the model's outputs: {', '.join(output_names)})"
        )
    if spec.task == "classifier":
        _check_classifier_width(spec, run)


def _blank_batch(spec) -> np.ndarray:
    inp = spec.input
    width, height = inp.size
    shape = (1, inp.channels, height, width) if inp.layout == "nchw" else (1, height, width, inp.channels)
    return np.zeros(shape, np.float32)


def _check_classifier_width(spec, run: RunOne) -> None:
    output = spec.outputs["probs"]
    batch = _blank_batch(spec)
    try:
        probs = np.asarray(run(spec.input.name, batch, output))
    except Exception as exc:  # ONNX Runtime's own error types differ between the two APIs
        raise ModelError(
            f"model {spec.name!r}: cannot run it on a blank input of shape {batch.shape} (its spec's input): {exc}"
        ) from exc
    expected = (1, len(spec.labels))
    if probs.shape != expected:
        raise ModelError(
            f"model {spec.name!r}: classifier output {output!r} has shape {probs.shape} "
            f"for one face; expected {expected}, one column per label "
            f"{list(spec.labels)}"
        )
