"""Image kernels: resize, to_gray, detector_input, face_input, similarity_transform.

1. Native vs numpy twin: random inputs (hypothesis), run on every SIMD level the build and CPU
   offer. Bit-identical for resize, to_gray, detector_input and face_input by boxes; within one
   grey level (after normalisation) for face_input by landmarks; 1e-9 for similarity_transform.
   Non-contiguous inputs must give what their ``np.ascontiguousarray`` gives. These tests skip
   when ``fastfer._core`` is missing or ``FASTFER_BACKEND=python``.
2. Hand-checked cases against OpenCV and known geometry, on the active backend
   (``fastfer.backend.kernels``) and on the twin (``fastfer.backend.reference``).
3. Bad input: both backends raise the same exception types with meaningful messages.
4. Thread-safety smoke test: concurrent calls give the serial results.
"""

from __future__ import annotations

import concurrent.futures
import math

import cv2
import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings, strategies as st

from fastfer import backend
from fastfer.backend import kernels, reference
from fastfer.backend.reference.preprocess import FIVE_POINT_TEMPLATE_112

# --- backends and SIMD levels ---------------------------------------------------------------------

# The native module as the package chose it (None under FASTFER_BACKEND=python or without a build).
native = backend.native
NATIVE_SKIP_REASON = f"native-vs-numpy comparison skipped: {backend.native_error}"


@pytest.fixture(scope="module")
def simd_levels():
    """Every SIMD level of the native module (skips without it); restores the level in use."""
    if native is None:
        pytest.skip(NATIVE_SKIP_REASON)
    before = native.simd_level()
    try:
        yield list(native.available_simd_levels())
    finally:
        native.set_simd_level(before)


def on_every_level(levels, name, *args, **kwargs) -> dict:
    """``native.<name>(*args, **kwargs)`` on each SIMD level, keyed by level; restores the level
    in use afterwards."""
    before = native.simd_level()
    results = {}
    try:
        for level in levels:
            native.set_simd_level(level)
            results[level] = getattr(native, name)(*args, **kwargs)
    finally:
        native.set_simd_level(before)
    return results


@pytest.fixture(params=["active", "twin"])
def k(request):
    """The kernel module under test: the active backend (fastfer.backend.kernels) or the numpy twin."""
    return kernels if request.param == "active" else reference


