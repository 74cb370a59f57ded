"""Finds tensors that point at external data in a serialised ONNX model, without the onnx package.

A model loaded from memory has no folder to resolve external files against, and we only ship
self-contained models: so any tensor with ``data_location = EXTERNAL`` (or ``external_data``
entries) is refused before ONNX Runtime sees the bytes.

The walk covers every place onnx.proto lets a tensor live: graph initializers and sparse
initializers; node attributes (TENSOR, TENSORS, SPARSE_TENSOR(S), and GRAPH/GRAPHS recursively);
model-local functions (their nodes and their attribute defaults); and training_info
(initialization and algorithm graphs). It is iterative, with an explicit stack, so a model nested
thousands of sub-graphs deep cannot exhaust Python's recursion limit; models nested deeper than
:data:`MAX_NESTING` messages are refused (protobuf's own parsers stop at 100).
"""

from __future__ import annotations

from typing import Iterator, Union

# Message kinds, and for each the fields (onnx.proto numbers, stable since IR version 3) that hold
# other messages worth entering. Every other field is skipped by its wire length.
_MODEL, _GRAPH, _NODE, _ATTRIBUTE, _TENSOR, _SPARSE, _FUNCTION, _TRAINING = range(8)
_CHILDREN = {
    _MODEL: {7: _GRAPH, 25: _FUNCTION, 20: _TRAINING},  # graph, functions, training_info
    _GRAPH: {1: _NODE, 5: _TENSOR, 15: _SPARSE},  # node, initializer, sparse_initializer
    _NODE: {5: _ATTRIBUTE},
    # t, g, tensors, graphs, sparse_tensor, sparse_tensors
    _ATTRIBUTE: {5: _TENSOR, 6: _GRAPH, 10: _TENSOR, 11: _GRAPH, 22: _SPARSE, 23: _SPARSE},
    _SPARSE: {1: _TENSOR, 2: _TENSOR},  # values, indices
    _FUNCTION: {7: _NODE, 11: _ATTRIBUTE},  # node, attribute_proto (attribute defaults)
    _TRAINING: {1: _GRAPH, 2: _GRAPH},  # initialization, algorithm
}
_TENSOR_NAME, _TENSOR_EXTERNAL_DATA, _TENSOR_DATA_LOCATION = 8, 13, 14
_EXTERNAL = 1
#: The deepest nesting of messages accepted (a model is 1, its graph 2, a node 3, ...).
MAX_NESTING = 100


class MalformedModel(ValueError):
    """The bytes are not a well-formed protobuf message, or nest too deep."""


def _varint(buf: memoryview, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(buf) or shift > 63:
            raise MalformedModel("truncated or oversized varint")
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, pos
        shift += 7


def _fields(buf: memoryview) -> Iterator[tuple[int, int, Union[int, memoryview, None]]]:
    """(field number, wire type, value) of one message: ints for varints, memoryviews for bytes,
    None for fixed-width numbers."""
    pos = 0
    value: Union[int, memoryview, None]
    while pos < len(buf):
        key, pos = _varint(buf, pos)
        field, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(buf, pos)
        elif wire == 1:
            value, pos = None, pos + 8
        elif wire == 5:
            value, pos = None, pos + 4
        elif wire == 2:
            size, pos = _varint(buf, pos)
            if pos + size > len(buf):
                raise MalformedModel("length-delimited field runs past the end")
            value, pos = buf[pos : pos + size], pos + size
        else:
            raise MalformedModel(f"unsupported wire type {wire}")
        if pos > len(buf):
            raise MalformedModel("field runs past the end")
        yield field, wire, value


def _tensor_is_external(buf: memoryview) -> tuple[bool, str]:
    name, external = "", False
    for field, wire, value in _fields(buf):
        if field == _TENSOR_NAME and isinstance(value, memoryview):
            name = bytes(value).decode("utf-8", "replace")
        elif field == _TENSOR_EXTERNAL_DATA and wire == 2:
            external = True
        elif field == _TENSOR_DATA_LOCATION and wire == 0 and value == _EXTERNAL:
            external = True
    return external, name


def external_tensors(model: bytes) -> list[str]:
    """Names of the tensors in the serialised ModelProto that keep their data in external files.

    Raises :class:`MalformedModel` for bytes that are not a protobuf message and for messages
    nested deeper than :data:`MAX_NESTING`.
    """
    found = []
    stack = [(_MODEL, memoryview(model), 1)]
    while stack:
        kind, buf, depth = stack.pop()
        if kind == _TENSOR:
            is_external, name = _tensor_is_external(buf)
            if is_external:
                found.append(name or "<unnamed>")
            continue
        if depth >= MAX_NESTING:
            raise MalformedModel(
                f"messages nested more than {MAX_NESTING} deep (sub-graphs "
                "inside sub-graphs); ONNX Runtime's parser would refuse it too"
            )
        children = _CHILDREN[kind]
        for field, _wire, value in _fields(buf):
            if isinstance(value, memoryview) and field in children:  # wire type 2
                stack.append((children[field], value, depth + 1))
    return found
