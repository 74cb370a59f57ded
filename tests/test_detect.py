"""Detection kernels: anchors, box/landmark decoding, NMS.

Every hand-checked case runs on both backends (the native ``fastfer._core`` and the numpy twin
``fastfer.backend.reference``); the property tests hold the two side by side on random inputs, on every
SIMD level the build and CPU offer, and hold both against an obvious O(n^2) NMS written below.
"""

from __future__ import annotations

import contextlib
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from fastfer import backend
from fastfer.backend import reference

# The native module as the package chose it (None under FASTFER_BACKEND=python or without a build).
native = backend.native
needs_native = pytest.mark.skipif(native is None, reason=f"native kernels not in use: {backend.native_error}")

BACKENDS = [
    pytest.param("native", marks=needs_native),
    pytest.param("python"),
]


@pytest.fixture(params=BACKENDS)
def k(request):
    """The kernel module under test: fastfer._core or fastfer.backend.reference."""
    return native if request.param == "native" else reference


@contextlib.contextmanager
def simd_level(name):
    """Run the native kernels on one SIMD level, restoring the level in use afterwards."""
    before = native.simd_level()
    native.set_simd_level(name)
    try:
        yield
    finally:
        native.set_simd_level(before)


def simd_levels():
    return list(native.available_simd_levels()) if native is not None else []


RETINA_STEPS = [8, 16, 32]
RETINA_SIZES = [[16, 32], [64, 128], [256, 512]]


# --- anchors --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "height, width, steps, sizes, count",
    [
        (480, 640, RETINA_STEPS, RETINA_SIZES, 12_600),  # 60*80*2 + 30*40*2 + 15*20*2
        (128, 128, [8, 16], [[128, 128], [128] * 6], 896),  # 16*16*2 + 8*8*6
        (192, 192, [4], [[192]], 2_304),  # 48*48
        (100, 100, [32], [[10]], 16),  # ceil(100/32) = 4 per side
        (1, 1, [64], [[1, 2, 3]], 3),
    ],
)
def test_anchor_counts(k, height, width, steps, sizes, count):
    a = k.make_anchors(height, width, steps, sizes)
    assert a.dtype == np.float32 and a.shape == (count, 4) and a.flags.c_contiguous


def test_retinaface_anchor_values(k):
    a = k.make_anchors(480, 640, RETINA_STEPS, RETINA_SIZES)
    f = np.float32
    # Level 0 (stride 8), row 0, column 0: centre (0.5*8/640, 0.5*8/480), sizes 16 then 32.
    assert a[0].tolist() == [f(4 / 640), f(4 / 480), f(16 / 640), f(16 / 480)]
    assert a[1].tolist() == [f(4 / 640), f(4 / 480), f(32 / 640), f(32 / 480)]
    # Column 1: cx = 1.5*8/640 = 0.01875.
    assert a[2].tolist() == [f(12 / 640), f(4 / 480), f(16 / 640), f(16 / 480)]
    # Row 1 of level 0 starts after 80 columns * 2 sizes: cy = 1.5*8/480 = 0.025.
    assert a[160].tolist() == [f(4 / 640), f(12 / 480), f(16 / 640), f(16 / 480)]
    # Level 2 (stride 32) starts at 9600 + 2400: centre (16/640, 16/480), size 256.
    assert a[12_000].tolist() == [f(16 / 640), f(16 / 480), f(256 / 640), f(256 / 480)]
    # Last anchor: level 2, row 14, column 19, size 512: cx = 19.5*32/640 = 0.975,
    # cy = 14.5*32/480 = 0.9666..., w = 0.8, h = 1.0666...
    assert a[-1].tolist() == [f(0.975), f(464 / 480), f(0.8), f(512 / 480)]


def test_blazeface_anchor_values(k):
    a = k.make_anchors(128, 128, [8, 16], [[128, 128], [128] * 6])
    assert np.all(a[:, 2:] == 1.0)
    assert a[0, 0] == a[0, 1] == np.float32(1 / 32)  # 0.5*8/128
    assert a[512, 0] == a[512, 1] == np.float32(1 / 16)  # first anchor of the stride-16 level
    assert np.array_equal(a[512:518], np.repeat(a[512:513], 6, axis=0))
    assert a[-1, 0] == a[-1, 1] == np.float32(7.5 * 16 / 128)
    full = k.make_anchors(192, 192, [4], [[192]])
    assert full[0].tolist() == [np.float32(2 / 192), np.float32(2 / 192), 1.0, 1.0]
    assert full[-1, 0] == np.float32(47.5 * 4 / 192)