PROPERTY = settings(
    max_examples=100,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


# --- helpers --------------------------------------------------------------------------------------


def assert_identical(got, want, what: str, c_contiguous: bool = False) -> None:
    """Same type, dtype, shape and bits (float32 compared as raw bits, so -0.0 != 0.0); with
    c_contiguous, `got` must also be C-contiguous (as every native result is)."""
    assert isinstance(got, np.ndarray), f"{what}: got {type(got).__name__}"
    assert got.dtype == want.dtype and got.shape == want.shape, (
        f"{what}: got {got.dtype}{got.shape}, want {want.dtype}{want.shape}"
    )
    assert got.flags.c_contiguous or not c_contiguous, f"{what}: result is not C-contiguous"
    g, w = np.ascontiguousarray(got), np.ascontiguousarray(want)
    if g.dtype.kind == "f":
        g, w = g.view(f"u{g.itemsize}"), w.view(f"u{w.itemsize}")
    bad = np.argwhere(g != w)
    if bad.size:
        first = tuple(int(i) for i in bad[0])
        raise AssertionError(
            f"{what}: {len(bad)} of {got.size} elements differ; first at {first}: "
            f"got {got[first]!r}, want {want[first]!r}"
        )


def assert_close(got, want, atol: float, what: str) -> None:
    assert got.dtype == want.dtype and got.shape == want.shape, (
        f"{what}: got {got.dtype}{got.shape}, want {want.dtype}{want.shape}"
    )
    diff = np.abs(got.astype(np.float64) - want.astype(np.float64))
    if diff.size and diff.max() > atol:
        worst = np.unravel_index(int(np.argmax(diff)), diff.shape)
        raise AssertionError(
            f"{what}: max difference {diff.max()} > {atol} at {worst}: got {got[worst]!r}, want {want[worst]!r}"
        )


def random_image(shape, seed=0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)


def gradient_image(h: int, w: int) -> np.ndarray:
    """A smooth BGR pattern (slopes of at most 2 grey levels per pixel): resampling rules that
    differ only in weight precision agree within a grey level or two on it."""
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    bgr = np.stack([x * 1.5, y * 2.0, 255.0 - 0.7 * x - 0.8 * y], axis=-1)
    return np.clip(np.rint(bgr), 0, 255).astype(np.uint8)


def normalise(values, mean, scale) -> np.ndarray:
    """(values - mean) * scale in float32, as both backends compute it."""
    return (np.asarray(values).astype(np.float32) - np.float32(mean)) * np.float32(scale)


VIEW_KINDS = (
    "contiguous",
    "row_window",
    "row_step",
    "step",
    "negative",
    "flipped_rows",
    "fortran",
    "transposed",
    "channel_subset",
)


def _inside_noise(img: np.ndarray, rng, shape: tuple, index) -> np.ndarray:
    """``img`` written at ``index`` of a larger noisy array of ``shape``, and the view there."""
    big = rng.integers(0, 256, shape, dtype=np.uint8)
    big[index] = img
    return big[index]


def _first_channels(img: np.ndarray, rng) -> np.ndarray:
    """The first C channels of a C+1-channel array, like img4[..., :3] (grey: channel 0 of two)."""
    h, w = img.shape[:2]
    if img.ndim == 2:
        return _inside_noise(img, rng, (h, w, 2), (..., 0))
    c = img.shape[2]
    return _inside_noise(img, rng, (h, w, c + 1), (..., slice(0, c)))


def as_view(img: np.ndarray, kind: str, seed: int) -> np.ndarray:
    """An array equal to ``img`` laid out as ``kind``; a view into a larger noisy array when the
    layout needs one (so reading outside the view would show)."""
    rng = np.random.default_rng(seed)
    h, w = img.shape[:2]
    tail = img.shape[2:]
    views = {
        "contiguous": lambda: img.copy(),
        # packed pixels, rows further apart than a row: read in place
        "row_window": lambda: _inside_noise(img, rng, (h + 3, w + 5) + tail, np.s_[1 : h + 1, 2 : w + 2]),
        # every other row: read in place
        "row_step": lambda: _inside_noise(img, rng, (2 * h, w) + tail, np.s_[::2]),
        # strided pixels
        "step": lambda: _inside_noise(img, rng, (2 * h, 3 * w) + tail, np.s_[::2, ::3]),
        # negative strides on both axes, like img[::-1, ::-2]
        "negative": lambda: _inside_noise(img, rng, (h, 2 * w) + tail, np.s_[::-1, ::-2]),
        "flipped_rows": lambda: img[::-1].copy()[::-1],
        "fortran": lambda: np.asfortranarray(img),
        "transposed": lambda: np.ascontiguousarray(img.swapaxes(0, 1)).swapaxes(0, 1),
        "channel_subset": lambda: _first_channels(img, rng),
    }
    assert set(views) == set(VIEW_KINDS)
    out = views[kind]()
    assert out.shape == img.shape and np.array_equal(out, img)
    return out


def sources(img: np.ndarray, view: np.ndarray):
    """(array, label) pairs the native kernel runs on: the view and the contiguous image."""
    return [(img, "contiguous"), (view, f"view strides={view.strides}")]


# --- strategies -----------------------------------------------------------------------------------

SMALL_SIDES = st.integers(1, 40)
EXTREME_SIZES = st.sampled_from([(1, 1), (1, 500), (500, 1), (2, 300), (300, 3), (1, 37), (37, 1)])
SIZES = st.one_of(st.tuples(SMALL_SIDES, SMALL_SIDES), EXTREME_SIZES)


@st.composite
def images(draw, channels, sizes=SIZES):
    """(contiguous image, an equal array in a random memory layout). channels: None = 2-D grey."""
    h, w = draw(sizes)
    c = draw(st.sampled_from(channels))
    seed = draw(st.integers(0, 2**32 - 1))
    shape = (h, w) if c is None else (h, w, c)
    img = random_image(shape, seed)
    if draw(st.sampled_from(["noise", "noise", "noise", "binary"])) == "binary":
        img = np.where(img < 128, 0, 255).astype(np.uint8)  # saturated values: overflow checks
    return img, as_view(img, draw(st.sampled_from(VIEW_KINDS)), seed + 1)


FINITE = dict(allow_nan=False, allow_infinity=False)
MEANS = st.one_of(st.sampled_from([0.0, 127.5, 104.0, 255.0]), st.floats(-300, 300, **FINITE))
SCALES = st.one_of(st.sampled_from([1.0, 1 / 255, 1 / 128, -1.0, 0.0]), st.floats(-10, 10, **FINITE))


def per_channel(values, channels: int):
    """A number, a 1-element list or one value per channel."""
    return st.one_of(
        values,
        st.lists(values, min_size=1, max_size=1),
        st.lists(values, min_size=channels, max_size=channels),
        st.lists(values, min_size=channels, max_size=channels).map(np.array),
    )


def max_abs_scale(scale) -> float:
    return float(np.max(np.abs(np.asarray(scale, np.float32))))


# === 1. native vs numpy twin ======================================================================

# --- resize ---


@PROPERTY
@given(pair=images(channels=(None, 1, 3, 4)), out=SIZES)
def test_resize_matches_twin(simd_levels, pair, out):
    img, view = pair
    out_h, out_w = out
    want = reference.resize(img, out_w, out_h)
    assert want.shape == (out_h, out_w) + img.shape[2:]
    for src, label in sources(img, view):
        for level, got in on_every_level(simd_levels, "resize", src, out_w, out_h).items():
            assert_identical(got, want, f"resize {label} {img.shape}->{out}, {level}", c_contiguous=True)


@PROPERTY
@given(pair=images(channels=(None, 1, 3, 4)))
def test_resize_of_a_view_equals_resize_of_its_copy_on_the_twin(pair):
    img, view = pair
    assert_identical(reference.resize(view, 7, 5), reference.resize(img, 7, 5), "twin on a view")


# --- to_gray ---


@PROPERTY
@given(pair=images(channels=(3, 4)), order=st.sampled_from(["bgr", "rgb"]))
def test_to_gray_matches_twin(simd_levels, pair, order):
    img, view = pair
    want = reference.to_gray(img, order)
    assert want.shape == img.shape[:2]
    for src, label in sources(img, view):
        for level, got in on_every_level(simd_levels, "to_gray", src, order).items():
            assert_identical(got, want, f"to_gray {label} {img.shape} {order}, {level}", c_contiguous=True)


# --- detector_input ---

DETECTOR_SIZES = st.one_of(
    st.tuples(st.integers(1, 70), st.integers(1, 70)), st.sampled_from([(1, 1), (1, 300), (300, 1), (3, 200)])
)


@st.composite
def detector_kwargs(draw, h: int, w: int):
    kwargs = {}
    mode = draw(st.sampled_from(["keep", "max_side", "fixed"]))
    if mode == "max_side":  # small, near the image size, or larger than it
        kwargs["max_side"] = draw(st.one_of(st.integers(1, 16), st.integers(1, 2 * max(h, w) + 8)))
    elif mode == "fixed":  # up- or down-scaling letterbox
        fixed = (draw(st.integers(1, 80)), draw(st.integers(1, 80)))
        kwargs["fixed_size"] = draw(st.sampled_from([fixed, list(fixed), np.array(fixed)]))
    kwargs["pad_multiple"] = draw(st.one_of(st.sampled_from([1, 7, 32]), st.integers(1, 64)))
    kwargs["channel_order"] = draw(st.sampled_from(["rgb", "bgr"]))
    kwargs["layout"] = draw(st.sampled_from(["nchw", "nhwc"]))
    kwargs["mean"] = draw(per_channel(MEANS, 3))
    kwargs["scale"] = draw(per_channel(SCALES, 3))
    return kwargs


@PROPERTY
@given(pair=images(channels=(3,), sizes=DETECTOR_SIZES), data=st.data())
def test_detector_input_matches_twin(simd_levels, pair, data):
    img, view = pair
    kwargs = data.draw(detector_kwargs(*img.shape[:2]), label="kwargs")
    want, want_scale = reference.detector_input(img, **kwargs)
    assert want.dtype == np.float32 and want.shape[0] == 1
    for src, label in sources(img, view):
        results = on_every_level(simd_levels, "detector_input", src, **kwargs)
        for level, (got, scale) in results.items():
            assert scale == want_scale, f"detector_input scale {level}: {scale!r} != {want_scale!r}"
            assert_identical(got, want, f"detector_input {label} {img.shape} {kwargs}, {level}", c_contiguous=True)


# --- face_input ---


@st.composite
def box_arrays(draw, h: int, w: int, n_max: int = 4):
    """(N, 4) boxes: inside, partly or fully outside the image, tiny or huge."""
    boxes = []
    for _ in range(draw(st.integers(0, n_max))):
        x1 = draw(st.one_of(st.floats(-1.5 * w - 5, 1.5 * w + 5, **FINITE), st.floats(-1e4, 1e4)))
        y1 = draw(st.one_of(st.floats(-1.5 * h - 5, 1.5 * h + 5, **FINITE), st.floats(-1e4, 1e4)))
        bw = draw(st.one_of(st.floats(1e-3, 1.0), st.floats(1.0, 2.0 * w + 10)))
        bh = draw(st.one_of(st.floats(1e-3, 1.0), st.floats(1.0, 2.0 * h + 10)))
        assume(x1 + bw > x1 and y1 + bh > y1)  # not swallowed by rounding
        boxes.append([x1, y1, x1 + bw, y1 + bh])
    arr = np.array(boxes, np.float64).reshape(-1, 4)
    form = draw(st.sampled_from(["float64", "float32", "list"]))
    if form == "float32":
        arr32 = arr.astype(np.float32)
        assume(np.all(arr32[:, 2] > arr32[:, 0]) and np.all(arr32[:, 3] > arr32[:, 1]))
        return arr32
    return arr.tolist() if form == "list" and len(arr) else arr


@st.composite
def face_kwargs(draw):
    gray = draw(st.booleans())
    c = 1 if gray else 3
    return dict(
        size=draw(st.one_of(st.just(1), st.integers(1, 40))),
        gray=gray,
        channel_order=draw(st.sampled_from(["rgb", "bgr"])),
        layout=draw(st.sampled_from(["nchw", "nhwc"])),
        mean=draw(per_channel(MEANS, c)),
        scale=draw(per_channel(SCALES, c)),
    )


FACE_SIZES = st.tuples(st.integers(1, 60), st.integers(1, 60))


@PROPERTY
@given(pair=images(channels=(3,), sizes=FACE_SIZES), kwargs=face_kwargs(), data=st.data())
def test_face_input_by_boxes_matches_twin(simd_levels, pair, kwargs, data):
    img, view = pair
    boxes = data.draw(box_arrays(*img.shape[:2]), label="boxes")
    kwargs = dict(
        kwargs,
        margin=data.draw(st.one_of(st.sampled_from([0.0, 0.1, 0.25]), st.floats(0.0, 2.0)), label="margin"),
        square=data.draw(st.booleans(), label="square"),
    )
    want = reference.face_input(img, boxes, **kwargs)
    n, C, S = len(boxes), 1 if kwargs["gray"] else 3, kwargs["size"]
    assert want.shape == ((n, C, S, S) if kwargs["layout"] == "nchw" else (n, S, S, C))
    for src, label in sources(img, view):
        for level, got in on_every_level(simd_levels, "face_input", src, boxes, **kwargs).items():
            assert_identical(got, want, f"face_input boxes {label} {img.shape}, {level}", c_contiguous=True)


def similar_points(template: np.ndarray, angle: float, zoom: float, shift, noise: float, seed: int):
    """template rotated by angle, scaled by zoom about its centroid, moved to shift, plus noise."""
    c, s = math.cos(angle), math.sin(angle)
    centred = template - template.mean(axis=0)
    rotated = centred @ np.array([[c, s], [-s, c]]) * zoom  # row vectors: R applied on the left
    jitter = np.random.default_rng(seed).normal(0.0, noise, template.shape)
    return rotated + np.asarray(shift) + jitter


@st.composite
def landmark_cases(draw, h: int, w: int, size: int):
    """(landmarks (N, K, 2), template or None): each face a noisy similar copy of the template."""
    seed = draw(st.integers(0, 2**32 - 1))
    if draw(st.booleans()):
        template, given_template = FIVE_POINT_TEMPLATE_112 * size / 112.0, None
    else:
        kpts = draw(st.integers(2, 6))
        template = np.random.default_rng(seed).uniform(0.0, size, (kpts, 2))
        assume(np.ptp(template, axis=0).max() > 0.5)
        given_template = template
    faces = []
    for i in range(draw(st.integers(0, 3))):
        faces.append(
            similar_points(
                template,
                angle=draw(st.floats(-math.pi, math.pi)),
                zoom=draw(st.floats(0.1, 4.0)),
                shift=(draw(st.floats(-0.5 * w, 1.5 * w)), draw(st.floats(-0.5 * h, 1.5 * h))),
                noise=draw(st.sampled_from([0.0, 0.0, 0.5, 2.0])),
                seed=seed + i,
            )
        )
    return np.array(faces, np.float64).reshape(-1, len(template), 2), given_template


@PROPERTY
@given(pair=images(channels=(3,), sizes=FACE_SIZES), kwargs=face_kwargs(), data=st.data())
def test_face_input_by_landmarks_matches_twin(simd_levels, pair, kwargs, data):
    img, view = pair
    landmarks, template = data.draw(landmark_cases(*img.shape[:2], kwargs["size"]), label="landmarks")
    try:
        want = reference.face_input(img, landmarks=landmarks, template=template, **kwargs)
    except ValueError:  # a (nearly) degenerate draw: the native kernel must refuse it too
        for level in simd_levels:
            with pytest.raises(ValueError):
                on_every_level([level], "face_input", img, landmarks=landmarks, template=template, **kwargs)
        return
    # Within one grey level after normalisation (plus float32 rounding of the normalisation).
    tol = max_abs_scale(kwargs["scale"]) + 1e-6 * (float(np.abs(want).max(initial=0.0)) + 1.0)
    for src, label in sources(img, view):
        results = on_every_level(simd_levels, "face_input", src, landmarks=landmarks, template=template, **kwargs)
        for level, got in results.items():
            assert_close(got, want, tol, f"face_input landmarks {label} {img.shape}, {level}")


@PROPERTY
@given(kpts=st.integers(2, 8), seed=st.integers(0, 2**32 - 1), spread=st.sampled_from([1e-3, 1.0, 100.0, 1000.0]))
def test_similarity_transform_matches_twin(simd_levels, kpts, seed, spread):
    rng = np.random.default_rng(seed)
    src, dst = rng.normal(0, spread, (kpts, 2)), rng.normal(0, spread, (kpts, 2)) + 50.0
    want = reference.similarity_transform(src, dst)
    assert want.shape == (2, 3) and want.dtype == np.float64
    for level, got in on_every_level(simd_levels, "similarity_transform", src, dst).items():
        assert got.shape == (2, 3) and got.dtype == np.float64
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-9, err_msg=level)


