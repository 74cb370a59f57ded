"""Bounded work and no silent inf/NaN in the kernels (issue 13, item 3), on both twins.

Each case runs on the native kernels and on their numpy twins: both must refuse the same inputs
with the same exception type, quickly and without allocating what was asked, and never return an
array holding inf or NaN from finite inputs. The classifier cases check that a model whose output
is NaN or infinite yields a ModelError on both inference paths, never a label.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from _paths import SHIPPED_PHOTO
from onnx_wire import field, graph, model, node, number, tensor, value_info

import fastfer
from fastfer import backend, models
from fastfer.backend import reference, runtime
from fastfer.backend.reference import _checks
from fastfer.errors import ModelError

native = backend.native
needs_native = pytest.mark.skipif(native is None, reason=f"native kernels not in use: {backend.native_error}")
BACKENDS = [pytest.param("native", marks=needs_native), pytest.param("python")]


@pytest.fixture(params=BACKENDS)
def k(request):
    return native if request.param == "native" else reference


def image(h=8, w=8, value=255):
    return np.full((h, w, 3), value, np.uint8)


@needs_native
def test_both_twins_publish_the_same_limits():
    assert native.MAX_NMS_CANDIDATES == reference.detect.MAX_NMS_CANDIDATES == 1 << 15
    assert native.MAX_ANCHORS == reference.detect.MAX_ANCHORS
    assert native.MAX_NMS_BOX_AREA == reference.detect.MAX_NMS_BOX_AREA == 2.0**127


def test_the_kernels_module_publishes_the_limits_as_fastfer_kernels_did():
    from fastfer.backend import kernels

    assert kernels.MAX_NMS_CANDIDATES == reference.detect.MAX_NMS_CANDIDATES
    assert kernels.MAX_ANCHORS == reference.detect.MAX_ANCHORS
    assert kernels.MAX_NMS_BOX_AREA == reference.detect.MAX_NMS_BOX_AREA
    assert kernels.MAX_OUTPUT_ELEMENTS == _checks.MAX_OUTPUT_ELEMENTS


# --- NMS: a cap on candidates, finite IoU tests ----------------------------------------------------


def disjoint_boxes(n):
    """n unit boxes on a grid, none overlapping: the quadratic worst case of greedy NMS."""
    g = int(math.ceil(math.sqrt(n)))
    i = np.arange(n)
    x, y = (i % g) * 2.0, (i // g) * 2.0
    return np.stack([x, y, x + 1, y + 1], 1).astype(np.float32), np.linspace(1, 0, n, dtype=np.float32)


def test_nms_refuses_more_candidates_than_its_limit(k):
    boxes, scores = disjoint_boxes(10**6)  # took 340 s natively before the cap
    with pytest.raises(ValueError, match="candidates, above the limit of 32768"):
        k.nms(boxes, scores, 0.5)


def test_nms_takes_any_number_of_boxes_when_top_k_or_the_threshold_bounds_the_candidates(k):
    boxes, scores = disjoint_boxes(10**6)
    np.testing.assert_array_equal(k.nms(boxes, scores, 0.5, top_k=50), np.arange(50))
    # scores fall linearly from 1 to 0: the 100 best are above this threshold
    kept = k.nms(boxes, scores, 0.5, score_threshold=float(scores[99]))
    np.testing.assert_array_equal(kept, np.arange(100))


@pytest.mark.parametrize(
    "box",
    [
        [-3e38, -3e38, 3e38, 3e38],  # x2 - x1 overflows to inf
        [-3e38, 0.0, 3e38, 0.0],  # inf * 0 = NaN area
        [0.0, 0.0, 1.5e19, 1.5e19],  # area 2.25e38: finite alone, but two of them sum to inf
    ],
)
def test_nms_refuses_boxes_whose_iou_would_be_nan(k, box):
    boxes = np.array([box, box], np.float32)
    with pytest.raises(ValueError, match="row 0 is too large"):
        k.nms(boxes, [1.0, 0.9], 0.5)


def test_nms_on_the_largest_boxes_allowed_still_suppresses_overlaps(k):
    boxes = np.array([[0, 0, 1.3e19, 1.3e19]] * 2, np.float32)  # area 1.69e38 < 2^127
    np.testing.assert_array_equal(k.nms(boxes, [1.0, 0.9], 0.5), [0])
    np.testing.assert_array_equal(k.nms(boxes, [1.0, 0.9], 0.0), [0])


@pytest.mark.parametrize(
    "kwargs, error",
    [
        ({"max_output": 2**63}, ValueError),
        ({"top_k": 2**64}, ValueError),
        ({"top_k": -(2**70)}, ValueError),
        ({"max_output": 1.5}, TypeError),
        ({"top_k": "3"}, TypeError),
    ],
)
def test_nms_integer_arguments_beyond_int64_are_refused_alike(k, kwargs, error):
    with pytest.raises(error):
        k.nms([[0, 0, 1, 1]], [1.0], 0.5, **kwargs)


# --- anchors and decoding: never an inf or NaN in the result ----------------------------------


@pytest.mark.parametrize(
    "args, error",
    [
        ((2**64, 64, [8], [[16]]), ValueError),
        ((64, 2**63, [8], [[16]]), ValueError),
        ((64, 64, [2**70], [[16]]), ValueError),
        ((64.0, 64, [8], [[16]]), TypeError),
        ((64, 64, "8", [[16]]), TypeError),
    ],
)
def test_make_anchors_integers_are_refused_alike(k, args, error):
    with pytest.raises(error):
        k.make_anchors(*args)


@pytest.mark.parametrize(
    "min_sizes, offset",
    [
        ([[1e300]], 0.5),  # size / width overflows float32
        ([[16]], 1e300),  # the centres overflow float32
        ([[16]], -1e300),
    ],
)
def test_make_anchors_refuses_values_beyond_float32(k, min_sizes, offset):
    with pytest.raises(ValueError, match="outside the float32 range"):
        k.make_anchors(64, 64, [64], min_sizes, offset)


def test_make_anchors_near_the_float32_limit_stays_finite(k):
    anchors = k.make_anchors(1, 1, [1], [[3e38]])
    assert np.all(np.isfinite(anchors))


def test_decode_boxes_refuses_an_exp_overflow_naming_the_row(k):
    priors = np.array([[0.5, 0.5, 0.1, 0.1]] * 3, np.float32)
    deltas = np.zeros((3, 4), np.float32)
    deltas[1, 2] = 1e4  # exp(1e4 * 0.2) = inf
    with pytest.raises(ValueError, match="decode_boxes: row 1 decodes to a value outside"):
        k.decode_boxes(deltas, priors)
    deltas[1, 2] = 300.0  # exp(60): large but finite in float32 terms once scaled by the prior
    out = k.decode_boxes(deltas, priors)
    assert np.all(np.isfinite(out))


def test_decode_boxes_refuses_a_huge_variance_that_makes_nan(k):
    priors = np.array([[0.5, 0.5, 0.0, 0.1]], np.float32)  # zero width: 0 * inf = NaN
    with pytest.raises(ValueError, match="row 0"):
        k.decode_boxes([[3e38, 0, 0, 0]], priors, (1e300, 0.2))


def test_decode_landmarks_refuses_points_beyond_float32(k):
    priors = np.array([[0.5, 0.5, 3e38, 3e38]], np.float32)
    with pytest.raises(ValueError, match="decode_landmarks: row 0"):
        k.decode_landmarks([[3e38, 0.0]], priors, 10.0)


# --- image kernels: bounded outputs, finite normalisation ----------------------------------------


@pytest.mark.parametrize(
    "call",
    [
        lambda k: k.resize(image(), 10**6, 10**6),
        lambda k: k.resize(image(), 10**6, 2000),
        lambda k: k.detector_input(image(), fixed_size=(65536, 65536)),
        lambda k: k.face_input(image(), boxes=np.tile([[0, 0, 4, 4]], (100, 1)), size=4096),
    ],
    ids=["resize 1e6x1e6", "resize 1e6x2000", "detector_input 65536^2", "face_input 100x4096^2"],
)
def test_outputs_above_the_limit_are_refused_before_allocating(k, call):
    with pytest.raises(ValueError, match="268435456"):
        call(k)


def test_the_output_limit_is_inclusive(k):
    side = 1 << 14  # 16384 x 16384 x 1 = 2^28 values exactly: allowed
    assert _checks.MAX_OUTPUT_ELEMENTS == side * side
    out = k.resize(np.zeros((1, 1), np.uint8), side, side)
    assert out.shape == (side, side) and out.max() == 0


@pytest.mark.parametrize("fixed", [(1e300, 64), (64, -1.0), (float("nan"), 64)])
def test_detector_input_refuses_fixed_sizes_out_of_range_alike(k, fixed):
    with pytest.raises(ValueError):
        k.detector_input(image(), fixed_size=fixed)


@pytest.mark.parametrize("mean, scale", [(0.0, 1e38), (-3e38, 10.0), ([0, 0, 0], [1, 1, -1e37])])
def test_normalisation_that_overflows_is_refused(k, mean, scale):
    with pytest.raises(ValueError, match="overflow float32"):
        k.detector_input(image(), mean=mean, scale=scale)
    with pytest.raises(ValueError, match="overflow float32"):
        k.face_input(image(), boxes=[[0, 0, 4, 4]], size=4, mean=mean, scale=scale)


def test_normalisation_just_inside_float32_is_finite(k):
    tensor, _ = k.detector_input(image(), scale=1e36)
    assert np.all(np.isfinite(tensor)) and tensor.max() == np.float32(255.0) * np.float32(1e36)


@pytest.mark.parametrize(
    "box, margin",
    [
        ([-1e308, 0, 1e308, 4], 0.0),  # width overflows
        ([0, 0, 1e308, 4], 1.0),
    ],
)  # the margin overflows it
def test_face_input_refuses_boxes_whose_crop_map_is_not_finite(k, box, margin):
    with pytest.raises(ValueError, match="transform has NaN or infinity"):
        k.face_input(image(), boxes=[box], size=4, margin=margin)


def test_face_input_samples_a_huge_but_finite_box_as_edge_pixels_alike(k):
    img = np.arange(8 * 8 * 3, dtype=np.uint8).reshape(8, 8, 3)
    out = k.face_input(img, boxes=[[0, 0, 1e308, 1e308]], size=4)
    assert np.all(np.isfinite(out))
    if native is not None:
        np.testing.assert_array_equal(out, reference.face_input(img, boxes=[[0, 0, 1e308, 1e308]], size=4))


@pytest.mark.parametrize("box", [[0, 0, np.inf, 4], [np.nan, 0, 4, 4]])
def test_face_input_refuses_non_finite_boxes(k, box):
    with pytest.raises(ValueError, match="NaN or infinity"):
        k.face_input(image(), boxes=[box], size=4)


@pytest.mark.skipif(
    bool(os.environ.get("FASTFER_SANITIZED")),
    reason="AddressSanitizer reserves terabytes of address space: no RLIMIT_AS under it",
)
def test_a_broadcast_view_too_large_to_copy_fails_alike_without_eating_memory():
    """10^9 boxes as a broadcast view: both twins raise MemoryError under a 3 GiB address-space
    limit (the copy needs 15-30 GiB), in a child process so the limit stays there."""
    code = textwrap.dedent("""
        import resource, sys
        import numpy as np
        from fastfer import backend
        from fastfer.backend import reference
        resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))
        boxes = np.broadcast_to(np.array([0, 0, 1, 1], np.float32), (10 ** 9, 4))
        scores = np.broadcast_to(np.float32(1), (10 ** 9,))
        for name, k in (("native", backend.native), ("python", reference)):
            if k is None:
                continue
            try:
                k.nms(boxes, scores, 0.5)
            except MemoryError:
                print(name, "MemoryError")
            except Exception as exc:
                print(name, type(exc).__name__, exc)
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.split("\n")
    assert "python MemoryError" in lines
    if native is not None:
        assert "native MemoryError" in lines


