"""The public API under hostile models, failing inputs and odd arguments (issue 22: B9, B10, B11, C4).

Hostile models are built byte by byte (``onnx_wire.py``) and run by the real ONNX Runtime: they pass
the load check (one blank face gives one row of 7) and break later, on both inference paths
(``FER(inference="python")``: onnxruntime's Python API and the numpy decoding; ``"native"``: the
C++ pipeline). Every fault of a model's output is a ``fastfer.ModelError`` naming it; a box left
with no width or height after clipping to the image is dropped, not fatal.
"""

from __future__ import annotations

import errno

import cv2
import numpy as np
import onnx_wire
import pytest
from _paths import SHIPPED_PHOTO
from onnx_wire import field, graph, model, node, number, tensor, value_info

import fastfer
from fastfer import FER, ModelError, ModelSpecError, models
from fastfer.backend import kernels
from fastfer.backend.runtime import native_inference_unavailable
from fastfer.core.classifier import Classifier

NATIVE = pytest.param(
    "native",
    marks=pytest.mark.skipif(
        native_inference_unavailable() is not None, reason=f"native inference: {native_inference_unavailable()}"
    ),
)
INFERENCE = ["python", NATIVE]
CLASSIFIER_SPEC = {
    "task": "classifier",
    "labels": list(fastfer.LABELS),
    "outputs": {"probs": "probs"},
    "input": {"name": "image", "layout": "nchw", "color": "gray", "size": [48, 48], "mean": 127.5, "scale": 1 / 127.5},
}


def _shipped_spec(name: str, side: int) -> tuple:
    """A shipped detector's spec for register() (no name, file or checksum) with a fixed
    ``side`` × ``side`` input, and its anchors at that size."""
    spec = {k: v for k, v in models.spec(name).to_dict().items() if k not in ("name", "file", "sha256", "size")}
    spec["input"] = {**spec["input"], "size": [side, side]}
    decoder = spec["decoder"]
    return spec, kernels.make_anchors(side, side, decoder["steps"], decoder["min_sizes"], decoder["offset"])


# BlazeFace's spec (fixed 128×128, letterboxed: a wide image leaves padding at the bottom).
BLAZEFACE_SPEC, BLAZEFACE_ANCHORS = _shipped_spec("blazeface_short", 128)
# RetinaFace's decoder at a fixed 64×64 input: 168 anchors.
RETINAFACE_SPEC, RETINAFACE_ANCHORS = _shipped_spec("retinaface_mbv2", 64)


def _ints(name: str, values) -> bytes:
    return field(1, name) + number(20, 7) + b"".join(number(8, v) for v in values)  # INTS


def _int(name: str, value: int) -> bytes:
    return field(1, name) + number(20, 2) + number(3, value)  # INT


def _batch_zeros(input_name: str, follow_batch: bool, rank: int) -> list:
    """Nodes giving ``z``: zeros of shape (N, 1, ..., 1) of ``rank`` dimensions (N the input's
    batch), or (1, ..., 1) when the model ignores the batch; the input is read, so it is used."""
    axes = (1, 2, 3) if follow_batch else (0, 1, 2, 3)
    nodes = [node("ReduceMean", [input_name], ["m4"], [_ints("axes", axes), _int("keepdims", 1)])]
    if rank == 2:
        nodes.append(node("Flatten", ["m4"], ["m"], [_int("axis", 1)]))
    else:  # rank 3
        nodes.append(node("ReduceMean", ["m4"], ["m"], [_ints("axes", (3,)), _int("keepdims", 0)]))
    return nodes + [node("Mul", ["m", "zero"], ["z"])]


def constant_classifier(probs, follow_batch: bool = True) -> bytes:
    """48×48 grey faces -> the row ``probs`` for every face (one row only unless ``follow_batch``)."""
    row = np.asarray(probs, np.float32).reshape(1, -1)
    nodes = _batch_zeros("image", follow_batch, 2) + [node("Add", ["z", "row"], ["probs"])]
    return model(
        graph(
            nodes,
            [tensor("zero", np.zeros((1, 1))), tensor("row", row)],
            inputs=[value_info("image", ["N", 1, 48, 48])],
            outputs=[value_info("probs", ["N", "C"])],
        )
    )