@pytest.mark.parametrize("gray", [False, True])
@pytest.mark.parametrize("layout", ["nchw", "nhwc"])
def test_empty_batch_matches_twin(simd_levels, gray, layout):
    img = random_image((9, 11, 3))
    c = 1 if gray else 3
    for kwargs in (dict(boxes=np.zeros((0, 4))), dict(landmarks=np.zeros((0, 5, 2)))):
        want = reference.face_input(img, size=16, gray=gray, layout=layout, **kwargs)
        assert want.shape == ((0, c, 16, 16) if layout == "nchw" else (0, 16, 16, c))
        for level, got in on_every_level(
            simd_levels, "face_input", img, size=16, gray=gray, layout=layout, **kwargs
        ).items():
            assert_identical(got, want, f"empty batch {kwargs}, {level}", c_contiguous=True)


def _one_row_views():
    row = random_image((1, 5, 3), seed=15)
    short = np.lib.stride_tricks.as_strided(
        np.concatenate([row.ravel(), row.ravel()]), shape=(1, 5, 3), strides=(5, 3, 1)
    )
    return [
        pytest.param(row[::-1], id="row[::-1]"),
        pytest.param(random_image((1, 2), seed=2)[::-1, ::-2], id="1x1-gray[::-1,::-2]"),
        pytest.param(short, id="row-stride-5"),
    ]