def test_anchor_offset_and_non_square(k):
    a = k.make_anchors(10, 20, [10], [[5.0]], offset=0.0)
    # 1 row x 2 columns; offset 0 puts the centres on the cell corners.
    assert a.tolist() == [[0.0, 0.0, 0.25, 0.5], [0.5, 0.0, 0.25, 0.5]]


def test_anchor_argument_types(k):
    ref = k.make_anchors(480, 640, RETINA_STEPS, RETINA_SIZES)
    other = k.make_anchors(
        np.int64(480), np.int32(640), (8, 16, 32), np.array(RETINA_SIZES, dtype=np.float64), offset=np.float32(0.5)
    )
    assert np.array_equal(ref, other)


@pytest.mark.parametrize(
    "args, kwargs",
    [
        ((0, 640, [8], [[16]]), {}),
        ((480, -1, [8], [[16]]), {}),
        ((480, 640, [8, 16], [[16]]), {}),  # lengths differ
        ((480, 640, [], []), {}),  # no level
        ((480, 640, [0], [[16]]), {}),  # stride 0
        ((480, 640, [-8], [[16]]), {}),
        ((480, 640, [8], [[]]), {}),  # empty level
        ((480, 640, [8], [[0.0]]), {}),
        ((480, 640, [8], [[-16]]), {}),
        ((480, 640, [8], [[float("nan")]]), {}),
        ((480, 640, [8], [[float("inf")]]), {}),
        ((480, 640, [8], [[16]]), {"offset": float("nan")}),
        ((100_000, 100_000, [1], [[1]]), {}),  # 1e10 anchors: refused before allocating
        ((2**40, 2**40, [1, 2], [[1], [1]]), {}),  # counts that overflow int64 are refused too
    ],
)
def test_anchor_bad_values(k, args, kwargs):
    with pytest.raises(ValueError):
        k.make_anchors(*args, **kwargs)


def test_anchor_limit(k):
    # 5,000 x 10,000 cells x 2 sizes = 100 million anchors (1.6 GB): refused by the count check.
    with pytest.raises(ValueError, match="too many anchors"):
        k.make_anchors(5_000, 10_000, [1], [[1.0, 1.0]])


@pytest.mark.parametrize(
    "args",
    [
        (480.0, 640, [8], [[16]]),
        (480, 640, [8.0], [[16]]),
        (480, 640, "8", [[16]]),
        (480, 640, ["8"], [[16]]),
        (480, 640, [8], [["16"]]),
        (480, 640, [8], [16]),  # a level that is not a list
        (480, 640, [8], "16"),
    ],
)
def test_anchor_bad_types(k, args):
    with pytest.raises(TypeError):
        k.make_anchors(*args)


def test_anchor_offset_type(k):
    with pytest.raises(TypeError):
        k.make_anchors(480, 640, [8], [[16]], offset="0.5")


# --- decoding -------------------------------------------------------------------------------------


def test_decode_boxes_by_hand(k):
    # prior (cx, cy, w, h) = (0.5, 0.5, 0.2, 0.4), variances (0.1, 0.2):
    #   cx = 0.5 + 1 * 0.1 * 0.2 = 0.52        cy = 0.5 + (-2) * 0.1 * 0.4 = 0.42
    #   w  = 0.2 * exp(0 * 0.2) = 0.2          h  = 0.4 * exp((ln 2 / 0.2) * 0.2) = 0.8
    #   -> (0.52 - 0.1, 0.42 - 0.4, 0.52 + 0.1, 0.42 + 0.4) = (0.42, 0.02, 0.62, 0.82)
    priors = np.array([[0.5, 0.5, 0.2, 0.4]], dtype=np.float32)
    deltas = np.array([[1.0, -2.0, 0.0, math.log(2) / 0.2]], dtype=np.float32)
    out = k.decode_boxes(deltas, priors)
    assert out.dtype == np.float32 and out.shape == (1, 4)
    np.testing.assert_allclose(out, [[0.42, 0.02, 0.62, 0.82]], rtol=1e-6, atol=1e-7)
    # Zero deltas give the prior itself as corners: (0.4, 0.3, 0.6, 0.7).
    np.testing.assert_allclose(k.decode_boxes(np.zeros((1, 4)), priors), [[0.4, 0.3, 0.6, 0.7]], rtol=1e-6)
    # variances (1, 1) in pixels: prior (100, 50, 20, 10), deltas (0.5, 0, 0, 0)
    #   cx = 100 + 0.5 * 20 = 110 -> (100, 45, 120, 55)
    out = k.decode_boxes([[0.5, 0, 0, 0]], [[100, 50, 20, 10]], variances=(1, 1))
    assert out.tolist() == [[100.0, 45.0, 120.0, 55.0]]