def widening_classifier() -> bytes:
    """N faces -> (N, 6 + N) probabilities: 7 columns for one face (the load check), more for more."""
    nodes = _batch_zeros("image", True, 2) + [
        node("Transpose", ["z"], ["zt"], [_ints("perm", (1, 0))]),
        node("MatMul", ["z", "zt"], ["square"]),  # (N, N) zeros
        node("Add", ["square", "seventh"], ["extra"]),
        node("Add", ["z", "six"], ["first"]),  # (N, 6)
        node("Concat", ["first", "extra"], ["probs"], [_int("axis", 1)]),
    ]
    inits = [
        tensor("zero", np.zeros((1, 1))),
        tensor("seventh", np.full((1, 1), 1 / 7)),
        tensor("six", np.full((1, 6), 1 / 7)),
    ]
    return model(
        graph(nodes, inits, inputs=[value_info("image", ["N", 1, 48, 48])], outputs=[value_info("probs", ["N", "C"])])
    )


def constant_detector(outputs: dict, input_dims: list, follow_batch: bool = True) -> bytes:
    """A detector whose outputs are the given (A, W) arrays for every image (as (N, A, W), or
    (1, A, W) when it ignores the batch), whatever the image."""
    nodes = _batch_zeros("image", follow_batch, 3)
    inits = [tensor("zero", np.zeros((1, 1, 1)))]
    for name, value in outputs.items():
        nodes.append(node("Add", ["z", f"{name}_value"], [name]))
        inits.append(tensor(f"{name}_value", np.asarray(value, np.float32)[None]))
    return model(
        graph(
            nodes,
            inits,
            inputs=[value_info("image", input_dims)],
            outputs=[value_info(name, ["N", "A", "W"]) for name in outputs],
        )
    )


def _nearest_anchor(anchors: np.ndarray, cx: float, cy: float) -> int:
    return int(np.argmin(np.hypot(anchors[:, 0] - cx, anchors[:, 1] - cy)))


def blazeface_outputs(faces) -> dict:
    """BlazeFace outputs with a face of ``side`` input pixels at each anchor nearest (cx, cy)
    (fractions of the 128×128 input); every other anchor scores nothing."""
    regressors = np.zeros((len(BLAZEFACE_ANCHORS), 16), np.float32)
    scores = np.full((len(BLAZEFACE_ANCHORS), 1), -50.0, np.float32)
    for cx, cy, side in faces:
        a = _nearest_anchor(BLAZEFACE_ANCHORS, cx, cy)
        regressors[a, 2:4] = side
        regressors[a, 4:16] = [-side / 4, -side / 8, side / 4, -side / 8, 0, 0, 0, side / 4, 0, 0, 0, 0]
        scores[a] = 10.0
    return {"regressors": regressors, "scores": scores}


def retinaface_outputs(score: float = 0.9, box_delta: float = 0.0) -> dict:
    """RetinaFace outputs: one face (scored ``score``, box deltas ``box_delta``) at the centre."""
    scores = np.tile(np.float32([1.0, 0.0]), (len(RETINAFACE_ANCHORS), 1))
    a = _nearest_anchor(RETINAFACE_ANCHORS, 0.5, 0.5)
    scores[a] = [1 - score, score] if score <= 1 else [0.0, score]
    boxes = np.zeros((len(RETINAFACE_ANCHORS), 4), np.float32)
    boxes[a] = box_delta
    return {"boxes": boxes, "landmarks": np.zeros((len(RETINAFACE_ANCHORS), 10), np.float32), "scores": scores}


def _register(name: str, data: bytes, spec: dict) -> str:
    models.register(name, data, spec, replace=True)
    return name


def _register_blazeface(name: str, outputs: dict, follow_batch: bool = True) -> str:
    return _register(name, constant_detector(outputs, ["N", 128, 128, 3], follow_batch), BLAZEFACE_SPEC)


def _register_retinaface(name: str, outputs: dict) -> str:
    return _register(name, constant_detector(outputs, ["N", 64, 64, 3]), RETINAFACE_SPEC)


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    return fastfer.load_image(str(SHIPPED_PHOTO))