@pytest.mark.parametrize("name", ["resize", "to_gray", "detector_input", "face_input"])
@pytest.mark.parametrize("view", _one_row_views())
def test_single_row_image_with_a_short_row_stride(simd_levels, name, view):
    if view.ndim == 2 and name != "resize":
        view = np.repeat(view[..., None], 3, axis=2)[::-1]  # (1, 1, 3), row stride still negative
    # A one-row image whose row stride is below a row's bytes (numpy ignores the stride of a
    # length-1 axis, so such views are "contiguous" to numpy).
    assert view.shape[0] == 1 and view.strides[0] < view.shape[1] * (view.shape[2] if view.ndim == 3 else 1)
    args = {"resize": (4, 3), "to_gray": (), "detector_input": (), "face_input": ([[0, 0, 2, 1]],)}
    kwargs = {"size": 4} if name == "face_input" else {}
    want = getattr(reference, name)(np.ascontiguousarray(view), *args[name], **kwargs)
    for level, got in on_every_level(simd_levels, name, view, *args[name], **kwargs).items():
        got, want_ = (got[0], want[0]) if name == "detector_input" else (got, want)
        assert_identical(got, want_, f"{name} on a 1-row view, {level}")


# === 2. hand-checked cases, on the active backend and the twin ====================================

# --- resize ---


@pytest.mark.parametrize(
    "shape, out_w, out_h",
    [
        ((31, 47, 3), 20, 13),  # down, non-integer ratio
        ((20, 20), 40, 40),  # up 2x, grey 2-D
        ((20, 20, 1), 33, 27),  # up, one channel axis
        ((17, 9, 4), 5, 31),  # down in x, up in y
        ((64, 48, 3), 24, 32),  # exact 2x down (OpenCV switches to INTER_AREA: still within 1)
        ((10, 13, 3), 37, 29),  # up, odd
        ((1, 1, 3), 7, 5),  # from a single pixel
        ((100, 1), 3, 50),  # a single column
        ((33, 200, 4), 199, 34),  # nearly identity
    ],
)
def test_resize_close_to_opencv(k, shape, out_w, out_h):
    img = random_image(shape, seed=sum(shape))
    got = k.resize(img, out_w, out_h)
    assert got.dtype == np.uint8 and got.shape == (out_h, out_w) + shape[2:]
    want = cv2.resize(img, (out_w, out_h), interpolation=cv2.INTER_LINEAR).reshape(got.shape)
    assert_close(got, want, 1, f"resize {shape} -> {out_w}x{out_h} vs cv2")


@pytest.mark.parametrize("shape", [(1, 1), (1, 1, 3), (5, 7, 1), (13, 29, 3), (40, 3, 4), (2, 64)])
def test_resize_to_the_same_size_is_identity(k, shape):
    img = random_image(shape, seed=3)
    assert_identical(k.resize(img, shape[1], shape[0]), img, f"identity {shape}")


@pytest.mark.parametrize("value", [0, 1, 173, 255])
@pytest.mark.parametrize("channels", [None, 3, 4])
def test_resize_of_a_constant_image_stays_constant(k, value, channels):
    shape = (23, 41) if channels is None else (23, 41, channels)
    img = np.full(shape, value, np.uint8)
    for out_w, out_h in [(1, 1), (7, 90), (41, 23), (100, 3), (17, 11)]:
        out = k.resize(img, out_w, out_h)
        assert out.shape == (out_h, out_w) + shape[2:] and np.all(out == value)


# --- to_gray ---


@pytest.mark.parametrize("channels", [3, 4])
@pytest.mark.parametrize("order", ["bgr", "rgb"])
def test_to_gray_close_to_opencv(k, channels, order):
    img = random_image((37, 53, channels), seed=channels)
    codes = {
        ("bgr", 3): cv2.COLOR_BGR2GRAY,
        ("bgr", 4): cv2.COLOR_BGRA2GRAY,
        ("rgb", 3): cv2.COLOR_RGB2GRAY,
        ("rgb", 4): cv2.COLOR_RGBA2GRAY,
    }
    got = k.to_gray(img, order)
    assert got.dtype == np.uint8 and got.shape == (37, 53)
    assert_close(got, cv2.cvtColor(img, codes[order, channels]), 1, f"to_gray {order} vs cv2")


@pytest.mark.parametrize("channels", [3, 4])
def test_to_gray_pure_colours(k, channels):
    bgr = np.array([[[255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 255, 255], [0, 0, 0]]], np.uint8)
    img = np.concatenate([bgr, np.full((1, 5, channels - 3), 77, np.uint8)], axis=2)
    np.testing.assert_array_equal(k.to_gray(img), [[29, 150, 76, 255, 0]])
    np.testing.assert_array_equal(k.to_gray(img, "bgr"), [[29, 150, 76, 255, 0]])
    np.testing.assert_array_equal(k.to_gray(img, "rgb"), [[76, 150, 29, 255, 0]])


# --- detector_input ---

IMAGENET_MEAN_RGB = (123.675, 116.28, 103.53)
IMAGENET_SCALE_RGB = (1 / 58.395, 1 / 57.12, 1 / 57.375)


@pytest.fixture(scope="module")
def image_1080p():
    return random_image((1080, 1920, 3), seed=1080)


def test_detector_input_1080p_geometry_and_padding(k, image_1080p):
    t, s = k.detector_input(image_1080p, 640, mean=IMAGENET_MEAN_RGB, scale=IMAGENET_SCALE_RGB)
    assert t.shape == (1, 3, 384, 640) and t.dtype == np.float32 and t.flags.c_contiguous
    assert s == 1 / 3
    for c in range(3):
        pad = normalise(0, IMAGENET_MEAN_RGB[c], IMAGENET_SCALE_RGB[c])
        assert np.all(t[0, c, 360:, :] == pad), f"channel {c}: the last 24 rows are not padding"