def test_decode_landmarks_by_hand(k):
    # prior (0.5, 0.5, 0.2, 0.4), variance 0.1:
    #   (0.5 + 1 * 0.1 * 0.2, 0.5 + 1 * 0.1 * 0.4) = (0.52, 0.54)
    #   (0.5 - 1 * 0.1 * 0.2, 0.5 + 0.5 * 0.1 * 0.4) = (0.48, 0.52)
    priors = np.array([[0.5, 0.5, 0.2, 0.4]], dtype=np.float32)
    out = k.decode_landmarks([[1.0, 1.0, -1.0, 0.5]], priors)
    assert out.dtype == np.float32 and out.shape == (1, 4)
    np.testing.assert_allclose(out, [[0.52, 0.54, 0.48, 0.52]], rtol=1e-6)
    # Five points, variance 1, pixel priors: point k = centre + d_k * size.
    d = np.tile([[1, -1]], (1, 5)).astype(np.float32)
    out = k.decode_landmarks(d, [[10, 20, 2, 4]], variance=1)
    assert out.shape == (1, 10)
    assert out.tolist() == [[12.0, 16.0] * 5]


def test_decode_dtypes_and_empty(k):
    priors = np.array([[0.5, 0.5, 0.2, 0.4], [0.1, 0.2, 0.3, 0.4]])
    deltas = np.array([[1, 2, 0, 1], [0, 0, 1, 0]], dtype=np.int32)
    np.testing.assert_allclose(
        k.decode_boxes(deltas, priors), k.decode_boxes(deltas.astype(np.float32), priors.astype(np.float32)), rtol=1e-6
    )
    assert k.decode_boxes([], []).shape == (0, 4)
    assert k.decode_boxes(np.zeros((0, 4)), np.zeros((0, 4))).dtype == np.float32
    assert k.decode_landmarks(np.zeros((0, 10)), []).shape == (0, 10)


@pytest.mark.parametrize(
    "call",
    [
        lambda k: k.decode_boxes(np.zeros((2, 3)), np.zeros((2, 4))),
        lambda k: k.decode_boxes(np.zeros((2, 4)), np.zeros((3, 4))),
        lambda k: k.decode_boxes(np.zeros(4), np.zeros(4)),
        lambda k: k.decode_boxes(np.zeros((1, 2, 4)), np.zeros((1, 4))),
        lambda k: k.decode_boxes([[np.nan, 0, 0, 0]], [[0, 0, 1, 1]]),
        lambda k: k.decode_boxes([[0, 0, 0, 0]], [[0, 0, np.inf, 1]]),
        lambda k: k.decode_boxes(np.zeros((1, 4)), np.zeros((1, 4)), variances=(0.1,)),
        lambda k: k.decode_boxes(np.zeros((1, 4)), np.zeros((1, 4)), variances=(0.1, 0.2, 0.3)),
        lambda k: k.decode_boxes(np.zeros((1, 4)), np.zeros((1, 4)), variances=(0.1, 0.0)),
        lambda k: k.decode_boxes(np.zeros((1, 4)), np.zeros((1, 4)), variances=(np.nan, 0.2)),
        lambda k: k.decode_landmarks(np.zeros((1, 3)), np.zeros((1, 4))),
        lambda k: k.decode_landmarks(np.zeros((1, 0)), np.zeros((1, 4))),
        lambda k: k.decode_landmarks(np.zeros(10), np.zeros((1, 4))),
        lambda k: k.decode_landmarks([], []),
        lambda k: k.decode_landmarks(np.zeros((2, 10)), np.zeros((1, 4))),
        lambda k: k.decode_landmarks(np.zeros((1, 10)), np.zeros((1, 4)), variance=-0.1),
        lambda k: k.decode_landmarks(np.full((1, 10), np.nan), np.zeros((1, 4))),
    ],
)
def test_decode_bad_values(k, call):
    with pytest.raises(ValueError):
        call(k)


