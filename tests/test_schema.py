"""The typed model spec (fastfer.models.schema, fastfer.models.families): parsed once from a
manifest entry or a register() mapping, every fault a ModelSpecError naming the model and the key,
and to_dict() giving the manifest's entry back."""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest
from _nested import replace_at

import fastfer
from fastfer import models
from fastfer.errors import ModelError, ModelSpecError
from fastfer.models import defaults
from fastfer.models.schema import parse_spec

MANIFEST = json.loads(models.MANIFEST.read_text())["models"]
TOP_KEYS = ("name", "task", "sha256", "input", "outputs", "license", "source", "decoder", "labels", "crop")
TOP_KEYS += ("file", "size", "description")


def _entry(name: str) -> dict:
    return copy.deepcopy(MANIFEST[name])


@pytest.mark.parametrize("name", sorted(MANIFEST))
def test_to_dict_gives_the_manifest_entry_back_as_written(name):
    want = {"name": name, "labels": None, "crop": None, "decoder": None, **MANIFEST[name]}
    got = models.spec(name).to_dict()
    assert got == want
    assert list(got) == [*TOP_KEYS]
    for part in ("input", "decoder", "crop"):  # key order too, so `fastfer models --json` reads as before
        if want[part] is not None:
            assert list(got[part]) == list(want[part]), part


@pytest.mark.parametrize("name", sorted(MANIFEST))
def test_a_spec_parsed_from_its_own_dict_is_the_same_spec(name):
    spec = models.spec(name)
    again = parse_spec(name, {k: v for k, v in spec.to_dict().items() if k != "name"})
    assert again == spec and again.to_dict() == spec.to_dict()


def test_each_detector_decoder_is_the_class_of_its_family():
    families = {name: type(models.spec(name).decoder) for name in models.available("detector")}
    assert families["retinaface_mbv2"] is models.RetinaFace
    assert families["yunet"] is models.YuNet
    assert families["blazeface_short"] is families["blazeface_full"] is models.BlazeFace
    assert set(models.FAMILIES) == {"retinaface", "yunet", "blazeface"}
    assert models.spec("blazeface_short").decoder.estimated_mouth_corners
    assert not models.spec("retinaface_mbv2").decoder.estimated_mouth_corners


def test_typed_fields_and_defaults():
    det = models.spec("retinaface_mbv2")
    assert det.input.size == "dynamic" and det.input.pad_multiple == 32 and det.input.mean == (0.0, 0.0, 0.0)
    assert det.decoder.steps == (8, 16, 32) and det.decoder.variances == (0.1, 0.2)
    assert det.decoder.roles() == ("boxes", "landmarks", "scores")
    assert models.spec("yunet").decoder.roles()[:4] == ("cls_8", "cls_16", "cls_32", "obj_8")
    assert models.spec("blazeface_short").input.size == (128, 128)
    cls = models.spec("fernet")
    assert cls.decoder is None and cls.labels == fastfer.LABELS and cls.activation == "probs"
    assert cls.crop == models.CropSpec(margin=0.013, square=True) and cls.input.channels == 1
    # A spec that leaves them out gets the defaults, written once in fastfer.models.defaults.
    entry = _entry("fernet")
    del entry["crop"]
    entry["input"]["mean"] = 127.5
    bare = parse_spec("bare", entry)
    assert bare.crop == models.CropSpec(defaults.DEFAULT_CROP_MARGIN, defaults.DEFAULT_CROP_SQUARE)
    assert bare.input.mean == (127.5,)
    decoder = _entry("retinaface_mbv2")["decoder"]
    for key in ("offset", "score_threshold", "min_face_px"):
        del decoder[key]
    bare = parse_spec("bare", {**_entry("retinaface_mbv2"), "decoder": decoder}).decoder
    assert (bare.offset, bare.score_threshold, bare.min_face_px) == (0.5, defaults.DEFAULT_SCORE_THRESHOLD, None)


def _changed(name: str, path: str, value) -> dict:
    entry = _entry(name)
    replace_at(entry, path.split("."), value, remove=value is KeyError)
    return entry


