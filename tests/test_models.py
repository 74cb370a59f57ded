"""Shipped models: manifest, integrity checks, user registration, sessions."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest

import fastfer
from fastfer import models
from fastfer.backend.runtime import create_session
from fastfer.errors import BackendError, ModelError, ModelIntegrityError, ModelNotFoundError

CONVERTED = ["retinaface_mbv2", "blazeface_short", "blazeface_full", "mini_xception"]  # from PyPI wheels
TRAINED = ["fernet"]  # trained by training/train.py
COPIED = ["yunet"]  # ONNX as published in a public repository (tools/models/convert_yunet.py)
SHIPPED = CONVERTED + TRAINED + COPIED


def test_manifest_lists_every_shipped_model_with_its_facts():
    manifest = json.loads(models.MANIFEST.read_text())
    # The int8 models (tools/models/quantize.py) are checked by tests/test_int8_models.py.
    assert sorted(n for n in manifest["models"] if not n.endswith("_int8")) == sorted(SHIPPED)
    for name in SHIPPED:
        spec = models.spec(name)
        data = (models.HERE / spec.file).read_bytes()
        assert hashlib.sha256(data).hexdigest() == spec.sha256
        assert len(data) == spec.size
        if name in CONVERTED:
            assert spec.source["wheel_sha256"] and spec.source["member"] and spec.source["converter"]
        elif name in COPIED:
            assert spec.source["repository"].startswith("https://github.com/")
            assert len(spec.source["commit"]) == 40 and spec.source["converter"]
        else:
            assert spec.source["recipe"] == "training/train.py" and len(spec.source["commit"]) == 40
            assert spec.source["summary"]["private_acc"] > 0.5 and "FER2013" in spec.source["data"]
        assert spec.license and spec.input.layout in ("nchw", "nhwc")
        assert json.loads(json.dumps(spec.to_dict()))["name"] == name
    assert models.spec("mini_xception").labels == fastfer.LABELS
    assert models.DEFAULT_CLASSIFIER.removesuffix("_int8") == "fernet"
    assert models.spec("fernet").labels == fastfer.LABELS
    assert models.spec("fernet_int8").labels == fastfer.LABELS


def test_licence_notices_ship_beside_the_models():
    text = models.notices()
    for name in CONVERTED + COPIED:
        assert models.spec(name).file in text
    assert "Apache License" in text and "MIT License" in text and "MediaPipe" in text


def test_available_filters_by_task():
    assert set(models.available("detector")) >= {"retinaface_mbv2", "blazeface_short", "blazeface_full"}
    assert {"mini_xception", "fernet"} <= set(models.available("classifier"))


def test_load_bytes_checks_the_sha256():
    data = models.load_bytes("mini_xception")
    assert hashlib.sha256(data).hexdigest() == models.spec("mini_xception").sha256


def test_corrupted_model_bytes_are_refused():
    spec = models.spec("mini_xception")
    data = bytearray((models.HERE / spec.file).read_bytes())
    data[len(data) // 2] ^= 0xFF
    with pytest.raises(ModelIntegrityError, match="sha256"):
        models.check_model_bytes("mini_xception", bytes(data), spec.sha256)


def test_a_registered_file_changed_on_disk_is_refused(tmp_path):
    path = tmp_path / "mine.onnx"
    path.write_bytes(models.load_bytes("mini_xception"))
    entry = {k: v for k, v in models.spec("mini_xception").to_dict().items() if k not in ("name", "file")}
    models.register("test_changed_on_disk", path, entry)
    assert models.load_bytes("test_changed_on_disk") == path.read_bytes()
    data = bytearray(path.read_bytes())
    data[100] ^= 1
    path.write_bytes(bytes(data))
    with pytest.raises(ModelIntegrityError, match="corrupted or was replaced"):
        models.load_bytes("test_changed_on_disk")


def _onnx_with_external_initializer() -> bytes:
    """A minimal ModelProto whose one initializer keeps its data in an external file, encoded by
    hand (protobuf wire format) so the test needs no onnx package."""

    def field(number: int, payload: bytes) -> bytes:
        return bytes([number << 3 | 2, len(payload)]) + payload

    entry = field(1, b"location") + field(2, b"weights.bin")
    tensor = field(8, b"w") + field(13, entry) + bytes([14 << 3, 1])  # data_location = EXTERNAL
    graph = field(5, tensor) + field(2, b"g")
    return bytes([1 << 3, 8]) + field(7, graph)  # ir_version 8, graph


def test_models_with_external_data_are_refused():
    entry = {k: v for k, v in models.spec("mini_xception").to_dict().items() if k not in ("name", "file")}
    with pytest.raises(ModelError, match="external data"):
        models.register("test_external", _onnx_with_external_initializer(), entry)


def test_malformed_bytes_are_refused_with_a_model_error():
    entry = {k: v for k, v in models.spec("mini_xception").to_dict().items() if k not in ("name", "file")}
    with pytest.raises(ModelError, match="not a valid ONNX"):
        models.register("test_garbage", b"\x0a\xff\xff\xff", entry)


def test_unknown_model_names_list_the_known_ones():
    with pytest.raises(ModelNotFoundError, match="mini_xception"):
        models.spec("no_such_model")
    with pytest.raises(LookupError):
        models.load_bytes("no_such_model")


@pytest.mark.parametrize(
    "bad, message",
    [
        ({"task": "segmenter"}, "task"),
        ({"input": {"name": "image"}}, "input spec"),
        ({"labels": None}, "label order"),
        ({"outputs": {}}, "outputs"),
    ],
)
def test_register_checks_the_spec(bad, message):
    entry = {k: v for k, v in models.spec("mini_xception").to_dict().items() if k not in ("name", "file")}
    entry.update(bad)
    with pytest.raises(ModelError, match=message):
        models.register("test_bad_spec", models.load_bytes("mini_xception"), entry)


def test_register_refuses_to_replace_silently():
    entry = {k: v for k, v in models.spec("mini_xception").to_dict().items() if k not in ("name", "file")}
    with pytest.raises(ModelError, match="already exists"):
        models.register("mini_xception", models.load_bytes("mini_xception"), entry)


def test_a_registered_classifier_runs_like_the_shipped_one():
    from fastfer.core.classifier import Classifier

    entry = {k: v for k, v in models.spec("mini_xception").to_dict().items() if k not in ("name", "file")}
    models.register("test_my_classifier", models.load_bytes("mini_xception"), entry, replace=True)
    faces = np.random.default_rng(0).integers(0, 256, (3, 48, 48), dtype=np.uint8)
    np.testing.assert_array_equal(
        Classifier("test_my_classifier").classify(faces), Classifier("mini_xception").classify(faces)
    )


def test_sessions_refuse_unavailable_providers_instead_of_falling_back():
    import onnxruntime

    if "CUDAExecutionProvider" in onnxruntime.get_available_providers():
        pytest.skip("this machine has CUDA")
    with pytest.raises(BackendError, match="cuda"):
        create_session("mini_xception", providers=("cuda", "cpu"))


@pytest.mark.parametrize(
    "kwargs, error",
    [
        ({"providers": ("tpu",)}, ValueError),
        ({"providers": "cpu"}, ValueError),
        ({"threads": 0}, ValueError),
        ({"threads": 1.5}, ValueError),
    ],
)
def test_session_arguments_are_checked(kwargs, error):
    with pytest.raises(error):
        create_session("mini_xception", **kwargs)


def test_capabilities_list_the_providers_onnxruntime_offers():
    import onnxruntime

    caps = fastfer.capabilities()
    assert "cpu" in caps["providers_available"]
    has_cuda = "CUDAExecutionProvider" in onnxruntime.get_available_providers()
    assert ("cuda" in caps["providers_available"]) == has_cuda