@pytest.mark.parametrize(
    "call",
    [
        lambda k: k.decode_boxes([["a", "b", "c", "d"]], np.zeros((1, 4))),
        lambda k: k.decode_boxes(np.zeros((1, 4)), np.zeros((1, 4), dtype=bool)),
        lambda k: k.decode_boxes(np.zeros((1, 4)), np.zeros((1, 4)), variances=("a", "b")),
        lambda k: k.decode_landmarks(np.zeros((1, 10)), np.zeros((1, 4)), variance="0.1"),
        lambda k: k.decode_landmarks([["x", "y"]], np.zeros((1, 4))),
    ],
)
def test_decode_bad_types(k, call):
    with pytest.raises(TypeError):
        call(k)


# --- NMS: hand-checked ----------------------------------------------------------------------------


def test_nms_iou_equal_to_threshold_is_kept(k):
    # A = [0,0,10,10] (area 100), B = [0,0,10,5] (area 50): inter 50, union 100, IoU exactly 0.5.
    boxes = [[0, 0, 10, 10], [0, 0, 10, 5]]
    scores = [0.9, 0.8]
    assert k.nms(boxes, scores, 0.5).tolist() == [0, 1]  # 0.5 > 0.5 is false
    assert k.nms(boxes, scores, 0.49).tolist() == [0]  # 0.5 > 0.49
    out = k.nms(boxes, scores, 0.5)
    assert out.dtype == np.int64 and out.ndim == 1


def test_nms_one_third(k):
    # [0,0,2,2] and [1,0,3,2]: inter 1*2 = 2, union 4 + 4 - 2 = 6, IoU 1/3.
    boxes = [[0, 0, 2, 2], [1, 0, 3, 2]]
    assert k.nms(boxes, [0.5, 0.6], 0.3).tolist() == [1]
    assert k.nms(boxes, [0.5, 0.6], 0.34).tolist() == [1, 0]


def test_nms_suppressed_boxes_do_not_suppress(k):
    # A=[0,0,10,10] 0.9, B=[5,0,15,10] 0.8, C=[10,0,20,10] 0.7, given in the order C, A, B.
    # IoU(A,B) = 50/150 = 1/3, IoU(B,C) = 1/3, IoU(A,C) = 0 (they only touch).
    # At 0.3 A removes B; C overlaps only B, which was removed, so C stays: kept A, C.
    boxes = [[10, 0, 20, 10], [0, 0, 10, 10], [5, 0, 15, 10]]
    scores = [0.7, 0.9, 0.8]
    assert k.nms(boxes, scores, 0.3).tolist() == [1, 0]
    assert k.nms(boxes, scores, 0.4).tolist() == [1, 2, 0]
    # Threshold 0 removes any positive overlap but not touching edges.
    assert k.nms(boxes, scores, 0.0).tolist() == [1, 0]


def test_nms_ties_and_identical_boxes(k):
    b = [[1, 1, 5, 5]] * 4
    # Equal scores: the lowest index wins; identical boxes have IoU 1 > 0.5.
    assert k.nms(b, [0.5, 0.5, 0.5, 0.5], 0.5).tolist() == [0]
    assert k.nms(b, [0.1, 0.5, 0.5, 0.2], 0.5).tolist() == [1]
    # IoU can never exceed 1: threshold 1 keeps everything, in score order, ties by index.
    assert k.nms(b, [0.1, 0.5, 0.5, 0.2], 1.0).tolist() == [1, 2, 3, 0]


def test_nms_score_threshold_top_k_max_output(k):
    # Four disjoint boxes, so only the selection rules decide.
    boxes = [[0, 0, 1, 1], [2, 0, 3, 1], [4, 0, 5, 1], [6, 0, 7, 1]]
    scores = [0.2, 0.9, 0.5, 0.7]
    assert k.nms(boxes, scores, 0.5).tolist() == [1, 3, 2, 0]
    assert k.nms(boxes, scores, 0.5, score_threshold=0.5).tolist() == [1, 3, 2]  # >= kept
    assert k.nms(boxes, scores, 0.5, score_threshold=0.95).tolist() == []
    assert k.nms(boxes, scores, 0.5, top_k=2).tolist() == [1, 3]
    assert k.nms(boxes, scores, 0.5, max_output=3).tolist() == [1, 3, 2]
    assert k.nms(boxes, scores, 0.5, score_threshold=0.6, top_k=3, max_output=1).tolist() == [1]
    assert k.nms(boxes, scores, 0.5, top_k=10, max_output=10).tolist() == [1, 3, 2, 0]