def test_detector_input_content_is_resize_then_normalise(k, image_1080p):
    t, s = k.detector_input(image_1080p, 640, mean=IMAGENET_MEAN_RGB, scale=IMAGENET_SCALE_RGB)
    rgb = k.resize(image_1080p, 640, 360)[..., ::-1].astype(np.float32)
    mean, scale = np.array(IMAGENET_MEAN_RGB, np.float32), np.array(IMAGENET_SCALE_RGB, np.float32)
    want = (rgb - mean) * scale
    assert_identical(
        np.ascontiguousarray(t[0, :, :360].transpose(1, 2, 0)), want, "content vs the kernel's resize + normalisation"
    )
    # And against OpenCV's resize, within one grey level.
    plain, _ = k.detector_input(image_1080p, 640, channel_order="bgr")
    cv = cv2.resize(image_1080p, (640, 360), interpolation=cv2.INTER_LINEAR)
    assert_close(
        np.ascontiguousarray(plain[0, :, :360].transpose(1, 2, 0)), cv.astype(np.float32), 1, "content vs cv2.resize"
    )


def test_detector_input_channel_order(k):
    img = np.empty((10, 12, 3), np.uint8)
    img[...] = (10, 20, 200)  # BGR: mostly red
    rgb, _ = k.detector_input(img)
    bgr, _ = k.detector_input(img, channel_order="bgr")
    assert rgb.shape == bgr.shape == (1, 3, 32, 32)
    np.testing.assert_array_equal(rgb[0, :, :10, :12].reshape(3, -1).max(axis=1), [200, 20, 10])
    np.testing.assert_array_equal(rgb[0, :, :10, :12].reshape(3, -1).min(axis=1), [200, 20, 10])
    np.testing.assert_array_equal(bgr[0, :, :10, :12].reshape(3, -1).max(axis=1), [10, 20, 200])
    assert np.all(rgb[0, :, 10:, :] == 0) and np.all(rgb[0, :, :, 12:] == 0)


def test_detector_input_nhwc_is_nchw_transposed(k):
    img = random_image((45, 77, 3), seed=5)
    kwargs = dict(max_side=50, pad_multiple=7, mean=(1.0, 2.0, 3.0), scale=(0.5, -2.0, 0.25))
    nchw, s1 = k.detector_input(img, **kwargs)
    nhwc, s2 = k.detector_input(img, layout="nhwc", **kwargs)
    assert s1 == s2 and nhwc.shape == (1,) + nchw.shape[2:] + (3,)
    assert_identical(nhwc, np.ascontiguousarray(nchw.transpose(0, 2, 3, 1)), "nhwc vs nchw")


@pytest.mark.parametrize(
    "width, height, scale, content_w, content_h",
    [
        (200, 100, 0.64, 128, 64),  # down, wide: padded at the bottom
        (100, 200, 0.64, 64, 128),  # down, tall: padded on the right
        (50, 25, 2.56, 128, 64),  # up
        (128, 128, 1.0, 128, 128),  # exact fit
    ],
)
def test_detector_input_fixed_size_letterbox(k, width, height, scale, content_w, content_h):
    img = random_image((height, width, 3), seed=width)
    t, s = k.detector_input(img, fixed_size=(128, 128), mean=127.5, scale=1 / 128)
    assert t.shape == (1, 3, 128, 128)
    assert s == pytest.approx(scale, rel=1e-15)
    pad = normalise(0, 127.5, 1 / 128)
    assert np.all(t[0, :, content_h:, :] == pad) and np.all(t[0, :, :, content_w:] == pad)
    want = normalise(k.resize(img, content_w, content_h)[..., ::-1], 127.5, 1 / 128)
    assert_identical(
        np.ascontiguousarray(t[0, :, :content_h, :content_w].transpose(1, 2, 0)), want, "letterbox content vs resize"
    )


@pytest.mark.parametrize(
    "h, w, max_side, rect",
    [
        (600, 1000, 500, (200, 100, 400, 300)),  # scale 1/2
        (1080, 1920, 640, (300, 150, 600, 450)),  # scale 1/3
    ],
)
def test_detector_input_box_maps_back_through_scale(k, h, w, max_side, rect):
    x1, y1, x2, y2 = rect
    img = np.zeros((h, w, 3), np.uint8)
    img[y1:y2, x1:x2] = 255
    t, s = k.detector_input(img, max_side)
    ys, xs = np.nonzero(t[0, 0] > 127)
    found = np.array([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]) / s
    np.testing.assert_allclose(found, rect, atol=1e-9)


def test_detector_input_keeps_small_images(k):
    img = random_image((50, 70, 3), seed=9)
    for max_side in (0, 70, 1000):
        t, s = k.detector_input(img, max_side, channel_order="bgr", layout="nhwc", pad_multiple=1)
        assert s == 1.0 and t.shape == (1, 50, 70, 3)
        assert_identical(t[0], img.astype(np.float32), f"max_side={max_side}")


# --- face_input ---


def crop_sampling_map(box, margin, square, size) -> np.ndarray:
    """The box crop's sampling map (output pixel -> source pixel), from the docstring's rule."""
    x1, y1, x2, y2 = box
    w, h = x2 - x1, y2 - y1
    if square:
        w = h = max(w, h)
    w, h = w * (1 + 2 * margin), h * (1 + 2 * margin)
    # Output pixel centre u + 0.5 lies (u + 0.5) * w / S from the crop's left edge; source pixel
    # centres are at integer + 0.5 in edge coordinates.
    sx, sy = w / size, h / size
    return np.array(
        [[sx, 0.0, (x1 + x2) / 2 - w / 2 + 0.5 * sx - 0.5], [0.0, sy, (y1 + y2) / 2 - h / 2 + 0.5 * sy - 0.5]]
    )


@pytest.mark.parametrize(
    "box, margin, square",
    [
        ((30.0, 20.0, 90.0, 70.0), 0.0, True),
        ((30.0, 20.0, 90.0, 70.0), 0.0, False),
        ((33.3, 21.7, 61.2, 88.9), 0.2, True),
        ((-20.0, -10.0, 40.0, 60.0), 0.1, True),  # partly outside
        ((140.0, 100.0, 190.0, 135.0), 0.0, False),  # partly outside, bottom right
        ((200.0, 150.0, 230.0, 170.0), 0.0, True),  # fully outside
        ((50.2, 50.7, 50.9, 51.1), 0.0, True),  # smaller than a pixel
    ],
)
def test_face_input_box_matches_opencv_warp(k, box, margin, square):
    img = gradient_image(120, 160)
    S = 48
    got = k.face_input(img, [box], size=S, margin=margin, square=square, channel_order="bgr", layout="nhwc")
    assert got.shape == (1, S, S, 3) and got.dtype == np.float32
    m = crop_sampling_map(box, margin, square, S)
    want = cv2.warpAffine(
        img, m, (S, S), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_REPLICATE
    )
    assert_close(got[0], want.astype(np.float32), 2, f"face_input {box} vs cv2.warpAffine")


