"""Numpy twins of the native detection kernels: anchors, box/landmark decoding and NMS.

These docstrings document both twins: ``fastfer._core.<name>`` (C++, ``cpp/src/anchors.cpp``,
``decode.cpp``, ``nms.cpp``) takes the same arguments, has the same defaults, raises the same
exception types and returns the same results:

* ``make_anchors`` and ``nms``: identical (bit for bit, index for index).
* ``decode_boxes`` and ``decode_landmarks``: within 1e-6 relative. Both compute in float64 and
  round once to float32; only ``exp`` (libm in C++, numpy's own here) may differ in its last bit,
  which after rounding to float32 is almost always invisible.

Arrays may be of any integer or floating dtype (converted to float32, C order); other dtypes
(strings, bools, objects) raise ``TypeError``, wrong shapes and NaN/infinite values ``ValueError``.
"""

from __future__ import annotations

import math
from typing import Optional, Sequence

import numpy as np

from ._checks import int64_arg, numeric_array

#: The most anchors ``make_anchors`` will produce (a typo should fail, not allocate gigabytes).
MAX_ANCHORS = 50_000_000
#: The most candidates (boxes left after ``score_threshold`` and ``top_k``) one ``nms`` call takes:
#: greedy NMS is quadratic in them (disjoint boxes: ~0.3 s native at the limit; 10^6 took 340 s).
MAX_NMS_CANDIDATES = 1 << 15
#: Boxes must have a float32 area below 2^127 (half the float32 range): then the sum of two areas,
#: and so every IoU test, stays finite (an infinite union would make IoU NaN, and keep overlaps).
MAX_NMS_BOX_AREA = 2.0**127
_FLOAT32_MAX = float(np.finfo(np.float32).max)


# --- argument checks, mirroring cpp/bindings/arrays.cpp -----------------------------------------


def _float_array(obj, what: str, shape: tuple, finite: bool = True) -> np.ndarray:
    """``obj`` as a C-contiguous float32 array of ``shape`` (-1 = any size), like the binding's
    ``float_array``."""
    return numeric_array(obj, what, shape, np.float32, finite)


def _rows_or_empty(obj, columns: int):
    """An empty list / size-0 1-D array means "no rows": reshape it to (0, columns)."""
    a = np.asarray(obj)
    if a.ndim == 1 and a.shape[0] == 0:
        return a.reshape(0, columns)
    return a


def _real(x, what: str) -> float:
    """A Python float from a real number; strings and other non-numbers raise TypeError (the
    binding's double conversion accepts exactly the objects with ``__float__``/``__index__``)."""
    if isinstance(x, (str, bytes, bytearray)) or not (hasattr(type(x), "__float__") or hasattr(type(x), "__index__")):
        raise TypeError(f"{what}: expected a number, got {type(x).__name__}")
    return float(x)


def _int(x, what: str) -> int:
    """An int64 from an integer-like object: floats raise TypeError, integers beyond int64
    ValueError, as in the binding (``int64_arg``)."""
    return int64_arg(x, what)


def _same_rows(a: np.ndarray, a_name: str, b: np.ndarray, b_name: str) -> None:
    if a.shape[0] != b.shape[0]:
        raise ValueError(f"{a_name} and {b_name} must have the same number of rows, got {a.shape} and {b.shape}")


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


# --- anchors ------------------------------------------------------------------------------------


def _check_float32(v: float, what: str) -> None:
    if not abs(v) <= _FLOAT32_MAX:
        raise ValueError(f"anchors: {what} is {v}, outside the float32 range")


def _check_anchor_values(height: int, width: int, steps, levels, offset: float) -> None:
    """Every value the anchors hold must fit float32 (as ``check_anchor_values`` in C++): the
    centres grow with the cell index, so the first and last cells are the extremes."""
    for level, (s, sizes) in enumerate(zip(steps, levels)):
        fh, fw = _ceil_div(height, s), _ceil_div(width, s)
        for j in (0, fw - 1):
            _check_float32((float(j) + offset) * float(s) / float(width), f"centre x of level[{level}]")
        for i in (0, fh - 1):
            _check_float32((float(i) + offset) * float(s) / float(height), f"centre y of level[{level}]")
        for k, m in enumerate(sizes):
            _check_float32(m / float(width), f"min_sizes[{level}][{k}] / width")
            _check_float32(m / float(height), f"min_sizes[{level}][{k}] / height")