@pytest.fixture(scope="module")
def two_faces(photo) -> np.ndarray:
    """The shipped photo twice, side by side: two faces for one classifier run."""
    return np.ascontiguousarray(np.hstack([photo, photo]))


def _fer(inference: str, **options) -> FER:
    return FER(inference=inference, **options)


# --- B9: analyze_many keeps the results of what it took before its input failed -------------------


def _failing_inputs(image, good: int):
    for _ in range(good):
        yield image
    raise RuntimeError("the input iterator broke")


@pytest.mark.parametrize("good", [4, 20])
def test_analyze_many_yields_the_results_taken_before_its_input_raised(photo, good):
    fer = FER()
    got = []
    with pytest.raises(RuntimeError, match="the input iterator broke"):
        for result in fer.analyze_many(_failing_inputs(photo, good), workers=2):
            got.append(result)
    assert len(got) == good
    assert all(isinstance(faces, list) and len(faces) == 1 for faces in got)


# --- B10: hostile classifiers ----------------------------------------------------------------------


@pytest.mark.parametrize("inference", INFERENCE)
def test_a_classifier_that_ignores_the_batch_is_a_model_error(inference, two_faces):
    name = _register("test_api_batchless", constant_classifier(np.full(7, 1 / 7), follow_batch=False), CLASSIFIER_SPEC)
    fer = _fer(inference, classifier=name)  # one face at the load check and the warm-up: fine
    crops = np.full((3, 48, 48), 128, np.uint8)
    with pytest.raises(
        ModelError,
        match=r"'test_api_batchless': classifier output 'probs' has shape \(1, 7\) "
        r"for 3 faces; expected \(3, 7\)",
    ):
        fer.classify(crops)
    assert len(fer.detect(two_faces)) == 2
    with pytest.raises(ModelError, match=r"has shape \(1, 7\) for 2 faces; expected \(2, 7\)"):
        fer.analyze(two_faces)
    with pytest.raises(ModelError, match=r"has shape \(1, 7\) for 2 faces"):
        fer.analyze_batch([two_faces])


@pytest.mark.parametrize("inference", INFERENCE)
def test_a_classifier_whose_width_grows_with_the_batch_is_a_model_error(inference, two_faces):
    name = _register("test_api_widening", widening_classifier(), CLASSIFIER_SPEC)
    fer = _fer(inference, classifier=name)
    with pytest.raises(ModelError, match=r"'test_api_widening': classifier output 'probs' has shape \(3, 9\)"):
        fer.classify(np.full((3, 48, 48), 128, np.uint8))
    with pytest.raises(ModelError, match=r"has shape \(2, 8\) for 2 faces; expected \(2, 7\)"):
        fer.analyze(two_faces)


@pytest.mark.parametrize("inference", INFERENCE)
@pytest.mark.parametrize("row", [[-0.5, 0.5, 0.2, 0.2, 0.2, 0.2, 0.2], [3e38] * 7], ids=["negative", "3e38"])
def test_classifier_outputs_that_are_not_probabilities_are_a_model_error(inference, row):
    name = _register("test_api_not_probs", constant_classifier(row), CLASSIFIER_SPEC)
    with pytest.raises(ModelError, match="'test_api_not_probs': its output is not probabilities: values outside"):
        Classifier(name).classify(np.full((2, 48, 48), 128, np.uint8))
    with pytest.raises(ModelError, match="its output is not probabilities"):  # FER's warm-up runs it
        _fer(inference, classifier=name)


def test_logits_may_be_any_finite_number():
    spec = {**CLASSIFIER_SPEC, "decoder": {"activation": "logits"}}
    name = _register("test_api_logits", constant_classifier([-5.0, 3e38, 0, 0, 0, 0, 1]), spec)
    probs = Classifier(name).classify(np.full((2, 48, 48), 128, np.uint8))
    np.testing.assert_allclose(probs, np.tile(np.eye(7)[1], (2, 1)))


