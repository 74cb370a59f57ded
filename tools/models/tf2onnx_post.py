"""Post-processing shared by the tf2onnx-based converters (RetinaFace, BlazeFace): a
deterministic tf2onnx, clean graphs, and byte-stable saving. Converter-only code."""

from __future__ import annotations

import os
import sys
from pathlib import Path


def reexec_with_fixed_hash_seed() -> None:
    """Restarts the script with PYTHONHASHSEED=0 (see make_tf2onnx_deterministic)."""
    if os.environ.get("PYTHONHASHSEED") != "0":
        os.environ["PYTHONHASHSEED"] = "0"
        os.execv(sys.executable, [sys.executable, *sys.argv])


def make_tf2onnx_deterministic() -> None:
    """tf2onnx's optimizers iterate over sets of graph nodes and of tensor names, so the node
    order and the generated names (``__123`` suffixes, which duplicate constant survives) vary
    from run to run. Node objects hash by address (ASLR): give them a creation serial number
    as hash instead (creation order is deterministic), and require PYTHONHASHSEED=0 for the
    string sets (the __main__ block re-executes itself with it)."""
    import itertools

    from tf2onnx.graph import Node

    if sys.flags.hash_randomization:
        raise SystemExit("run with PYTHONHASHSEED=0 (tf2onnx output depends on string hashing)")
    if not getattr(Node, "_fastfer_serial_hash", False):
        original_init = Node.__init__

        def __init__(self, *args, **kwargs):
            self._fastfer_serial = next(Node._fastfer_serials)
            original_init(self, *args, **kwargs)

        Node.__init__ = __init__
        Node.__hash__ = lambda self: self._fastfer_serial
        Node._fastfer_serial_hash = True
    Node._fastfer_serials = itertools.count()  # restarts for every conversion


def drop_unused_initializers(graph) -> None:
    used = {name for node in graph.node for name in node.input}
    keep = [init for init in graph.initializer if init.name in used]
    del graph.initializer[:]
    graph.initializer.extend(keep)


def name_dims(value_info, dims) -> None:
    shape = value_info.type.tensor_type.shape
    assert len(shape.dim) == len(dims), (value_info.name, shape)
    for dim, want in zip(shape.dim, dims):
        if isinstance(want, str):
            dim.Clear()
            dim.dim_param = want
        elif isinstance(want, int):
            assert dim.dim_value == want, (value_info.name, shape)


def normalise(model, converter_version: str, doc: str) -> None:
    """Fixed metadata, no doc strings from the converter, only the opset domains in use."""
    model.producer_name = "tf2onnx"
    model.producer_version = converter_version
    model.doc_string = doc
    model.graph.doc_string = ""
    del model.metadata_props[:]
    for node in model.graph.node:
        node.doc_string = ""
    for vi in list(model.graph.input) + list(model.graph.output) + list(model.graph.value_info):
        vi.doc_string = ""
    used = {node.domain for node in model.graph.node}
    keep = [op for op in model.opset_import if op.domain in used or op.domain == ""]
    del model.opset_import[:]
    model.opset_import.extend(keep)


def save(model, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = model.SerializeToString(deterministic=True)
    assert len(data) < 2**31 - 1
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    tmp.replace(path)