def test_nms_top_k_limits_candidates_not_output(k):
    # top_k picks candidates before suppression: the 2 best overlap, so only 1 survives even though
    # a third, disjoint box exists.
    boxes = [[0, 0, 10, 10], [0, 0, 10, 10], [20, 20, 30, 30]]
    assert k.nms(boxes, [0.9, 0.8, 0.7], 0.5, top_k=2).tolist() == [0]
    # max_output counts kept boxes, after suppression.
    assert k.nms(boxes, [0.9, 0.8, 0.7], 0.5, max_output=2).tolist() == [0, 2]


def test_nms_zero_area_boxes(k):
    # A point and a line inside a box: intersection 0, so they neither suppress nor get suppressed.
    boxes = [[0, 0, 10, 10], [5, 5, 5, 5], [2, 0, 2, 10], [5, 5, 5, 5]]
    assert k.nms(boxes, [0.1, 0.9, 0.8, 0.7], 0.0).tolist() == [1, 2, 3, 0]


def test_nms_dtypes_empty_and_single(k):
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [50, 50, 60, 60]], dtype=np.int32)
    scores = np.array([0.5, 0.9, 0.1], dtype=np.float64)
    # IoU(0,1) = 81 / (100 + 100 - 81) = 0.68
    assert k.nms(boxes, scores, 0.5).tolist() == [1, 2]
    assert k.nms(boxes.astype(np.uint16), scores.astype(np.float16), 0.7).tolist() == [1, 0, 2]
    for empty in (k.nms([], [], 0.5), k.nms(np.zeros((0, 4)), np.zeros(0), 0.5)):
        assert empty.dtype == np.int64 and empty.shape == (0,)
    assert k.nms([[0, 0, 1, 1]], [0.3], 0.5).tolist() == [0]
    assert k.nms([[0, 0, 1, 1]], [0.3], 0.5, score_threshold=0.4).tolist() == []


def test_nms_does_not_modify_inputs(k):
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11]], dtype=np.float32)
    scores = np.array([0.5, 0.9], dtype=np.float32)
    b0, s0 = boxes.copy(), scores.copy()
    k.nms(boxes, scores, 0.5)
    assert np.array_equal(boxes, b0) and np.array_equal(scores, s0)


def test_nms_accepts_non_contiguous(k):
    big = np.array([[0, 0, 10, 10, 9], [1, 1, 11, 11, 9], [50, 50, 60, 60, 9]], dtype=np.float32)
    scores = np.array([0.5, 0.0, 0.9, 0.0, 0.1, 0.0], dtype=np.float32)[::2]
    assert k.nms(big[:, :4], scores, 0.5).tolist() == [1, 2]


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda k: k.nms([[0, 0, 1]], [1.0], 0.5), "boxes"),
        (lambda k: k.nms(np.zeros((1, 1, 4)), [1.0], 0.5), "boxes"),
        (lambda k: k.nms([0, 0, 1, 1], [1.0], 0.5), "boxes"),
        (lambda k: k.nms([[0, 0, np.nan, 1]], [1.0], 0.5), "boxes"),
        (lambda k: k.nms([[0, -np.inf, 1, 1]], [1.0], 0.5), "boxes"),
        # 1e300 is finite in float64 but inf in float32, the precision the kernels work in.
        (lambda k: k.nms([[0, 0, 1, 1], [0, 0, 1e300, 1]], [1.0, 1.0], 0.5), "boxes"),
        (lambda k: k.nms([[0, 0, 1, 1], [2, 0, 1, 1]], [1.0, 1.0], 0.5), "boxes"),  # x2 < x1
        (lambda k: k.nms([[0, 1, 1, 0]], [1.0], 0.5), "boxes"),  # y2 < y1
        (lambda k: k.nms([[0, 0, 1, 1]], [np.nan], 0.5), "scores"),
        (lambda k: k.nms([[0, 0, 1, 1]], [[1.0]], 0.5), "scores"),
        (lambda k: k.nms([[0, 0, 1, 1]], [1.0, 2.0], 0.5), "scores"),  # lengths differ
        (lambda k: k.nms([], [1.0], 0.5), "scores"),
        (lambda k: k.nms([[0, 0, 1, 1]], [1.0], -0.1), "iou_threshold"),
        (lambda k: k.nms([[0, 0, 1, 1]], [1.0], 1.01), "iou_threshold"),
        (lambda k: k.nms([[0, 0, 1, 1]], [1.0], float("nan")), "iou_threshold"),
        (lambda k: k.nms([[0, 0, 1, 1]], [1.0], 0.5, score_threshold=float("nan")), "score_threshold"),
        (lambda k: k.nms([[0, 0, 1, 1]], [1.0], 0.5, top_k=-1), "top_k"),
        (lambda k: k.nms([[0, 0, 1, 1]], [1.0], 0.5, max_output=-2), "max_output"),
        (lambda k: k.nms([], [], 0.5, top_k=-1), "top_k"),
    ],
)
def test_nms_bad_values(k, call, match):
    with pytest.raises(ValueError, match=match):
        call(k)