# --- a model whose output is NaN never yields a label ----------------------------------------


def constant_classifier(value: float, size: int = 64) -> bytes:
    """(N, 1, size, size) -> (N, 7): probs = mean(image) * value. NaN or inf: every output is
    NaN or infinite (inf * 0 too), as a broken or hostile model's would be."""
    axes = field(1, "axes") + number(20, 7) + b"".join(number(8, a) for a in (1, 2, 3))  # INTS
    keepdims = field(1, "keepdims") + number(20, 2) + number(3, 1)  # INT
    nodes = [
        node("ReduceMean", ["image"], ["mean"], [axes, keepdims]),
        node("Flatten", ["mean"], ["flat"], [field(1, "axis") + number(20, 2) + number(3, 1)]),
        node("Mul", ["flat", "value"], ["probs"]),
    ]
    return model(
        graph(
            nodes,
            [tensor("value", np.full((1, 7), value, np.float32))],
            inputs=[value_info("image", ["N", 1, size, size])],
            outputs=[value_info("probs", ["N", 7])],
        )
    )


@pytest.fixture(scope="module", params=[float("nan"), float("inf")], ids=["nan", "inf"])
def broken_classifier(request):
    entry = {
        k: v for k, v in models.spec("mini_xception").to_dict().items() if k not in ("name", "file", "sha256", "size")
    }
    name = f"test_constant_{request.param}_classifier"
    models.register(name, constant_classifier(request.param), entry, replace=True)
    return name


