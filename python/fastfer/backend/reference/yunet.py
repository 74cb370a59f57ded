"""Numpy twin of the native YuNet score kernel (``cpp/src/yunet.cpp``).

YuNet (libfacedetection.train) is anchor-free: per stride ``S`` in 8, 16, 32 it predicts, for
every cell of the ``H/S × W/S`` feature map, a class probability ``cls``, an objectness ``obj``,
a box ``(dx, dy, log w, log h)`` and 5 landmarks ``(dx, dy)``, all in units of ``S`` from the
cell's corner. Its boxes and landmarks are the RetinaFace decoding with priors ``(j·S, i·S, S,
S)`` and variances ``(1, 1)``, so fastfer decodes them with ``make_anchors(..., min_sizes=[[8],
[16], [32]], offset=0)``, ``decode_boxes(..., (1, 1))`` and ``decode_landmarks(..., 1)``. Only the
score is YuNet's own: this kernel.
"""

from __future__ import annotations

import numpy as np

from ._checks import numeric_array


def yunet_scores(cls, obj) -> np.ndarray:
    """YuNet's face score per cell, float32 ``(A,)``: ``sqrt(clamp(cls, 0, 1) · clamp(obj, 0, 1))``,
    the geometric mean of the class and objectness heads, as OpenCV's ``FaceDetectorYN`` scores.

    ``cls`` and ``obj`` are ``(A,)`` or ``(A, 1)`` arrays (the heads' shape without the batch
    axis); any numeric dtype, converted to float32. The product of two float32 values is exact in
    float64 and the square root correctly rounded, so both twins give identical bits.

    Raises:
        TypeError: a non-numeric array.
        ValueError: a shape other than ``(A,)`` / ``(A, 1)``, different lengths, NaN or infinity.
    """
    c = _column(cls, "cls")
    o = _column(obj, "obj")
    if c.shape != o.shape:
        raise ValueError(f"cls and obj must have the same length, got {c.shape[0]} and {o.shape[0]}")
    product = np.clip(c, 0.0, 1.0).astype(np.float64) * np.clip(o, 0.0, 1.0).astype(np.float64)
    return np.ascontiguousarray(np.sqrt(product).astype(np.float32))


def _column(values, what: str) -> np.ndarray:
    a = np.asarray(values)
    if a.ndim == 2 and a.shape[1] == 1:
        a = a[:, 0]
    return numeric_array(a, what, (-1,))