@pytest.mark.parametrize(
    "call",
    [
        lambda k: k.nms([["a", "b", "c", "d"]], [1.0], 0.5),
        lambda k: k.nms([[0, 0, 1, 1]], ["x"], 0.5),
        lambda k: k.nms(np.ones((1, 4), dtype=bool), [1.0], 0.5),
        lambda k: k.nms([[0, 0, 1, 1]], [1.0], "0.5"),
        lambda k: k.nms([[0, 0, 1, 1]], [1.0], 0.5, score_threshold="0.1"),
        lambda k: k.nms([[0, 0, 1, 1]], [1.0], 0.5, top_k=1.5),
        lambda k: k.nms([[0, 0, 1, 1]], [1.0], 0.5, max_output="3"),
    ],
)
def test_nms_bad_types(k, call):
    with pytest.raises(TypeError):
        call(k)


# --- NMS: against an obvious implementation, and native against numpy -----------------------------


def obvious_nms(boxes, scores, iou_threshold, score_threshold=None, top_k=0, max_output=0):
    """The definition, one pair at a time, in the float32 arithmetic both twins document."""
    b = np.asarray(boxes, dtype=np.float32)
    s = np.asarray(scores, dtype=np.float32)
    idx = [i for i in range(len(s)) if score_threshold is None or float(s[i]) >= score_threshold]
    idx.sort(key=lambda i: (-float(s[i]), i))
    if top_k:
        idx = idx[:top_k]
    t = np.float32(iou_threshold)
    zero = np.float32(0)

    def suppresses(i, j):
        x1, y1, x2, y2 = b[i]
        u1, v1, u2, v2 = b[j]
        w = max(min(x2, u2) - max(x1, u1), zero)
        h = max(min(y2, v2) - max(y1, v1), zero)
        inter = w * h
        union = ((x2 - x1) * (y2 - y1) + (u2 - u1) * (v2 - v1)) - inter
        return bool(inter > t * union)

    keep = []
    for j in idx:
        if max_output and len(keep) == max_output:
            break
        if not any(suppresses(i, j) for i in keep):
            keep.append(j)
    return keep


@st.composite
def nms_case(draw, max_boxes=40):
    """Boxes on a small integer grid (many overlaps, exact IoU ties, duplicates, zero areas) or
    with float coordinates, scores from a few values (ties) or floats, and random options."""
    n = draw(st.integers(0, max_boxes))
    grid = draw(st.booleans())
    if grid:
        coord = st.integers(0, 12).map(float)
    else:
        coord = st.floats(-100, 100, allow_nan=False, width=32)
    boxes = []
    for _ in range(n):
        x1, x2 = sorted((draw(coord), draw(coord)))
        y1, y2 = sorted((draw(coord), draw(coord)))
        boxes.append([x1, y1, x2, y2])
    if draw(st.booleans()):
        score = st.sampled_from([0.1, 0.5, 0.5, 0.9, 1.0])
    else:
        score = st.floats(0, 1, width=32)
    scores = [draw(score) for _ in range(n)]
    iou = draw(st.one_of(st.sampled_from([0.0, 0.1, 0.25, 1 / 3, 0.4, 0.5, 0.7, 1.0]), st.floats(0, 1)))
    score_threshold = draw(st.one_of(st.none(), st.floats(0, 1)))
    top_k = draw(st.integers(0, n + 2))
    max_output = draw(st.integers(0, n + 2))
    return (
        np.array(boxes, dtype=np.float32).reshape(n, 4),
        np.array(scores, dtype=np.float32),
        iou,
        score_threshold,
        top_k,
        max_output,
    )


PROPERTY = settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)


