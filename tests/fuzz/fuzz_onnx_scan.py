"""Fuzz target: the model scan (fastfer.models.onnx_scan), which reads untrusted ONNX bytes before ONNX
Runtime does.

Invariant: ``external_tensors(data)`` returns a list of names or raises MalformedModel (a
ValueError): never a RecursionError, IndexError or any other exception, and never hangs.
"""

from __future__ import annotations

from _harness import fuzz, instrument_fastfer

from fastfer.models.onnx_scan import MalformedModel, external_tensors

instrument_fastfer()


def TestOneInput(data: bytes) -> None:
    try:
        names = external_tensors(data)
    except MalformedModel:
        return
    assert isinstance(names, list) and all(isinstance(n, str) for n in names), names


if __name__ == "__main__":
    fuzz(TestOneInput)
