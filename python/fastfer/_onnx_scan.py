"""Finds tensors that point at external data in a serialised ONNX model, without the onnx package.

A model loaded from memory has no folder to resolve external files against, and we only ship
self-contained models: so any tensor with ``data_location = EXTERNAL`` (or ``external_data``
entries) is refused before ONNX Runtime sees the bytes. This walks the protobuf wire format of
ModelProto → graph → initializers, sparse initializers, node attributes and sub-graphs.
"""

from __future__ import annotations

from typing import Iterator

# Field numbers from onnx.proto (stable since IR version 3).
_MODEL_GRAPH = 7
_MODEL_FUNCTIONS = 25
_FUNCTION_NODE = 7
_GRAPH_NODE, _GRAPH_INITIALIZER, _GRAPH_SPARSE_INITIALIZER = 1, 5, 15
_NODE_ATTRIBUTE = 5
_ATTR_T, _ATTR_G, _ATTR_TENSORS, _ATTR_GRAPHS, _ATTR_SPARSE_T, _ATTR_SPARSE_TENSORS = 5, 6, 10, 11, 22, 23
_SPARSE_VALUES, _SPARSE_INDICES = 1, 2
_TENSOR_EXTERNAL_DATA, _TENSOR_DATA_LOCATION, _TENSOR_NAME = 13, 14, 8
_EXTERNAL = 1


class MalformedModel(ValueError):
    """The bytes are not a well-formed protobuf message."""


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


def _fields(buf: memoryview) -> Iterator[tuple[int, int, object]]:
    """(field number, wire type, value) of one message: ints for varints, memoryviews for bytes."""
    pos = 0
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
            value, pos = buf[pos:pos + size], pos + size
        else:
            raise MalformedModel(f"unsupported wire type {wire}")
        if pos > len(buf):
            raise MalformedModel("field runs past the end")
        yield field, wire, value


def _tensor_is_external(buf: memoryview) -> tuple[bool, str]:
    name, external = "", False
    for field, wire, value in _fields(buf):
        if field == _TENSOR_NAME and wire == 2:
            name = bytes(value).decode("utf-8", "replace")
        elif field == _TENSOR_EXTERNAL_DATA and wire == 2:
            external = True
        elif field == _TENSOR_DATA_LOCATION and wire == 0 and value == _EXTERNAL:
            external = True
    return external, name


def _sparse(buf: memoryview) -> Iterator[memoryview]:
    for field, wire, value in _fields(buf):
        if field in (_SPARSE_VALUES, _SPARSE_INDICES) and wire == 2:
            yield value


def _graph_tensors(graph: memoryview) -> Iterator[memoryview]:
    for field, wire, value in _fields(graph):
        if wire != 2:
            continue
        if field == _GRAPH_INITIALIZER:
            yield value
        elif field == _GRAPH_SPARSE_INITIALIZER:
            yield from _sparse(value)
        elif field == _GRAPH_NODE:
            yield from _node_tensors(value)


def _node_tensors(node: memoryview) -> Iterator[memoryview]:
    for field, wire, attr in _fields(node):
        if field != _NODE_ATTRIBUTE or wire != 2:
            continue
        for afield, awire, value in _fields(attr):
            if awire != 2:
                continue
            if afield in (_ATTR_T, _ATTR_TENSORS):
                yield value
            elif afield in (_ATTR_SPARSE_T, _ATTR_SPARSE_TENSORS):
                yield from _sparse(value)
            elif afield in (_ATTR_G, _ATTR_GRAPHS):
                yield from _graph_tensors(value)


def external_tensors(model: bytes) -> list[str]:
    """Names of the tensors in the serialised ModelProto that keep their data in external files."""
    buf = memoryview(model)
    found = []
    for field, wire, value in _fields(buf):
        if wire != 2:
            continue
        if field == _MODEL_GRAPH:
            tensors = _graph_tensors(value)
        elif field == _MODEL_FUNCTIONS:
            tensors = (t for f, w, node in _fields(value) if f == _FUNCTION_NODE and w == 2
                       for t in _node_tensors(node))
        else:
            continue
        for tensor in tensors:
            is_external, name = _tensor_is_external(tensor)
            if is_external:
                found.append(name or "<unnamed>")
    return found