def make_anchors(
    height: int, width: int, steps: Sequence[int], min_sizes: Sequence[Sequence[float]], offset: float = 0.5
) -> np.ndarray:
    """Prior boxes of an SSD-style detector (RetinaFace, BlazeFace), float32 ``(A, 4)``.

    Each row is ``(cx, cy, w, h)`` normalised to the input size. For each level ``l`` with stride
    ``s = steps[l]`` the feature map has ``fh = ceil(height / s)`` rows and ``fw = ceil(width / s)``
    columns; rows are produced level by level, then feature-map row ``i``, column ``j``, and size
    ``m`` in ``min_sizes[l]``::

        cx = (j + offset) * s / width     cy = (i + offset) * s / height
        w  = m / width                    h  = m / height

    computed in float64 and rounded once to float32 (the native twin gives identical bits).

    Layouts of the shipped detectors::

        RetinaFace            steps [8, 16, 32], min_sizes [[16, 32], [64, 128], [256, 512]]
                              (640x480 -> 12,600 anchors; the input is padded to a multiple of 32)
        BlazeFace short, 128  steps [8, 16], min_sizes [[128, 128], [128] * 6]    -> 896, w = h = 1
        BlazeFace full, 192   steps [4], min_sizes [[192]]                        -> 2,304

    Args:
        height, width: the network input size in pixels, integers >= 1.
        steps: one integer stride >= 1 per level.
        min_sizes: per level, a non-empty list of anchor sizes in pixels (finite, > 0).
        offset: where inside its cell an anchor is centred (0.5 = the middle); finite.

    Raises:
        TypeError: a non-integer height/width/step, a non-numeric size or offset.
        ValueError: height or width < 1, ``len(steps) != len(min_sizes)``, no level, a step < 1,
            an empty level, a size that is not finite and > 0, a non-finite offset, or more than
            50 million anchors (``MAX_ANCHORS``; checked before anything is allocated), an integer
            beyond int64, or a layout whose centres or sizes (normalised) do not fit float32.
    """
    height, width, steps, levels, offset = _anchor_layout(height, width, steps, min_sizes, offset)
    _check_anchor_count(height, width, steps, levels)
    _check_anchor_values(height, width, steps, levels, offset)
    parts = [_level_anchors(height, width, step, sizes, offset) for step, sizes in zip(steps, levels)]
    return np.ascontiguousarray(np.concatenate(parts, axis=0))


def _anchor_layout(height, width, steps, min_sizes, offset) -> tuple:
    """make_anchors' arguments converted and checked: (height, width, steps, levels, offset)."""
    height = _int(height, "height")
    width = _int(width, "width")
    if isinstance(steps, (str, bytes)):
        raise TypeError("steps: expected a sequence of integers")
    steps = [_int(s, "steps") for s in steps]
    if isinstance(min_sizes, (str, bytes)):
        raise TypeError("min_sizes: expected a sequence of sequences of numbers")
    levels = []
    for level in min_sizes:
        if isinstance(level, (str, bytes)) or not hasattr(level, "__len__"):
            raise TypeError("min_sizes: each level must be a sequence of numbers")
        levels.append([_real(m, "min_sizes") for m in level])
    offset = _real(offset, "offset")
    if len(steps) != len(levels):
        raise ValueError(f"steps and min_sizes must have the same length, got {len(steps)} and {len(levels)}")
    if not math.isfinite(offset):
        raise ValueError("offset must be finite")
    if height < 1 or width < 1:
        raise ValueError(f"height and width must be >= 1, got {height}x{width}")
    if not steps:
        raise ValueError("steps/min_sizes: need at least one level")
    return height, width, steps, levels, offset


def _check_anchor_count(height: int, width: int, steps: list, levels: list) -> None:
    """Every step >= 1, every level non-empty with finite sizes > 0, at most MAX_ANCHORS in all."""
    total = 0
    for level, (s, sizes) in enumerate(zip(steps, levels)):
        if s < 1:
            raise ValueError(f"steps[{level}] must be >= 1, got {s}")
        if not sizes:
            raise ValueError(f"min_sizes[{level}] is empty")
        for k, m in enumerate(sizes):
            if not (math.isfinite(m) and m > 0):
                raise ValueError(f"min_sizes[{level}][{k}] must be finite and > 0, got {m}")
        total += _ceil_div(height, s) * _ceil_div(width, s) * len(sizes)
    if total > MAX_ANCHORS:
        raise ValueError(f"too many anchors: this layout gives {total}, the limit is {MAX_ANCHORS}")