# --- B10: hostile detectors --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def padding_detector() -> str:
    """Two faces: one in the content of a 128×64 image, one wholly in the letterbox padding below."""
    return _register_blazeface("test_api_padding", blazeface_outputs([(0.5, 0.25, 40.0), (0.5, 0.9, 20.0)]))


@pytest.mark.parametrize("inference", INFERENCE)
def test_a_box_in_the_padding_is_dropped_not_fatal(inference, padding_detector, photo):
    fer = _fer(inference, detector=padding_detector, min_face=0)
    wide = cv2.resize(photo, (128, 64))  # letterboxed into 128×128: rows 64-127 are padding
    for faces in (fer.analyze(wide), fer.detect(wide), *fer.analyze_batch([wide, wide])):
        assert len(faces) == 1
        x1, y1, x2, y2 = faces[0].box
        assert 0 <= x1 < x2 <= 128 and 0 <= y1 < y2 <= 64
    frames = list(fer.stream([wide, wide, wide]))
    assert [len(frame.faces) for frame in frames] == [1, 1, 1]


def test_the_python_detector_drops_a_box_in_the_padding(padding_detector, photo):
    from fastfer.core.detector import Detector

    found = Detector(padding_detector).detect(cv2.resize(photo, (128, 64)))
    assert len(found) == 1 and found.boxes[0, 3] <= 64


HOSTILE_DETECTORS = {
    # name: (how its outputs are made, the message)
    "nan_scores": (
        lambda: _register_blazeface(
            "test_api_nan_scores", {"regressors": np.zeros((896, 16)), "scores": np.full((896, 1), np.nan)}
        ),
        "NaN or infinity",
    ),
    "wide_regressors": (
        lambda: _register_blazeface(
            "test_api_wide_regressors", {"regressors": np.zeros((896, 18)), "scores": np.full((896, 1), -50.0)}
        ),
        "detector output",
    ),
    "few_anchors": (
        lambda: _register_blazeface(
            "test_api_few_anchors", {"regressors": np.zeros((895, 16)), "scores": np.full((895, 1), -50.0)}
        ),
        "detector output",
    ),
    "score_3e38": (
        lambda: _register_retinaface("test_api_score_3e38", retinaface_outputs(score=3e38)),
        r"detector score .* is outside \[0, 1\]",
    ),
    "box_3e38": (
        lambda: _register_retinaface("test_api_box_3e38", retinaface_outputs(box_delta=3e38)),
        r"its box or landmark outputs are out of range \(",
    ),
}


@pytest.mark.parametrize("inference", INFERENCE)
@pytest.mark.parametrize("case", sorted(HOSTILE_DETECTORS))
def test_bad_detector_outputs_are_a_model_error_at_the_warm_up(inference, case):
    make, message = HOSTILE_DETECTORS[case]
    name = make()
    with pytest.raises(ModelError, match=message) as raised:
        _fer(inference, detector=name, min_face=0)
    assert f"'{name}'" in str(raised.value)


def test_a_detector_that_ignores_the_batch_is_a_model_error(photo):
    # The Python path runs the images of a fixed-size model in one batch (the native one, one by one).
    name = _register_blazeface("test_api_batchless_detector", blazeface_outputs([(0.5, 0.5, 40.0)]), follow_batch=False)
    fer = _fer("python", detector=name, min_face=0)
    assert len(fer.analyze(photo)) == 1
    with pytest.raises(
        ModelError,
        match=r"'test_api_batchless_detector': detector output 'regressors' has "
        r"shape \(1, 896, 16\) for a batch of 2",
    ):
        fer.analyze_batch([photo, photo])


# --- B11: odd arguments ------------------------------------------------------------------------------


def test_a_camera_index_beyond_any_camera_is_a_video_error():
    fer = FER()
    for index in (2**40, 99999999999):
        with pytest.raises(fastfer.VideoDecodeError, match=f"camera #{index}: no such camera"):
            next(iter(fer.stream(index)))


def test_register_refuses_an_empty_model(tmp_path):
    with pytest.raises(ModelError, match="'test_api_empty': the model is empty"):
        models.register("test_api_empty", b"", CLASSIFIER_SPEC)
    empty = tmp_path / "empty.onnx"
    empty.write_bytes(b"")
    with pytest.raises(ModelError, match="the model is empty .* in .*empty.onnx"):
        models.register("test_api_empty", empty, CLASSIFIER_SPEC)
    assert "test_api_empty" not in models.available()


