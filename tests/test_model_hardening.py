"""Models that are hostile or broken become ModelErrors naming the problem (issue 13, items 2, 4).

Every model here is built byte by byte (``onnx_wire.py``) and loaded by the real ONNX Runtime,
on onnxruntime's Python API and, where this build has it, on fastfer's native C++ session: both
paths must refuse the same models with the same words.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading

import numpy as np
import onnx_wire
import pytest

from fastfer import LABELS, models
from fastfer.backend.runtime import create_native_session, create_session, native_inference_unavailable
from fastfer.core.classifier import Classifier
from fastfer.errors import ModelError, ModelIntegrityError

NATIVE = pytest.param(
    "native",
    marks=pytest.mark.skipif(
        native_inference_unavailable() is not None, reason=f"native inference: {native_inference_unavailable()}"
    ),
)
SESSIONS = {"python": create_session, "native": create_native_session}
CLASSIFIER_SPEC = {
    "task": "classifier",
    "labels": list(LABELS),
    "outputs": {"probs": "probs"},
    "input": {"name": "image", "layout": "nchw", "color": "gray", "size": [48, 48], "mean": 127.5, "scale": 1 / 127.5},
}


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# --- the external-data scan -----------------------------------------------------------------------


@pytest.mark.parametrize("place", sorted(onnx_wire.external_tensor_placements()))
def test_external_data_is_found_wherever_the_format_can_hold_a_tensor(place):
    data = onnx_wire.external_tensor_placements()[place]
    with pytest.raises(ModelError, match=r"tensors \['ext'\] reference external data"):
        models.check_model_bytes("hostile", data, _sha(data))


def test_thousands_of_nested_subgraphs_are_a_model_error_not_a_recursion_error():
    data = onnx_wire.nested_subgraphs(3000)
    with pytest.raises(ModelError, match="nested more than 100 deep"):
        models.check_model_bytes("deep", data, _sha(data))


def test_moderate_nesting_is_still_scanned():
    data = onnx_wire.nested_subgraphs(20)
    assert models.check_model_bytes("nested", data, _sha(data)) == data


# --- a broken manifest ----------------------------------------------------------------------------

SHIPPED_MANIFEST = models.MANIFEST  # before any test points the module elsewhere


def _good_entry() -> dict:
    return json.loads(SHIPPED_MANIFEST.read_text())["models"]["fernet"]


def _with(**changes) -> dict:
    """The fernet entry with some keys changed (inside "input" and other mappings, merged)."""
    entry = _good_entry()
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(entry.get(key), dict):
            entry[key] = {**entry[key], **value}
        else:
            entry[key] = value
    return entry


BROKEN_MANIFESTS = {
    "not an object": ([1, 2], "must be an object"),
    "no models": ({"format": 1}, "must be an object with a 'models'"),
    "models is a list": ({"models": [1]}, "must be an object with a 'models'"),
    "entry is a string": ({"models": {"m": "fernet.onnx"}}, "spec must be a mapping"),
    "no task": ({"models": {"m": _with(task=None)}}, "task must be one of"),
    "input size is a number": ({"models": {"m": _with(input={"size": 48})}}, "input size"),
    "mean is text": ({"models": {"m": _with(input={"mean": "grey"})}}, "input mean"),
    "labels are numbers": ({"models": {"m": _with(labels=[1, 2, 3, 4, 5, 6, 7])}}, "labels must be strings"),
    "no probs output": ({"models": {"m": {**_good_entry(), "outputs": {"scores": "probs"}}}}, "role 'probs'"),
    "file outside the folder": ({"models": {"m": _with(file="../../outside.onnx")}}, "points outside"),
    "absolute file": ({"models": {"m": _with(file="/etc/passwd")}}, "points outside"),
    "file is a number": ({"models": {"m": _with(file=7)}}, "must be a file name"),
    "size is text": ({"models": {"m": _with(size="big")}}, "'size' must be a byte count"),
    "detector without decoder kind": (
        {
            "models": {
                "m": {
                    **json.loads(SHIPPED_MANIFEST.read_text())["models"]["retinaface_mbv2"],
                    "decoder": {"steps": [8]},
                }
            }
        },
        "decoder needs its kind",
    ),
}


@pytest.fixture
def manifest(monkeypatch, tmp_path):
    """Points the models module at a manifest the test writes; the real one comes back after."""
    path = tmp_path / "manifest.json"
    monkeypatch.setattr(models, "MANIFEST", path)
    monkeypatch.setattr(models, "_specs", {})
    return path


@pytest.mark.parametrize("case", sorted(BROKEN_MANIFESTS))
def test_a_broken_manifest_is_a_model_error(manifest, case):
    content, message = BROKEN_MANIFESTS[case]
    manifest.write_text(json.dumps(content))
    with pytest.raises(ModelError, match=message):
        models.available()
    assert models._specs == {}  # nothing half-loaded


def test_a_manifest_that_is_not_json_is_a_model_error(manifest):
    manifest.write_text("{not json")
    with pytest.raises(ModelError, match="cannot read the model manifest"):
        models.spec("fernet")


def test_a_shipped_file_larger_than_its_recorded_size_is_refused_unread(manifest):
    """Shipped models are read up to the size the manifest records, no further."""
    manifest.write_text(json.dumps({"models": {"m": _with(size=1000)}}))
    with pytest.raises(ModelIntegrityError, match="more than the limit of 1,000 bytes recorded"):
        models.load_bytes("m")


# --- model paths that are not model files ---------------------------------------------------------


def _in_thread(call, seconds: float = 20.0):
    """call() in a thread: the exception it raised (or None); fails if it blocks."""
    outcome = {}

    def target():
        try:
            call()
            outcome["error"] = None
        except Exception as exc:  # noqa: BLE001 - the test inspects it
            outcome["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"blocked for {seconds} s"
    return outcome["error"]


def _special_paths(tmp_path) -> dict:
    paths = {"directory": (tmp_path, "directory")}
    if os.path.exists("/dev/zero"):
        paths["/dev/zero"] = ("/dev/zero", "character device")
        paths["/dev/urandom"] = ("/dev/urandom", "character device")
    if hasattr(os, "mkfifo"):
        os.mkfifo(tmp_path / "fifo.onnx")
        paths["fifo"] = (tmp_path / "fifo.onnx", "FIFO")
    return paths


def test_register_refuses_paths_that_are_not_regular_files(tmp_path):
    for name, (path, kind) in _special_paths(tmp_path).items():
        error = _in_thread(lambda path=path: models.register("test_special", path, CLASSIFIER_SPEC))
        assert isinstance(error, ModelError) and kind in str(error), name


def test_register_refuses_a_file_larger_than_any_onnx_model(tmp_path):
    sparse = tmp_path / "huge.onnx"
    with open(sparse, "wb") as file:
        file.truncate(models.MAX_MODEL_BYTES + 1)  # sparse: no blocks written
    error = _in_thread(lambda: models.register("test_huge", sparse, CLASSIFIER_SPEC))
    assert isinstance(error, ModelError) and "larger than any ONNX model" in str(error)


def test_a_registered_model_replaced_by_a_special_file_is_refused_quickly(tmp_path):
    path = tmp_path / "mine.onnx"
    data = onnx_wire.classifier(7)
    path.write_bytes(data)
    models.register("test_replaced", path, CLASSIFIER_SPEC, replace=True)
    assert models.load_bytes("test_replaced") == data
    path.unlink()
    if hasattr(os, "mkfifo"):
        os.mkfifo(path)
        error = _in_thread(lambda: models.load_bytes("test_replaced"))
        assert isinstance(error, ModelError) and "FIFO" in str(error)
        path.unlink()
    if os.path.exists("/dev/zero"):
        path.symlink_to("/dev/zero")
        error = _in_thread(lambda: models.load_bytes("test_replaced"))
        assert isinstance(error, ModelError) and "character device" in str(error)
        path.unlink()
    with open(path, "wb") as file:  # a far bigger file in its place: refused by size, unread
        file.write(data)
        file.truncate(8 << 30)
    error = _in_thread(lambda: models.load_bytes("test_replaced"))
    assert isinstance(error, ModelIntegrityError) and "recorded for it" in str(error)


# --- sessions: the same refusals on both paths ----------------------------------------------------


@pytest.mark.parametrize("kind", ["python", NATIVE])
def test_a_model_onnx_runtime_cannot_load_is_a_model_error(kind):
    data = onnx_wire.identity_model([onnx_wire.node("NoSuchOperator", ["x"], ["z"])])
    models.register("test_unloadable", data, CLASSIFIER_SPEC, replace=True)
    with pytest.raises(ModelError, match="'test_unloadable': ONNX Runtime: cannot load the model: "):
        SESSIONS[kind]("test_unloadable")


@pytest.mark.parametrize("kind", ["python", NATIVE])
def test_a_classifier_that_is_not_seven_wide_is_a_model_error(kind):
    models.register("test_wide", onnx_wire.classifier(8), CLASSIFIER_SPEC, replace=True)
    with pytest.raises(ModelError, match=r"'test_wide': classifier output 'probs' has shape \(1, 8\)"):
        SESSIONS[kind]("test_wide")


def test_the_python_classifier_refuses_an_eight_wide_model():
    models.register("test_wide", onnx_wire.classifier(8), CLASSIFIER_SPEC, replace=True)
    with pytest.raises(ModelError, match=r"expected \(1, 7\)"):
        Classifier("test_wide")


@pytest.mark.parametrize("kind", ["python", NATIVE])
def test_outputs_the_spec_names_must_exist(kind):
    spec = {**CLASSIFIER_SPEC, "outputs": {"probs": "probabilities"}}
    models.register("test_renamed", onnx_wire.classifier(7), spec, replace=True)
    with pytest.raises(ModelError, match=r"no output named 'probabilities' \(the model's outputs: probs\)"):
        SESSIONS[kind]("test_renamed")


def test_a_seven_wide_classifier_is_accepted_and_runs():
    models.register("test_seven", onnx_wire.classifier(7), CLASSIFIER_SPEC, replace=True)
    faces = np.random.default_rng(1).integers(0, 256, (3, 48, 48), dtype=np.uint8)
    probs = Classifier("test_seven").classify(faces)
    assert probs.shape == (3, 7)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)