def _level_anchors(height: int, width: int, s: int, sizes: list, offset: float) -> np.ndarray:
    """The (fh * fw * len(sizes), 4) anchors of one level, in float64 rounded once to float32."""
    fh, fw = _ceil_div(height, s), _ceil_div(width, s)
    cx = ((np.arange(fw, dtype=np.float64) + offset) * float(s) / float(width)).astype(np.float32)
    cy = ((np.arange(fh, dtype=np.float64) + offset) * float(s) / float(height)).astype(np.float32)
    m = np.asarray(sizes, dtype=np.float64)
    level = np.empty((fh, fw, len(sizes), 4), dtype=np.float32)
    level[..., 0] = cx[None, :, None]
    level[..., 1] = cy[:, None, None]
    level[..., 2] = (m / float(width)).astype(np.float32)
    level[..., 3] = (m / float(height)).astype(np.float32)
    return level.reshape(-1, 4)


# --- decoding -----------------------------------------------------------------------------------


def decode_boxes(deltas, priors, variances: Sequence[float] = (0.1, 0.2)) -> np.ndarray:
    """Boxes from a detector's regression output, float32 ``(A, 4)`` rows ``(x1, y1, x2, y2)``.

    ``deltas`` ``(A, 4)`` holds ``(dx, dy, dw, dh)`` per anchor, ``priors`` ``(A, 4)`` the anchors
    ``(cx, cy, w, h)`` (e.g. from :func:`make_anchors`). With ``v0, v1 = variances``::

        c  = p_c + d_xy * v0 * p_wh          (centre)
        wh = p_wh * exp(d_wh * v1)           (size)
        (x1, y1) = c - wh / 2,  (x2, y2) = c + wh / 2

    in the priors' units (normalised anchors give normalised boxes). Computed in float64 from
    the float32 inputs and rounded once to float32; native and numpy agree within 1e-6 relative
    (the last bit of ``exp``). An empty list or ``(0, 4)`` array gives a ``(0, 4)`` result.

    Raises:
        TypeError: non-numeric arrays or variances.
        ValueError: a shape other than ``(A, 4)``, different row counts, NaN or infinity in
            ``deltas`` or ``priors``, ``variances`` not two values, a variance that is not
            finite and > 0, or a row that decodes outside the float32 range (``exp`` overflow
            of a size delta: never a silent inf or NaN box).
    """
    d = _float_array(_rows_or_empty(deltas, 4), "deltas", (-1, 4))
    p = _float_array(_rows_or_empty(priors, 4), "priors", (-1, 4))
    _same_rows(d, "deltas", p, "priors")
    v = np.asarray(variances)
    if v.dtype.kind not in "fiu":
        raise TypeError(f"variances: expected numbers, got dtype {v.dtype}")
    if v.shape != (2,):
        raise ValueError(f"variances: expected 2 values, got shape {v.shape}")
    v0, v1 = float(v[0]), float(v[1])
    for name, x in (("variances[0]", v0), ("variances[1]", v1)):
        if not (math.isfinite(x) and x > 0):
            raise ValueError(f"{name} must be finite and > 0, got {x}")
    d64 = d.astype(np.float64)
    p64 = p.astype(np.float64)
    with np.errstate(over="ignore", invalid="ignore"):  # checked below, as in C++
        c = p64[:, :2] + d64[:, :2] * v0 * p64[:, 2:]
        wh = p64[:, 2:] * np.exp(d64[:, 2:] * v1)
        out = np.concatenate([c - wh / 2, c + wh / 2], axis=1)
    _check_decoded(out, "decode_boxes")
    return np.ascontiguousarray(out.astype(np.float32))


def _check_decoded(values: np.ndarray, what: str) -> None:
    """Every decoded float64 value must fit float32 (exp overflow, huge priors): a silent inf or
    NaN box would pass on to NMS and the caller."""
    bad = np.flatnonzero(~np.all(np.abs(values) <= _FLOAT32_MAX, axis=1))
    if bad.size:
        raise ValueError(
            f"{what}: row {bad[0]} decodes to a value outside the float32 range (a delta too large for its prior)"
        )