@PROPERTY
@given(nms_case())
def test_reference_nms_matches_obvious(case):
    boxes, scores, iou, score_threshold, top_k, max_output = case
    got = reference.nms(boxes, scores, iou, score_threshold, top_k, max_output)
    assert got.tolist() == obvious_nms(boxes, scores, iou, score_threshold, top_k, max_output)


@needs_native
@PROPERTY
@given(nms_case())
def test_native_nms_matches_reference_on_every_simd_level(case):
    boxes, scores, iou, score_threshold, top_k, max_output = case
    want = reference.nms(boxes, scores, iou, score_threshold=score_threshold, top_k=top_k, max_output=max_output)
    for level in simd_levels():
        with simd_level(level):
            got = native.nms(boxes, scores, iou, score_threshold=score_threshold, top_k=top_k, max_output=max_output)
        assert got.dtype == np.int64
        assert got.tolist() == want.tolist(), level


@needs_native
@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(0, 3000),
    seed=st.integers(0, 2**32 - 1),
    iou=st.floats(0, 1),
    spread=st.sampled_from([50.0, 300.0, 1000.0]),
)
def test_native_nms_matches_reference_many_boxes(n, seed, iou, spread):
    # Long rows exercise the vector bodies and their tails on every SIMD level.
    rng = np.random.default_rng(seed)
    centres = rng.uniform(0, spread, (n, 2))
    sizes = rng.uniform(10, 100, (n, 2))
    boxes = np.hstack([centres - sizes / 2, centres + sizes / 2]).astype(np.float32)
    scores = rng.choice(np.linspace(0, 1, 50), n).astype(np.float32)  # many ties
    want = reference.nms(boxes, scores, iou)
    for level in simd_levels():
        with simd_level(level):
            assert np.array_equal(native.nms(boxes, scores, iou), want), level


# --- decode and anchors: native against numpy -----------------------------------------------------


@needs_native
@settings(max_examples=100, deadline=None)
@given(
    n=st.integers(0, 300),
    points=st.integers(1, 6),
    seed=st.integers(0, 2**32 - 1),
    v0=st.floats(0.01, 2),
    v1=st.floats(0.01, 2),
)
def test_native_decode_matches_reference(n, points, seed, v0, v1):
    rng = np.random.default_rng(seed)
    priors = np.hstack([rng.uniform(0, 1, (n, 2)), rng.uniform(0.01, 1, (n, 2))]).astype(np.float32)
    deltas = rng.normal(0, 3, (n, 4)).astype(np.float32)
    np.testing.assert_allclose(
        native.decode_boxes(deltas, priors, (v0, v1)),
        reference.decode_boxes(deltas, priors, (v0, v1)),
        rtol=1e-6,
        atol=0,
    )
    marks = rng.normal(0, 3, (n, 2 * points)).astype(np.float32)
    np.testing.assert_allclose(
        native.decode_landmarks(marks, priors, v0), reference.decode_landmarks(marks, priors, v0), rtol=1e-6, atol=0
    )


@needs_native
@settings(max_examples=100, deadline=None)
@given(
    height=st.integers(1, 700),
    width=st.integers(1, 700),
    levels=st.lists(
        st.tuples(st.integers(1, 64), st.lists(st.floats(0.5, 600), min_size=1, max_size=4)), min_size=1, max_size=4
    ),
    offset=st.floats(-1, 2),
)
def test_native_anchors_match_reference(height, width, levels, offset):
    steps = [s for s, _ in levels]
    sizes = [m for _, m in levels]
    want = reference.make_anchors(height, width, steps, sizes, offset=offset)
    got = native.make_anchors(height, width, steps, sizes, offset=offset)
    assert got.dtype == np.float32 and got.shape == want.shape
    assert np.array_equal(got, want)


@needs_native
def test_native_signatures_match_reference():
    import inspect

    for name in ("make_anchors", "decode_boxes", "decode_landmarks", "nms"):
        ref_params = list(inspect.signature(getattr(reference, name)).parameters)
        doc = getattr(native, name).__doc__
        # pybind11 puts the signature on the first docstring line: name(arg: type, ...) -> ...
        for p in ref_params:
            assert f"{p}:" in doc.splitlines()[0], (name, p)


@needs_native
def test_native_simd_level_restored():
    before = native.simd_level()
    for level in simd_levels():
        with simd_level(level):
            assert native.simd_level() == level
    assert native.simd_level() == before
