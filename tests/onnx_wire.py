"""Builds small ONNX models byte by byte (protobuf wire format), so tests need no onnx package.

Field numbers are onnx.proto's. ``classifier(width)`` is a real, runnable model; the other
builders make models with tensors in every place the format allows, for the external-data scan.
Also used as seeds by the fuzzers.
"""

from __future__ import annotations

import numpy as np

FLOAT, INT64 = 1, 7  # TensorProto.DataType
ATTR_TENSOR, ATTR_GRAPH, ATTR_TENSORS, ATTR_GRAPHS, ATTR_SPARSE, ATTR_SPARSES = 4, 5, 9, 10, 11, 12


def varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def field(number: int, payload: "bytes | str") -> bytes:
    """A length-delimited field (messages, strings, bytes)."""
    if isinstance(payload, str):
        payload = payload.encode()
    return varint(number << 3 | 2) + varint(len(payload)) + payload


def number(field_number: int, value: int) -> bytes:
    """A varint field."""
    return varint(field_number << 3) + varint(value)


def tensor(name: str, array: "np.ndarray | None" = None, external: bool = False) -> bytes:
    """A TensorProto: float32 data inline, or a pointer to an external file."""
    array = np.zeros(1, np.float32) if array is None else np.asarray(array, np.float32)
    out = b"".join(number(1, d) for d in array.shape) + number(2, FLOAT) + field(8, name)
    if external:
        return out + field(13, field(1, "location") + field(2, "weights.bin")) + number(14, 1)
    return out + field(9, array.tobytes())


def sparse(name: str, external: bool = False) -> bytes:
    """A SparseTensorProto (values, indices, dims)."""
    return field(1, tensor(name, external=external)) + field(2, tensor(name + "_indices")) + number(3, 4)


def value_info(name: str, dims: list) -> bytes:
    """A float tensor ValueInfoProto; a str dim is symbolic."""
    shape = b"".join(field(1, field(2, d) if isinstance(d, str) else number(1, d)) for d in dims)
    return field(1, name) + field(2, field(1, number(1, FLOAT) + field(2, shape)))


def attribute(name: str, kind: int, payload_field: int, payload: bytes) -> bytes:
    return field(1, name) + number(20, kind) + field(payload_field, payload)


def node(op: str, inputs: list, outputs: list, attributes: list = (), domain: str = "") -> bytes:
    out = b"".join(field(1, i) for i in inputs) + b"".join(field(2, o) for o in outputs)
    out += field(4, op) + b"".join(field(5, a) for a in attributes)
    return out + (field(7, domain) if domain else b"")


def graph(
    nodes: list = (),
    initializers: list = (),
    sparse_initializers: list = (),
    inputs: list = (),
    outputs: list = (),
    name: str = "g",
) -> bytes:
    return (
        b"".join(field(1, n) for n in nodes)
        + field(2, name)
        + b"".join(field(5, t) for t in initializers)
        + b"".join(field(11, v) for v in inputs)
        + b"".join(field(12, v) for v in outputs)
        + b"".join(field(15, s) for s in sparse_initializers)
    )


def model(graph_bytes: bytes, functions: list = (), training_info: list = (), opset: int = 13) -> bytes:
    return (
        number(1, 8)
        + field(8, field(1, "") + number(2, opset))
        + field(7, graph_bytes)
        + b"".join(field(20, t) for t in training_info)
        + b"".join(field(25, f) for f in functions)
    )


def classifier(width: int, size: int = 48) -> bytes:
    """image (N, 1, size, size) -> Flatten -> MatMul (size², width) -> Softmax -> probs (N, width)."""
    weights = np.random.default_rng(width).normal(0, 0.01, (size * size, width)).astype(np.float32)
    nodes = [
        node("Flatten", ["image"], ["flat"], [field(1, "axis") + number(20, 2) + number(3, 1)]),
        node("MatMul", ["flat", "W"], ["logits"]),
        node("Softmax", ["logits"], ["probs"], [field(1, "axis") + number(20, 2) + number(3, 1)]),
    ]
    return model(
        graph(
            nodes,
            [tensor("W", weights)],
            inputs=[value_info("image", ["N", 1, size, size])],
            outputs=[value_info("probs", ["N", width])],
        )
    )