def decode_landmarks(deltas, priors, variance: float = 0.1) -> np.ndarray:
    """Landmark points from a detector's regression output, float32 ``(A, 2K)``.

    ``deltas`` ``(A, 2K)`` holds ``K >= 1`` points as ``(x0, y0, x1, y1, ...)`` per anchor,
    ``priors`` ``(A, 4)`` the anchors ``(cx, cy, w, h)``. Point ``k`` is::

        x_k = p_cx + d_x,k * variance * p_w
        y_k = p_cy + d_y,k * variance * p_h

    in the priors' units, computed in float64 and rounded once to float32 (native and numpy agree
    exactly in practice; the documented tolerance is 1e-6 relative). ``deltas`` must be 2-D even
    when empty (``(0, 2K)``), since its width gives ``K``; ``priors`` may be an empty list.

    Raises:
        TypeError: non-numeric arrays or variance.
        ValueError: deltas not 2-D with an even number (>= 2) of columns, priors not ``(A, 4)``,
            different row counts, NaN or infinity in the inputs, a variance that is not
            finite and > 0, or a point outside the float32 range.
    """
    d = _float_array(deltas, "deltas", (-1, -1))
    p = _float_array(_rows_or_empty(priors, 4), "priors", (-1, 4))
    columns = d.shape[1]
    if columns < 2 or columns % 2 != 0:
        raise ValueError(f"deltas: expected an even number (>= 2) of columns, x and y per point, got shape {d.shape}")
    _same_rows(d, "deltas", p, "priors")
    variance = _real(variance, "variance")
    if not (math.isfinite(variance) and variance > 0):
        raise ValueError(f"variance must be finite and > 0, got {variance}")
    d64 = d.astype(np.float64).reshape(d.shape[0], columns // 2, 2)
    p64 = p.astype(np.float64)
    with np.errstate(over="ignore", invalid="ignore"):  # checked below, as in C++
        points = (p64[:, None, :2] + d64 * variance * p64[:, None, 2:]).reshape(d.shape)
    _check_decoded(points, "decode_landmarks")
    return np.ascontiguousarray(points.astype(np.float32))


# --- non-maximum suppression --------------------------------------------------------------------


def nms(
    boxes, scores, iou_threshold: float, score_threshold: Optional[float] = None, top_k: int = 0, max_output: int = 0
) -> np.ndarray:
    """Greedy non-maximum suppression; int64 ``(K,)`` indices of the kept boxes, best first.

    ``boxes`` ``(N, 4)`` are ``(x1, y1, x2, y2)`` with ``x2 >= x1`` and ``y2 >= y1``; ``scores``
    ``(N,)``. Both are converted to float32. Steps:

    1. Drop boxes whose score is below ``score_threshold`` (compared in float64; ``None`` keeps
       all).
    2. Sort the rest by descending score; equal scores keep their input order (lower index
       first). Keep the ``top_k`` best as candidates (``0`` = all).
    3. Walk the candidates best first: keep a candidate unless a box kept before it overlaps it
       with IoU strictly greater than ``iou_threshold``; stop once ``max_output`` boxes are kept
       (``0`` = no limit).

    IoU uses continuous coordinates (no "+1"): ``inter = max(0, min(x2) - max(x1)) *
    max(0, min(y2) - max(y1))``, ``area = (x2 - x1) * (y2 - y1)``, and the test is evaluated in
    float32, in this order, as ``inter > float32(iou_threshold) * ((area_i + area_j) - inter)``
    (no division, so zero-area boxes are well defined: their intersection is 0, so they never
    suppress nor get suppressed). An IoU of exactly the threshold is *not* suppressed.
    ``iou_threshold=1`` keeps everything (IoU cannot exceed 1); ``0`` suppresses every box that
    overlaps a kept one by a positive area.

    The native twin runs step 3 with a SIMD row kernel (``rowops nms_suppress``) over
    structure-of-arrays copies of the candidates; this twin does the same float32 operations, so
    both return identical indices.

    An empty input (``[]`` or a ``(0, 4)`` array with ``(0,)`` scores) returns an empty array.

    Raises:
        TypeError: non-numeric arrays, a non-number threshold, non-integer ``top_k`` or
            ``max_output``.
        ValueError: wrong shapes, different lengths, NaN or infinity in boxes or scores, a box with
            ``x2 < x1`` or ``y2 < y1`` or a float32 area of 2^127 or more (``MAX_NMS_BOX_AREA``:
            IoU would be NaN), ``iou_threshold`` outside ``[0, 1]``, a NaN ``score_threshold``,
            negative ``top_k`` or ``max_output`` or one beyond int64, or more than
            ``MAX_NMS_CANDIDATES`` (32,768) candidates after ``score_threshold`` and ``top_k``:
            the work is quadratic in them.
    """
    iou_threshold, score_threshold, top_k, max_output = _nms_settings(iou_threshold, score_threshold, top_k, max_output)
    b, s = _nms_boxes(boxes, scores)
    order = _nms_candidates(s, score_threshold, top_k)
    limit = max_output if max_output > 0 else order.size
    return _suppress(b, order, np.float32(iou_threshold), limit)


def _nms_settings(iou_threshold, score_threshold, top_k, max_output) -> tuple:
    """nms's thresholds and counts, checked and converted."""
    iou_threshold = _real(iou_threshold, "iou_threshold")
    if score_threshold is not None:
        score_threshold = _real(score_threshold, "score_threshold")
    top_k = _int(top_k, "top_k")
    max_output = _int(max_output, "max_output")
    if not (0.0 <= iou_threshold <= 1.0):
        raise ValueError(f"iou_threshold must be in [0, 1], got {iou_threshold}")
    if score_threshold is not None and math.isnan(score_threshold):
        raise ValueError("score_threshold must not be NaN")
    if top_k < 0:
        raise ValueError(f"top_k must be >= 0, got {top_k}")
    if max_output < 0:
        raise ValueError(f"max_output must be >= 0, got {max_output}")
    return iou_threshold, score_threshold, top_k, max_output


def _nms_boxes(boxes, scores) -> tuple:
    """nms's boxes (N, 4) and scores (N,) as float32, refused when a box is inverted or its area
    overflows float32."""
    b = _float_array(_rows_or_empty(boxes, 4), "boxes", (-1, 4))
    s = _float_array(scores, "scores", (-1,))
    _same_rows(b, "boxes", s, "scores")
    bad = np.flatnonzero((b[:, 2] < b[:, 0]) | (b[:, 3] < b[:, 1]))
    if bad.size:
        raise ValueError(f"boxes: row {bad[0]} has x2 < x1 or y2 < y1 (expected x1, y1, x2, y2)")
    with np.errstate(over="ignore", invalid="ignore"):
        all_areas = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    bad = np.flatnonzero(~(all_areas < np.float32(MAX_NMS_BOX_AREA)))
    if bad.size:
        raise ValueError(f"boxes: row {bad[0]} is too large: its area overflows float32 (IoU would be NaN)")
    return b, s


def _nms_candidates(s: np.ndarray, score_threshold, top_k: int) -> np.ndarray:
    """Indices of the boxes nms considers, best score first (steps 1 and 2)."""
    order = np.arange(s.shape[0], dtype=np.int64)
    if score_threshold is not None:
        order = order[s.astype(np.float64) >= score_threshold]
    # Stable sort on -score: equal scores stay in index order (negating a float32 is exact).
    order = order[np.argsort(-s[order], kind="stable")]
    if top_k > 0:
        order = order[:top_k]
    if order.size > MAX_NMS_CANDIDATES:
        raise ValueError(
            f"nms: {order.size} candidates, above the limit of {MAX_NMS_CANDIDATES}; pass top_k or a score_threshold"
        )
    return order


def _suppress(b: np.ndarray, order: np.ndarray, threshold: np.float32, limit: int) -> np.ndarray:
    """Step 3 of nms: the greedy walk over the candidates, in float32 as the native row kernel."""
    x1, y1, x2, y2 = (np.ascontiguousarray(b[order, k]) for k in range(4))
    keep = []
    rest = np.arange(order.size)  # positions in candidate order still in play
    with np.errstate(over="ignore", invalid="ignore"):  # huge boxes: inf/NaN exactly as in C++
        area = (x2 - x1) * (y2 - y1)
        while rest.size and len(keep) < limit:
            i, rest = rest[0], rest[1:]
            keep.append(order[i])
            ix1 = np.maximum(x1[i], x1[rest])
            iy1 = np.maximum(y1[i], y1[rest])
            ix2 = np.minimum(x2[i], x2[rest])
            iy2 = np.minimum(y2[i], y2[rest])
            w = np.maximum(ix2 - ix1, np.float32(0))
            h = np.maximum(iy2 - iy1, np.float32(0))
            inter = w * h
            union = (area[i] + area[rest]) - inter
            rest = rest[~(inter > threshold * union)]
    return np.asarray(keep, dtype=np.int64)