def test_face_input_gray_is_to_gray_of_the_colour_crop(k):
    img = random_image((60, 80, 3), seed=11)
    boxes = np.array([[10.5, 5.0, 50.0, 40.0], [-10.0, 30.0, 20.0, 70.0]])
    colour = k.face_input(img, boxes, size=32, channel_order="bgr", layout="nhwc")
    gray = k.face_input(img, boxes, size=32, gray=True, layout="nhwc")
    assert gray.shape == (2, 32, 32, 1)
    want = np.stack([k.to_gray(face.astype(np.uint8)) for face in colour])[..., None]
    assert_identical(gray, want.astype(np.float32), "gray crop vs to_gray of colour crop")


def test_face_input_layouts_and_order(k):
    img = random_image((40, 50, 3), seed=12)
    boxes = [[3.0, 4.0, 30.0, 35.0]]
    nchw = k.face_input(img, boxes, size=20, mean=(1, 2, 3), scale=(0.5, 0.25, 2.0))
    nhwc = k.face_input(img, boxes, size=20, mean=(1, 2, 3), scale=(0.5, 0.25, 2.0), layout="nhwc")
    assert_identical(nhwc, np.ascontiguousarray(nchw.transpose(0, 2, 3, 1)), "nhwc vs nchw")
    rgb = k.face_input(img, boxes, size=20)
    bgr = k.face_input(img, boxes, size=20, channel_order="bgr")
    assert_identical(rgb, np.ascontiguousarray(bgr[:, ::-1]), "rgb vs bgr reversed")


@pytest.mark.parametrize("side", [1, 2, 37, 64])
def test_face_input_whole_image_box_is_identity(k, side):
    img = random_image((side, side, 3), seed=side)
    got = k.face_input(img, np.array([[0.0, 0.0, side, side]]), size=side, channel_order="bgr", layout="nhwc")
    assert_identical(got[0], img.astype(np.float32), "whole-image box at image size")


def test_face_input_sub_box_at_its_size_is_a_plain_crop(k):
    img = random_image((40, 50, 3), seed=13)
    got = k.face_input(
        img,
        [[5.0, 7.0, 25.0, 27.0], [30.0, 1.0, 49.0, 39.0]],
        size=20,
        square=False,
        channel_order="bgr",
        layout="nhwc",
    )
    assert_identical(got[0], img[7:27, 5:25].astype(np.float32), "crop [7:27, 5:25]")
    assert got.shape == (2, 20, 20, 3)


def test_face_input_template_landmarks_are_identity(k):
    img = random_image((112, 112, 3), seed=112)
    got = k.face_input(img, landmarks=FIVE_POINT_TEMPLATE_112[None], size=112, channel_order="bgr", layout="nhwc")
    assert_identical(got[0], img.astype(np.float32), "landmarks = template at 112")
    big = random_image((224, 224, 3), seed=224)
    got = k.face_input(big, landmarks=FIVE_POINT_TEMPLATE_112[None] * 2, size=224, channel_order="bgr", layout="nhwc")
    assert_identical(got[0], big.astype(np.float32), "landmarks = template scaled to 224")


def test_face_input_rotated_landmarks_rotate_the_crop(k):
    S = 64
    img = random_image((S, S, 3), seed=64)
    t = FIVE_POINT_TEMPLATE_112 * S / 112
    # Sampling map (u, v) -> (x, y) = (S - 1 - v, u): the image turned 90° anticlockwise.
    landmarks = np.stack([S - 1 - t[:, 1], t[:, 0]], axis=1)
    got = k.face_input(img, landmarks=landmarks[None], size=S, channel_order="bgr", layout="nhwc")
    assert_identical(got[0], np.rot90(img).astype(np.float32), "90° rotation")


def test_face_input_custom_template_identity(k):
    img = random_image((30, 30, 3), seed=30)
    pts = np.array([[3.0, 4.0], [25.0, 7.5], [12.0, 22.0]])
    got = k.face_input(img, landmarks=pts[None], template=pts, size=30, channel_order="bgr", layout="nhwc")
    assert_identical(got[0], img.astype(np.float32), "custom template identity")


@pytest.mark.parametrize("gray", [False, True])
def test_face_input_empty_batch(k, gray):
    img = random_image((9, 11, 3))
    c = 1 if gray else 3
    out = k.face_input(img, np.zeros((0, 4)), size=24, gray=gray)
    assert out.shape == (0, c, 24, 24) and out.dtype == np.float32
    out = k.face_input(img, landmarks=np.zeros((0, 5, 2)), size=24, gray=gray, layout="nhwc")
    assert out.shape == (0, 24, 24, c) and out.dtype == np.float32


# --- similarity_transform ---


@pytest.mark.parametrize("kpts", [2, 5])
def test_similarity_transform_recovers_a_known_transform(k, kpts):
    src = FIVE_POINT_TEMPLATE_112[:kpts]
    angle, zoom, tx, ty = 0.7, 1.8, 12.5, -3.25
    c, s = zoom * math.cos(angle), zoom * math.sin(angle)
    want = np.array([[c, -s, tx], [s, c, ty]])
    dst = src @ want[:, :2].T + want[:, 2]
    got = k.similarity_transform(src, dst)
    assert got.shape == (2, 3) and got.dtype == np.float64
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-9)


def test_similarity_transform_has_no_reflection(k):
    src = FIVE_POINT_TEMPLATE_112
    mirrored = src * [-1.0, 1.0] + [200.0, 0.0]
    for dst in (mirrored, src * 0.5 + 3.0):
        m = k.similarity_transform(src, dst)
        assert m[0, 0] == m[1, 1] and m[0, 1] == -m[1, 0]
        assert m[0, 0] * m[1, 1] - m[0, 1] * m[1, 0] >= 0.0
    m = k.similarity_transform(src, src * 0.5 + 3.0)
    np.testing.assert_allclose(m, [[0.5, 0.0, 3.0], [0.0, 0.5, 3.0]], rtol=0, atol=1e-9)


# --- output memory layout ---