BAD_SPECS = [
    ("retinaface_mbv2", "decoder.kind", "yolo", "unknown decoder kind 'yolo'"),
    ("retinaface_mbv2", "decoder.kind", KeyError, "decoder needs its kind"),
    ("retinaface_mbv2", "decoder.steps", [8, 16.5, 32], "decoder steps must be a list of positive ints"),
    ("retinaface_mbv2", "decoder.steps", [8, 0, 32], "decoder steps must be a list of positive ints"),
    ("retinaface_mbv2", "decoder.min_sizes", [[16, 32], [64, 128]], "one list of positive numbers per step"),
    ("retinaface_mbv2", "decoder.min_sizes", [[16, 32], [64, 0], [256]], "one list of positive numbers per step"),
    ("retinaface_mbv2", "decoder.variances", [0.1, -0.2], r"decoder variances must be > 0"),
    ("yunet", "decoder.min_sizes", [[8, 16], [16], [32]], "one anchor size per step"),
    ("yunet", "input.pad_multiple", 12, "padded to a multiple of every step"),
    ("retinaface_mbv2", "decoder.steps", KeyError, "decoder needs the key 'steps'"),
    ("retinaface_mbv2", "decoder.min_sizes", [16, 32], "decoder min_sizes must be one list"),
    ("retinaface_mbv2", "decoder.variances", [0.1], "decoder variances must be 2 numbers"),
    ("retinaface_mbv2", "decoder.variances", KeyError, "decoder needs the key 'variances'"),
    ("retinaface_mbv2", "decoder.offset", "half", "decoder offset must be a number"),
    ("retinaface_mbv2", "decoder.score_threshold", None, "decoder score_threshold must be a number"),
    ("retinaface_mbv2", "decoder.min_face_px", 24.5, "decoder min_face_px must be an int"),
    ("retinaface_mbv2", "outputs.landmarks", KeyError, r"retinaface detector's outputs need the roles \['landmarks'\]"),
    ("retinaface_mbv2", "input.color", "gray", "a detector's input color must be rgb or bgr"),
    ("retinaface_mbv2", "input.pad_multiple", "32", "input pad_multiple must be an int"),
    ("retinaface_mbv2", "input.mean", [0.0, 0.0], r"input mean needs 1 or 3 values"),
    ("retinaface_mbv2", "input.scale", [1.0, float("nan"), 1.0], "input scale must be a number or a list"),
    ("yunet", "outputs.kps_32", KeyError, r"yunet detector's outputs need the roles \['kps_32'\]"),
    ("blazeface_short", "input.size", "dynamic", "blazeface detector needs a fixed input size"),
    ("fernet", "input.size", [48, 40], "only square classifier inputs"),
    ("fernet", "input.mean", [127.5, 127.5, 127.5], r"input mean needs 1 value \(one channel\), got 3"),
    ("fernet", "labels", ["a", "b", "c", "d", "e", "f", "g"], "are not the 7 of fastfer.LABELS"),
    ("fernet", "crop.margin", "wide", "crop margin must be a number"),
    ("fernet", "crop.square", 1, "crop square must be true or false"),
    ("fernet", "decoder", {"activation": "softmax"}, "decoder activation must be one of"),
]


@pytest.mark.parametrize("name, path, value, message", BAD_SPECS)
def test_a_bad_spec_is_a_model_spec_error_naming_the_model_and_key(name, path, value, message):
    with pytest.raises(ModelSpecError, match=message) as raised:
        parse_spec("test_bad", _changed(name, path, value))
    assert str(raised.value).startswith("model 'test_bad': ")
    assert isinstance(raised.value, ModelError)


def test_register_refuses_a_bad_spec_before_any_use():
    with pytest.raises(ModelSpecError, match="unknown decoder kind"):
        models.register("test_spec_yolo", models.load_bytes("yunet"), _changed("yunet", "decoder.kind", "yolo"))
    assert "test_spec_yolo" not in models.available()


def test_a_classifier_that_gives_logits():
    entry = {**_entry("fernet"), "decoder": {"activation": "logits"}}
    spec = parse_spec("logits", entry)
    assert spec.activation == "logits" and spec.to_dict()["decoder"] == {"activation": "logits"}


def test_the_defaults_are_those_of_the_cpp_pipeline():
    # One value each for C++ users and Python users: fastfer.models.defaults against the
    # constants of cpp/include/fastfer/pipeline.h and detector_input.h the native module exposes.
    core = fastfer.backend.native
    if core is None or not hasattr(core, "DEFAULT_MAX_SIDE"):
        pytest.skip("the native module (built with the ONNX Runtime header) is not in use")
    names = ["DEFAULT_MAX_SIDE", "DEFAULT_NMS_IOU", "MAX_FACES", "PRE_NMS_TOP_K", "DEFAULT_SCORE_THRESHOLD"]
    names += ["DEFAULT_PAD_MULTIPLE", "DEFAULT_CROP_MARGIN", "DEFAULT_CROP_SQUARE", "PROBABILITY_SLACK"]
    for name in names:
        ours, theirs = getattr(defaults, name), getattr(core, name)
        assert type(ours) is type(theirs), name
        if isinstance(ours, float):  # C++ keeps some in float32
            assert np.float32(ours) == np.float32(theirs), name
        else:
            assert ours == theirs, name
    assert fastfer.core.detector.DEFAULT_MAX_SIDE is defaults.DEFAULT_MAX_SIDE  # re-exported, not copied


def test_a_spec_only_the_cpp_validate_refuses_is_a_model_spec_error_from_fer():
    # pad_multiple 0 passes the spec's type checks; DetectorConfig.validate() refuses it.
    if fastfer.backend.runtime.native_inference_unavailable():
        pytest.skip("native inference unavailable")
    models.register(
        "test_spec_pad0", models.load_bytes("retinaface_mbv2"), _changed("retinaface_mbv2", "input.pad_multiple", 0)
    )
    with pytest.raises(ModelSpecError, match="models 'test_spec_pad0' and .*pad_multiple must be in"):
        fastfer.FER("test_spec_pad0", inference="native")