def test_the_classifier_refuses_non_finite_model_output(broken_classifier):
    from fastfer.core.classifier import Classifier

    faces = np.full((2, 48, 48), 128, np.uint8)
    with pytest.raises(ModelError, match="NaN or infinity"):
        Classifier(broken_classifier).classify(faces)


def test_the_native_pipeline_refuses_non_finite_model_output(broken_classifier):
    reason = runtime.native_inference_unavailable()
    if reason:
        pytest.skip(f"native inference unavailable: {reason}")
    from fastfer.core.detector import DetectorOptions
    from fastfer.core.native_config import native_configs

    detector, classifier = models.spec(models.DEFAULT_DETECTOR), models.spec(broken_classifier)
    options = DetectorOptions.checked(detector, detector.decoder)
    detector_config, classifier_config = native_configs(detector, options, classifier)
    pipeline = native.Pipeline(
        runtime.create_native_session(detector.name),
        detector_config,
        runtime.create_native_session(classifier.name),
        classifier_config,
    )
    photo = fastfer.load_image(str(SHIPPED_PHOTO))
    with pytest.raises(ModelError, match="NaN or infinity"):
        pipeline.analyze(photo)
    assert len(pipeline.detect(photo)["scores"]) == 1  # detection alone never runs the classifier


@pytest.mark.parametrize("inference", ["python", "auto"])
def test_fer_refuses_a_model_with_non_finite_output_when_built(broken_classifier, inference):
    # FER's warm-up classifies a blank face: the broken model is refused before any request.
    with pytest.raises(ModelError, match="NaN or infinity"):
        fastfer.FER(classifier=broken_classifier, inference=inference)


# --- YuNet's score kernel: linear, clamped, never NaN --------------------------------------------


def test_yunet_scores_stay_in_the_unit_interval_for_extreme_heads(k):
    heads = np.array([-3e38, -1.0, 0.0, 0.25, 1.0, 2.0, 3e38], np.float32)
    out = k.yunet_scores(heads, heads[::-1].copy())
    assert np.all(np.isfinite(out)) and np.all((out >= 0) & (out <= 1))
    with pytest.raises(ValueError, match="NaN or infinity"):
        k.yunet_scores([np.nan], [0.5])