@pytest.mark.parametrize("layout", ["contiguous", "fortran", "negative"])
@pytest.mark.parametrize("name", ["resize", "resize-gray", "to_gray", "detector_input", "face_input"])
def test_results_are_new_c_contiguous_arrays(k, name, layout):
    img = as_view(random_image((13, 29, 3), seed=29), layout, seed=1)
    calls = {
        "resize": lambda: [k.resize(img, 7, 5), k.resize(img, 29, 13), k.resize(img, 40, 20)],
        "resize-gray": lambda: [k.resize(img[..., 1], 7, 5), k.resize(img[..., 1], 29, 13)],
        "to_gray": lambda: [k.to_gray(img), k.to_gray(img, "rgb")],
        "detector_input": lambda: [k.detector_input(img, layout=lay)[0] for lay in ("nchw", "nhwc")],
        "face_input": lambda: [
            k.face_input(img, [[1.0, 2.0, 9.0, 8.0]], size=6, layout=lay, gray=g)
            for lay in ("nchw", "nhwc")
            for g in (False, True)
        ],
    }
    for out in calls[name]():
        assert out.flags.c_contiguous
        assert not np.shares_memory(out, img)


# === 3. bad input =================================================================================

IMG = np.zeros((8, 8, 3), np.uint8)
BOX = np.array([[1.0, 1.0, 6.0, 6.0]])
LMK = FIVE_POINT_TEMPLATE_112[None] / 16  # one face, inside IMG


def _bad_image_cases():
    """Every kernel called with each bad image: (id, exception, message pattern, call)."""
    bad_images = [
        ("float32", IMG.astype(np.float32), TypeError, "dtype"),
        ("int16", IMG.astype(np.int16), TypeError, "dtype"),
        ("bool", IMG.astype(bool), TypeError, "dtype"),
        ("list", IMG.tolist(), TypeError, "numpy array"),
        ("None", None, TypeError, "numpy array"),
        ("1-D", np.zeros(5, np.uint8), ValueError, "shape"),
        ("4-D", np.zeros((2, 2, 2, 3), np.uint8), ValueError, "shape"),
        ("0x5x3", np.zeros((0, 5, 3), np.uint8), ValueError, "non-empty"),
        ("5x0x3", np.zeros((5, 0, 3), np.uint8), ValueError, "non-empty"),
        ("5x5x0", np.zeros((5, 5, 0), np.uint8), ValueError, "non-empty"),
        ("5-channels", np.zeros((4, 4, 5), np.uint8), ValueError, "channels"),
    ]
    cases = []
    for label, bad, exc, match in bad_images:
        cases += [
            (f"resize-{label}", exc, match, lambda k, bad=bad: k.resize(bad, 4, 4)),
            (f"to_gray-{label}", exc, match, lambda k, bad=bad: k.to_gray(bad)),
            (f"detector_input-{label}", exc, match, lambda k, bad=bad: k.detector_input(bad)),
            (f"face_input-{label}", exc, match, lambda k, bad=bad: k.face_input(bad, BOX, size=4)),
        ]
    return cases


