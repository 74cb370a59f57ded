"""The image kernels against the idiomatic OpenCV / numpy way of doing the same thing."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from _levels import each_level, simd

from fastfer.backend.reference.preprocess import FIVE_POINT_TEMPLATE_112

# --- detector input: resize + colour swap + float + NCHW (issue bar: >= 2x, 1920x1080 -> 640) ----
# Long side 600 has fractional sampling positions on both axes (no zero-weight shortcut); 0 keeps
# the 640x480 frame as it is (the kernel only converts; the baseline is blobFromImage alone).
DETECTOR_CASES = {
    "1920x1080 -> long side 640, NCHW float32": ("frame_1080p", 640),
    "1920x1080 -> long side 600 (fractional scale)": ("frame_1080p", 600),
    "640x480 as is, NCHW float32": ("frame_vga", 0),
}


@pytest.mark.parametrize("case", DETECTOR_CASES)
def test_detector_input_baseline(benchmark, request, case):
    frame_name, long_side = DETECTOR_CASES[case]
    frame = request.getfixturevalue(frame_name)
    benchmark.group = f"detector_input {case}"
    h, w = frame.shape[:2]
    scale = min(1.0, long_side / max(h, w)) if long_side else 1.0
    size = (round(w * scale), round(h * scale))

    def run():
        small = cv2.resize(frame, size, interpolation=cv2.INTER_LINEAR) if scale < 1 else frame
        return cv2.dnn.blobFromImage(small, 1.0, None, (0, 0, 0), swapRB=True)

    assert benchmark(run).shape == (1, 3, size[1], size[0])


@pytest.mark.parametrize("case", DETECTOR_CASES)
@each_level
def test_detector_input(benchmark, request, case, level):
    frame_name, long_side = DETECTOR_CASES[case]
    frame = request.getfixturevalue(frame_name)
    benchmark.group = f"detector_input {case}"
    with simd(level) as core:
        tensor, scale = benchmark(core.detector_input, frame, long_side)
    assert tensor.shape[2] % 32 == 0 and tensor.shape[3] % 32 == 0
    assert max(tensor.shape[2:]) <= (long_side or max(frame.shape)) + 31


# --- resize and grey ---------------------------------------------------------------------------

RESIZE_SIZES = [(640, 360), (701, 394)]  # exact 1/3, and a fractional scale


@pytest.mark.parametrize("size", RESIZE_SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_resize_baseline(benchmark, frame_1080p, size):
    benchmark.group = f"resize 1920x1080x3 -> {size[0]}x{size[1]} uint8"
    out = benchmark(cv2.resize, frame_1080p, size, interpolation=cv2.INTER_LINEAR)
    assert out.shape == (size[1], size[0], 3)


@pytest.mark.parametrize("size", RESIZE_SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@each_level
def test_resize(benchmark, frame_1080p, size, level):
    benchmark.group = f"resize 1920x1080x3 -> {size[0]}x{size[1]} uint8"
    with simd(level) as core:
        assert benchmark(core.resize, frame_1080p, *size).shape == (size[1], size[0], 3)


@pytest.mark.benchmark(group="to_gray 1920x1080 BGR")
def test_to_gray_baseline(benchmark, frame_1080p):
    assert benchmark(cv2.cvtColor, frame_1080p, cv2.COLOR_BGR2GRAY).shape == (1080, 1920)


@pytest.mark.benchmark(group="to_gray 1920x1080 BGR")
@each_level
def test_to_gray(benchmark, frame_1080p, level):
    with simd(level) as core:
        assert benchmark(core.to_gray, frame_1080p).shape == (1080, 1920)


# --- face input: 16 faces of a 1080p frame -> 16x1x64x64 grey in [-1, 1] -----------------------


def _face_boxes(n: int = 16) -> np.ndarray:
    rng = np.random.default_rng(3)
    xy = rng.uniform(0, 1700, (n, 2)) * [1, 0.5]
    size = rng.uniform(40, 200, (n, 1))
    return np.hstack([xy, xy + size])


def _face_landmarks() -> np.ndarray:
    """The 5-point template placed in each of the boxes above."""
    boxes = _face_boxes()
    return boxes[:, None, :2] + FIVE_POINT_TEMPLATE_112[None] / 112 * (boxes[:, 2:3, None] - boxes[:, 0:1, None])


@pytest.mark.benchmark(group="face_input 16 boxes -> 16x1x64x64 grey, normalised")
def test_face_input_boxes_baseline(benchmark, frame_1080p):
    boxes = _face_boxes()

    def run():
        crops = []
        for x1, y1, x2, y2 in boxes:
            side = max(x2 - x1, y2 - y1)
            cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
            s = side / 64
            m = np.array([[s, 0, cx - side / 2 + 0.5 * s - 0.5], [0, s, cy - side / 2 + 0.5 * s - 0.5]])
            crop = cv2.warpAffine(
                frame_1080p, m, (64, 64), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_REPLICATE
            )
            crops.append(cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY))
        return ((np.stack(crops).astype(np.float32) - 127.5) / 127.5)[:, None]

    assert benchmark(run).shape == (16, 1, 64, 64)


@pytest.mark.benchmark(group="face_input 16 boxes -> 16x1x64x64 grey, normalised")
@each_level
def test_face_input_boxes(benchmark, frame_1080p, level):
    boxes = _face_boxes()
    with simd(level) as core:
        out = benchmark(core.face_input, frame_1080p, boxes, size=64, gray=True, mean=127.5, scale=1 / 127.5)
    assert out.shape == (16, 1, 64, 64)


@pytest.mark.benchmark(group="face_input 16 faces aligned by 5 landmarks -> 16x3x112x112")
def test_face_input_align_baseline(benchmark, frame_1080p):
    marks = _face_landmarks()

    def run():
        crops = []
        for pts in marks:
            m, _ = cv2.estimateAffinePartial2D(pts, FIVE_POINT_TEMPLATE_112, method=cv2.LMEDS)
            crops.append(cv2.warpAffine(frame_1080p, m, (112, 112), borderMode=cv2.BORDER_REPLICATE))
        return cv2.dnn.blobFromImages(crops, 1.0, None, (0, 0, 0), swapRB=True)

    assert benchmark(run).shape == (16, 3, 112, 112)


@pytest.mark.benchmark(group="face_input 16 faces aligned by 5 landmarks -> 16x3x112x112")
@each_level
def test_face_input_align(benchmark, frame_1080p, level):
    marks = _face_landmarks()
    with simd(level) as core:
        out = benchmark(core.face_input, frame_1080p, landmarks=marks, size=112)
    assert out.shape == (16, 3, 112, 112)