def identity_model(extra_nodes: list = (), functions: list = (), training_info: list = (), **graph_parts) -> bytes:
    """x -> Identity -> y, with whatever extra parts a test needs around it (``graph_parts``: the
    graph's initializers or sparse_initializers, as graph() takes them)."""
    nodes = [node("Identity", ["x"], ["y"]), *extra_nodes]
    io = {"inputs": [value_info("x", [1])], "outputs": [value_info("y", [1])]}
    return model(graph(nodes, **io, **graph_parts), functions, training_info)


def external_tensor_placements() -> dict:
    """name -> a model holding one external tensor named ``ext`` in that place of the format."""
    ext, ext_sparse = tensor("ext", external=True), sparse("ext", external=True)
    sub = graph(initializers=[ext], name="sub")
    const = lambda *attrs: node("Constant", [], ["c"], list(attrs))  # noqa: E731
    function = (
        field(1, "f")
        + field(4, "a")
        + field(5, "b")
        + field(7, node("Identity", ["a"], ["b"], [attribute("value", ATTR_TENSOR, 5, ext)]))
        + field(9, field(1, "") + number(2, 13))
        + field(10, "local")
    )
    function_default = (
        field(1, "f")
        + field(4, "a")
        + field(5, "b")
        + field(7, node("Identity", ["a"], ["b"]))
        + field(9, field(1, "") + number(2, 13))
        + field(10, "local")
        + field(11, attribute("value", ATTR_TENSOR, 5, ext))
    )
    return {
        "graph initializer": identity_model(initializers=[ext]),
        "sparse initializer": identity_model(sparse_initializers=[ext_sparse]),
        "node attribute TENSOR": identity_model([const(attribute("value", ATTR_TENSOR, 5, ext))]),
        "node attribute TENSORS": identity_model([const(attribute("v", ATTR_TENSORS, 10, ext))]),
        "node attribute SPARSE_TENSOR": identity_model([const(attribute("v", ATTR_SPARSE, 22, ext_sparse))]),
        "node attribute SPARSE_TENSORS": identity_model([const(attribute("v", ATTR_SPARSES, 23, ext_sparse))]),
        "node attribute GRAPH": identity_model(
            [node("If", ["c"], ["o"], [attribute("then_branch", ATTR_GRAPH, 6, sub)])]
        ),
        "node attribute GRAPHS": identity_model([node("X", [], ["o"], [attribute("gs", ATTR_GRAPHS, 11, sub)])]),
        "function node attribute": identity_model(functions=[function]),
        "function attribute default": identity_model(functions=[function_default]),
        "training_info initialization": identity_model(training_info=[field(1, sub)]),
        "training_info algorithm": identity_model(training_info=[field(2, sub)]),
    }


def nested_subgraphs(depth: int) -> bytes:
    """A model whose node holds a GRAPH attribute whose node holds one ... ``depth`` levels.
    Built from the inside out as head/tail pieces joined once (nesting by copying is quadratic)."""
    inner = graph([node("Identity", ["x"], ["y"])], name="leaf")
    heads, tails, size = [], [], len(inner)
    for level in range(depth):
        attr_head = field(1, "then_branch") + number(20, ATTR_GRAPH) + varint(6 << 3 | 2) + varint(size)
        size += len(attr_head)
        node_head = field(1, "c") + field(2, "o") + field(4, "If") + varint(5 << 3 | 2) + varint(size)
        size += len(node_head)
        graph_head, graph_tail = varint(1 << 3 | 2) + varint(size), field(2, f"g{level}")
        size += len(graph_head) + len(graph_tail)
        heads.append(graph_head + node_head + attr_head)
        tails.append(graph_tail)
    return model(b"".join(reversed(heads)) + inner + b"".join(tails))