BAD_CALLS = [
    # channel counts per kernel
    ("detector_input-1-channel", ValueError, "channels", lambda k: k.detector_input(np.zeros((4, 4, 1), np.uint8))),
    ("detector_input-gray-2-D", ValueError, "channels", lambda k: k.detector_input(np.zeros((4, 4), np.uint8))),
    ("detector_input-4-channels", ValueError, "channels", lambda k: k.detector_input(np.zeros((4, 4, 4), np.uint8))),
    (
        "face_input-4-channels",
        ValueError,
        "channels",
        lambda k: k.face_input(np.zeros((4, 4, 4), np.uint8), BOX, size=4),
    ),
    ("to_gray-1-channel", ValueError, "channels", lambda k: k.to_gray(np.zeros((4, 4, 1), np.uint8))),
    ("to_gray-2-D", ValueError, "channels", lambda k: k.to_gray(np.zeros((4, 4), np.uint8))),
    # sizes
    ("resize-width-0", ValueError, "width", lambda k: k.resize(IMG, 0, 4)),
    ("resize-width-negative", ValueError, "width", lambda k: k.resize(IMG, -3, 4)),
    ("resize-height-0", ValueError, "height", lambda k: k.resize(IMG, 4, 0)),
    ("resize-height-negative", ValueError, "height", lambda k: k.resize(IMG, 4, -1)),
    ("resize-width-huge", ValueError, "width", lambda k: k.resize(IMG, (1 << 20) + 1, 4)),
    ("resize-width-float", TypeError, "integer|incompatible", lambda k: k.resize(IMG, 4.5, 4)),
    ("face_input-size-0", ValueError, "size", lambda k: k.face_input(IMG, BOX, size=0)),
    ("face_input-size-5000", ValueError, "size", lambda k: k.face_input(IMG, BOX, size=5000)),
    ("detector_input-max_side-negative", ValueError, "max_side", lambda k: k.detector_input(IMG, -1)),
    (
        "detector_input-tensor-too-large",
        ValueError,
        "65536",
        lambda k: k.detector_input(np.zeros((1, 70000, 3), np.uint8)),
    ),
    # boxes
    ("box-nan", ValueError, "NaN", lambda k: k.face_input(IMG, [[1.0, np.nan, 5.0, 5.0]], size=4)),
    ("box-inf", ValueError, "infinity", lambda k: k.face_input(IMG, [[1.0, 1.0, np.inf, 5.0]], size=4)),
    ("box-x-inverted", ValueError, "x2 > x1", lambda k: k.face_input(IMG, [[5.0, 1.0, 1.0, 5.0]], size=4)),
    ("box-y-inverted", ValueError, "y2 > y1", lambda k: k.face_input(IMG, [[1.0, 5.0, 5.0, 1.0]], size=4)),
    ("box-zero-width", ValueError, "x2 > x1", lambda k: k.face_input(IMG, [[3.0, 1.0, 3.0, 5.0]], size=4)),
    ("box-shape-N3", ValueError, "shape", lambda k: k.face_input(IMG, np.ones((2, 3)), size=4)),
    ("box-shape-1-D", ValueError, "shape", lambda k: k.face_input(IMG, [1.0, 1.0, 5.0, 5.0], size=4)),
    ("box-strings", TypeError, "numeric", lambda k: k.face_input(IMG, [["a", "b", "c", "d"]], size=4)),
    ("margin-negative", ValueError, "margin", lambda k: k.face_input(IMG, BOX, size=4, margin=-0.1)),
    ("margin-nan", ValueError, "margin", lambda k: k.face_input(IMG, BOX, size=4, margin=float("nan"))),
    # landmarks
    ("landmarks-nan", ValueError, "NaN", lambda k: k.face_input(IMG, landmarks=np.where(LMK > 3, np.nan, LMK), size=4)),
    ("landmarks-inf", ValueError, "infinity", lambda k: k.face_input(IMG, landmarks=LMK + [[[np.inf, 0.0]]], size=4)),
    (
        "landmarks-coincide",
        ValueError,
        "coincide",
        lambda k: k.face_input(IMG, landmarks=np.full((1, 5, 2), 3.0), size=4),
    ),
    ("landmarks-shape", ValueError, "shape", lambda k: k.face_input(IMG, landmarks=np.ones((1, 5, 3)), size=4)),
    (
        "landmarks-4-points-default-template",
        ValueError,
        "template",
        lambda k: k.face_input(IMG, landmarks=LMK[:, :4], size=4),
    ),
    (
        "landmarks-template-shape",
        ValueError,
        "shape",
        lambda k: k.face_input(IMG, landmarks=LMK, template=np.ones((4, 2)), size=4),
    ),
    (
        "landmarks-1-point",
        ValueError,
        "2 points",
        lambda k: k.face_input(IMG, landmarks=LMK[:, :1], template=[[1.0, 1.0]], size=4),
    ),
    (
        "template-coincide-singular",
        ValueError,
        "singular",
        lambda k: k.face_input(IMG, landmarks=LMK, template=np.full((5, 2), 2.0), size=4),
    ),
    ("boxes-and-landmarks", ValueError, "exactly one", lambda k: k.face_input(IMG, BOX, LMK, size=4)),
    ("neither-boxes-nor-landmarks", ValueError, "exactly one", lambda k: k.face_input(IMG, size=4)),
    # similarity_transform
    (
        "similarity-coincide",
        ValueError,
        "coincide",
        lambda k: k.similarity_transform(np.ones((3, 2)), np.zeros((3, 2))),
    ),
    ("similarity-1-point", ValueError, "2 points", lambda k: k.similarity_transform([[1.0, 2.0]], [[3.0, 4.0]])),
    (
        "similarity-shape-mismatch",
        ValueError,
        "shape",
        lambda k: k.similarity_transform(np.ones((3, 2)), np.ones((4, 2))),
    ),
    (
        "similarity-nan",
        ValueError,
        "NaN",
        lambda k: k.similarity_transform([[0.0, 0.0], [1.0, np.nan]], np.ones((2, 2))),
    ),
    # option strings
    ("to_gray-order", ValueError, "channel_order", lambda k: k.to_gray(IMG, "RGB")),
    ("detector_input-order", ValueError, "channel_order", lambda k: k.detector_input(IMG, channel_order="gbr")),
    ("face_input-order", ValueError, "channel_order", lambda k: k.face_input(IMG, BOX, size=4, channel_order="")),
    ("detector_input-layout", ValueError, "layout", lambda k: k.detector_input(IMG, layout="NCHW")),
    ("face_input-layout", ValueError, "layout", lambda k: k.face_input(IMG, BOX, size=4, layout="chw")),
    # mean / scale
    ("detector_input-mean-2", ValueError, "mean", lambda k: k.detector_input(IMG, mean=(1.0, 2.0))),
    ("detector_input-scale-4", ValueError, "scale", lambda k: k.detector_input(IMG, scale=(1.0, 2.0, 3.0, 4.0))),
    ("detector_input-mean-nan", ValueError, "NaN", lambda k: k.detector_input(IMG, mean=float("nan"))),
    ("detector_input-scale-inf", ValueError, "infinity", lambda k: k.detector_input(IMG, scale=[1.0, np.inf, 1.0])),
    ("face_input-mean-2", ValueError, "mean", lambda k: k.face_input(IMG, BOX, size=4, mean=[1.0, 2.0])),
    ("face_input-gray-mean-3", ValueError, "mean", lambda k: k.face_input(IMG, BOX, size=4, gray=True, mean=[1, 2, 3])),
    ("face_input-scale-2-D", ValueError, "scale", lambda k: k.face_input(IMG, BOX, size=4, scale=np.ones((3, 1)))),
    # detector geometry
    ("fixed_size-and-max_side", ValueError, "either", lambda k: k.detector_input(IMG, 320, fixed_size=(64, 64))),
    ("fixed_size-non-integer", ValueError, "integers", lambda k: k.detector_input(IMG, fixed_size=(64.5, 64))),
    ("fixed_size-zero", ValueError, "fixed_size", lambda k: k.detector_input(IMG, fixed_size=(0, 64))),
    ("fixed_size-3-values", ValueError, "shape", lambda k: k.detector_input(IMG, fixed_size=(64, 64, 3))),
    ("fixed_size-nan", ValueError, "NaN", lambda k: k.detector_input(IMG, fixed_size=(np.nan, 64))),
    ("pad_multiple-0", ValueError, "pad_multiple", lambda k: k.detector_input(IMG, pad_multiple=0)),
    ("pad_multiple-negative", ValueError, "pad_multiple", lambda k: k.detector_input(IMG, pad_multiple=-32)),
]


@pytest.mark.parametrize(
    "exc, match, call",
    [pytest.param(exc, match, call, id=name) for name, exc, match, call in _bad_image_cases() + BAD_CALLS],
)
def test_bad_input_raises(k, exc, match, call):
    with pytest.raises(exc, match=match):
        call(k)


# === 4. thread safety =============================================================================


def test_concurrent_calls_match_serial(k):
    rng = np.random.default_rng(4)
    images_ = [rng.integers(0, 256, (240 + 16 * i, 320 + 8 * i, 3), dtype=np.uint8) for i in range(8)]
    boxes = np.array([[20.0, 30.0, 120.0, 150.0], [-10.0, 100.0, 90.0, 260.0], [200, 10, 330, 90]])
    landmarks = np.stack([FIVE_POINT_TEMPLATE_112 + [60.0, 40.0], FIVE_POINT_TEMPLATE_112 * 1.3])

    def work(i):
        img = images_[i]
        return (
            k.detector_input(img, 256, mean=127.5, scale=1 / 128)[0],
            k.face_input(img, boxes, size=64, margin=0.1),
            k.face_input(img, landmarks=landmarks, size=112, gray=True),
            k.resize(img, 200, 150),
        )

    serial = [work(i) for i in range(len(images_))]
    order = list(range(len(images_))) * 3
    with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(work, order))
    for i, got in zip(order, results):
        for g, want, what in zip(
            got, serial[i], ("detector_input", "face_input boxes", "face_input landmarks", "resize")
        ):
            assert_identical(g, want, f"{what} image {i} in a thread")