def test_register_without_a_spec_names_the_argument():
    with pytest.raises(TypeError, match="spec_entry .* must be a mapping .* got NoneType"):
        models.register("test_api_no_spec", onnx_wire.classifier(7), None)


def test_a_huge_input_size_is_refused_at_register():
    spec = {**CLASSIFIER_SPEC, "input": {**CLASSIFIER_SPEC["input"], "size": [100000, 100000]}}
    with pytest.raises(ModelSpecError, match="input size 100000×100000 is larger than fastfer accepts"):
        models.register("test_api_huge_input", onnx_wire.classifier(7), spec)
    detector = {**BLAZEFACE_SPEC, "input": {**BLAZEFACE_SPEC["input"], "size": [100000, 128]}}
    with pytest.raises(ModelSpecError, match="100000×128"):
        models.register("test_api_huge_detector", onnx_wire.classifier(7), detector)


def _symlink_loop(tmp_path):
    a, b = tmp_path / "a.jpg", tmp_path / "b.jpg"
    a.symlink_to(b)
    b.symlink_to(a)
    return a


def test_reading_a_symlink_loop_says_so(tmp_path):
    loop = _symlink_loop(tmp_path)
    with pytest.raises(OSError) as raised:
        fastfer.load_image(loop)
    assert raised.value.errno == errno.ELOOP
    with pytest.raises(ModelError, match="symbolic links"):
        models.register("test_api_loop", loop, CLASSIFIER_SPEC)


def test_the_command_says_a_symlink_loop_is_one(tmp_path):
    from fastfer.cli.common import collect_inputs

    _, missing = collect_inputs([str(_symlink_loop(tmp_path))])
    assert len(missing) == 1 and "symlink loop" in str(missing[0])


# --- C4: the Python API ------------------------------------------------------------------------------


@pytest.mark.parametrize("inference", INFERENCE)
def test_the_repr_of_fer_shows_its_models_and_options(inference):
    fer = FER(inference=inference, min_face=0, threads=2)
    text = repr(fer)
    assert text.startswith(
        f"FER(detector={fer.options['detector']!r}, classifier={fer.options['classifier']!r}, inference={inference!r}"
    )
    assert "min_face=0" in text and "threads=2" in text and "nms_iou" not in text  # defaults left out
    assert eval(text, {"FER": FER}).options == fer.options


def test_annotations_is_not_a_public_name():
    assert "annotations" not in dir(fastfer)
    assert set(fastfer.__all__) <= set(dir(fastfer))


def test_to_frame_takes_the_sources_and_the_face_column_is_int(tmp_path):
    pytest.importorskip("pandas")
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"not an image")
    paths = [SHIPPED_PHOTO, bad, str(SHIPPED_PHOTO)]
    results = FER().analyze_batch(paths)
    frame = fastfer.to_frame(results, sources=paths)
    assert list(frame["source"]) == [str(SHIPPED_PHOTO), str(bad), str(SHIPPED_PHOTO)]
    assert str(frame["face"].dtype) == "Int64" and list(frame["face"].astype(object))[::2] == [0, 0]
    assert frame["face"].isna().tolist() == [False, True, False]
    assert list(fastfer.to_frame(results)["source"]) == [0, 1, 2]
    with pytest.raises(ValueError, match="2 sources for 3 image results"):
        fastfer.to_frame(results, sources=paths[:2])
    with pytest.raises(ValueError, match="already name their sources"):
        fastfer.to_frame(dict(zip(map(str, paths), results)), sources=paths)


def test_the_stream_docs_give_the_default_workers_the_code_uses():
    from fastfer.scale.parallel import usable_cores

    fer = FER(threads=1)
    expected = max(1, min(4, usable_cores()))
    assert "at most 4" in " ".join(FER.stream.__doc__.split())
    stream = fer.stream([np.zeros((32, 32, 3), np.uint8)])
    assert stream.workers == expected
    stream.close()
