"""Argument checks shared by the numpy twins; they mirror cpp/bindings/arrays.cpp, so both
backends refuse the same inputs with the same exception types."""

from __future__ import annotations

import operator
from typing import Sequence

import numpy as np

#: The most values one call of resize, detector_input or face_input may write (2^28: 1 GiB of
#: float32); cpp/include/fastfer/limits.h holds the same number.
MAX_OUTPUT_ELEMENTS = 1 << 28

INT64_MIN, INT64_MAX = -(1 << 63), (1 << 63) - 1


def image_array(obj, what: str, min_channels: int, max_channels: int) -> np.ndarray:
    """A uint8 H×W or H×W×C array; TypeError for another type or dtype, ValueError for a bad shape."""
    if not isinstance(obj, np.ndarray):
        raise TypeError(f"{what}: expected a numpy array, got {type(obj).__name__}")
    if obj.dtype != np.uint8:
        raise TypeError(f"{what}: expected dtype uint8, got {obj.dtype}")
    if obj.ndim not in (2, 3):
        raise ValueError(f"{what}: expected an H×W or H×W×C array, got shape {obj.shape}")
    channels = obj.shape[2] if obj.ndim == 3 else 1
    if obj.size == 0:
        raise ValueError(f"{what}: image must be non-empty, got shape {obj.shape}")
    if not min_channels <= channels <= max_channels:
        span = str(min_channels) if min_channels == max_channels else f"{min_channels} to {max_channels}"
        raise ValueError(f"{what}: expected {span} channels, got shape {obj.shape}")
    return obj


def numeric_array(obj, what: str, shape: Sequence[int], dtype=np.float32, finite: bool = True) -> np.ndarray:
    """A C-contiguous `dtype` array of a numeric input whose shape matches `shape` (-1 = any)."""
    a = np.asarray(obj)
    if a.dtype.kind not in "fiu":
        raise TypeError(f"{what}: expected a numeric array, got dtype {a.dtype}")
    if a.ndim != len(shape) or any(want >= 0 and got != want for got, want in zip(a.shape, shape)):
        want = ", ".join("N" if s < 0 else str(s) for s in shape) + ("," if len(shape) == 1 else "")
        raise ValueError(f"{what}: expected shape ({want}), got {a.shape}")
    if a.dtype != dtype:
        # Through float64, as the native bindings do: a float32 target refuses values it cannot
        # hold instead of turning them into infinities.
        wide = a.astype(np.float64)
        limit = np.finfo(dtype).max
        big = np.isfinite(wide) & (np.abs(wide) > limit)
        if np.any(big):
            raise ValueError(f"{what}: value {wide[big].flat[0]:g} is outside the float32 range")
        a = wide
    a = np.ascontiguousarray(a, dtype=dtype)
    if finite and not np.all(np.isfinite(a)):
        raise ValueError(f"{what}: contains NaN or infinity")
    return a


def int64_arg(value, what: str, lo: int = INT64_MIN, hi: int = INT64_MAX) -> int:
    """An integer (anything with ``__index__``) in [lo, hi]: TypeError for a non-integer,
    ValueError outside the range (Python ints of any size), like the binding's ``int64_arg``."""
    try:
        value = operator.index(value)
    except TypeError:
        raise TypeError(f"{what}: expected an integer, got {type(value).__name__}") from None
    if not lo <= value <= hi:
        raise ValueError(f"{what} must be in [{lo}, {hi}], got {value}")
    return value


def checked_int(value, what: str, lo: int, hi: int) -> int:
    if isinstance(value, bool):
        raise TypeError(f"{what} must be an integer, got bool")
    return int64_arg(value, what, lo, hi)


def check_output_size(what: str, *dims: int) -> None:
    """Refuses an output of more than MAX_OUTPUT_ELEMENTS values before anything is allocated."""
    values = 1
    for d in dims:
        values *= int(d)
    if values > MAX_OUTPUT_ELEMENTS:
        raise ValueError(f"{what}: the output would hold {values} values, above the limit of {MAX_OUTPUT_ELEMENTS}")


def check_normalisation(means: np.ndarray, scales: np.ndarray, what: str) -> None:
    """(p - mean) * scale must be finite in float32 for every pixel value p in 0..255; it is
    monotonic in p, so p = 0 and p = 255 are the extremes (as cpp/src/limits.cpp checks)."""
    with np.errstate(over="ignore", invalid="ignore"):
        for k in range(3):
            for p in (0, 255):
                v = (np.float32(p) - np.float32(means[k])) * np.float32(scales[k])
                if not np.isfinite(v):
                    raise ValueError(
                        f"{what}: mean and scale overflow float32: ({p} - mean[{k}]) * scale[{k}] is not finite"
                    )


def parse_rgb(order: str, what: str) -> bool:
    if order not in ("rgb", "bgr"):
        raise ValueError(f"{what}: channel_order must be 'rgb' or 'bgr', got {order!r}")
    return order == "rgb"


def parse_layout(layout: str, what: str) -> str:
    if layout not in ("nchw", "nhwc"):
        raise ValueError(f"{what}: layout must be 'nchw' or 'nhwc', got {layout!r}")
    return layout
