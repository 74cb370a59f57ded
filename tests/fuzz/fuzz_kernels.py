"""Fuzz target: the native kernels against their numpy twins (differential).

The input picks a kernel, a SIMD level and the arguments (small images, boxes and numbers, often
hostile: NaN, infinities, huge or negative sizes). Invariants:

* both twins raise, with the same exception type (TypeError or ValueError), or both return;
* results agree: bit for bit for resize, to_gray, detector_input, face_input (boxes),
  make_anchors, nms and yunet_scores; within 1e-6 relative for decode_boxes/decode_landmarks (the last bit of
  exp); within one grey level (times |scale|) for face_input by landmarks;
* no result holds inf or NaN.

Needs the native module (run.py skips the target without it).
"""

from __future__ import annotations

import math

import numpy as np
from _harness import fuzz, instrument_fastfer

from fastfer import backend
from fastfer.backend import reference as twin

instrument_fastfer()

native = backend.native
if native is None:
    raise SystemExit(f"fuzz_kernels needs the native module: {backend.native_error}")
LEVELS = native.available_simd_levels()


class Divergence(AssertionError):
    pass


def number(fdp, lo=-1e3, hi=1e3) -> float:
    """Mostly ordinary values in [lo, hi]; one in eight anything (NaN, inf, 1e308, -0.0...)."""
    if fdp.ConsumeIntInRange(0, 7) == 0:
        return fdp.ConsumeFloat()
    return fdp.ConsumeFloatInRange(lo, hi)


def size(fdp, hi=48) -> int:
    """A side or count: mostly 1..hi, sometimes 0, negative or beyond every kernel's range (sizes
    that are valid but large only make slow inputs: the output limits have their own tests)."""
    pick = fdp.ConsumeIntInRange(0, 15)
    if pick == 0:
        return fdp.ConsumeIntInRange(-2, 0)
    if pick == 1:
        return fdp.ConsumeIntInRange((1 << 20) + 1, 1 << 40)
    return fdp.ConsumeIntInRange(1, hi)


def image(fdp, channels) -> np.ndarray:
    h, w = fdp.ConsumeIntInRange(1, 40), fdp.ConsumeIntInRange(1, 40)
    shape = (h, w) if channels == 0 else (h, w, channels)
    raw = fdp.ConsumeBytes(int(np.prod(shape)))
    return np.frombuffer(raw.ljust(int(np.prod(shape)), b"\x80"), np.uint8).reshape(shape)


def rows(fdp, n, columns, lo=-100.0, hi=100.0) -> np.ndarray:
    values = [[number(fdp, lo, hi) for _ in range(columns)] for _ in range(n)]
    return np.array(values, np.float64).reshape(n, columns)


def boxes(fdp, n, lo=0.0, hi=64.0) -> np.ndarray:
    """Mostly well-formed boxes (x1 <= x2, y1 <= y2), sometimes anything."""
    out = []
    for _ in range(n):
        x1, y1 = number(fdp, lo, hi), number(fdp, lo, hi)
        if fdp.ConsumeIntInRange(0, 7) == 0:
            x2, y2 = number(fdp, lo, hi), number(fdp, lo, hi)
        else:
            x2, y2 = x1 + abs(number(fdp, 0, hi)), y1 + abs(number(fdp, 0, hi))
        out.append([x1, y1, x2, y2])
    return np.array(out, np.float64).reshape(n, 4)


def call(module, name, args, kwargs):
    try:
        with np.errstate(all="ignore"):  # the twin's float32 casts of hostile values
            return "ok", getattr(module, name)(*args, **kwargs)
    except (ValueError, TypeError) as exc:
        return "error", type(exc)


def finite(value) -> bool:
    arrays = value if isinstance(value, tuple) else (value,)
    return all(not isinstance(a, np.ndarray) or a.dtype.kind != "f" or np.all(np.isfinite(a)) for a in arrays)


def compare(name, a, b, tolerance):
    if isinstance(a, tuple):
        for x, y in zip(a, b):
            compare(name, x, y, tolerance)
        return
    if not isinstance(a, np.ndarray):
        if a != b:
            raise Divergence(f"{name}: {a!r} != {b!r}")
        return
    if a.shape != b.shape or a.dtype != b.dtype:
        raise Divergence(f"{name}: shape/dtype {a.shape} {a.dtype} vs {b.shape} {b.dtype}")
    if tolerance is None:
        if not np.array_equal(a, b):
            raise Divergence(f"{name}: results differ at {np.argwhere(a != b)[:3].tolist()}")
    elif a.size:
        rtol, atol = tolerance
        if not np.allclose(a, b, rtol=rtol, atol=atol):
            raise Divergence(f"{name}: beyond tolerance {tolerance}: max diff {np.max(np.abs(a - b))}")


# One function per kernel: each reads its arguments from the input bytes, in a fixed order (the
# corpus replays depend on it), and returns (kernel name, args, kwargs, tolerance).


def resize_case(fdp):
    c = fdp.ConsumeIntInRange(0, 4)
    return "resize", (image(fdp, c), size(fdp, 64), size(fdp, 64)), {}, None


def to_gray_case(fdp):
    return (
        "to_gray",
        (image(fdp, fdp.ConsumeIntInRange(3, 4)),),
        {"channel_order": fdp.PickValueInList(["bgr", "rgb"])},
        None,
    )


def detector_input_case(fdp):
    kwargs = {
        "pad_multiple": fdp.PickValueInList([1, 8, 32, 0, 5000]),
        "channel_order": fdp.PickValueInList(["rgb", "bgr"]),
        "mean": number(fdp, 0, 255),
        "scale": number(fdp, -2, 2),
        "layout": fdp.PickValueInList(["nchw", "nhwc"]),
    }
    if fdp.ConsumeBool():
        kwargs["fixed_size"] = (size(fdp, 64), size(fdp, 64))
        args = (image(fdp, 3),)
    else:
        args = (image(fdp, 3), fdp.PickValueInList([0, 0, size(fdp, 64)]))
    return "detector_input", args, kwargs, None


def face_input_common(fdp):
    """The image, the options both face_input modes share, and the number of faces."""
    img = image(fdp, 3)
    kwargs = {
        "size": size(fdp, 32),
        "gray": fdp.ConsumeBool(),
        "mean": number(fdp, 0, 255),
        "scale": number(fdp, -2, 2),
        "layout": fdp.PickValueInList(["nchw", "nhwc"]),
        "channel_order": fdp.PickValueInList(["rgb", "bgr"]),
    }
    return img, kwargs, fdp.ConsumeIntInRange(0, 4)


def face_crop_case(fdp):
    img, kwargs, n = face_input_common(fdp)
    kwargs.update(margin=number(fdp, 0, 1), square=fdp.ConsumeBool())
    return "face_input", (img,), dict(kwargs, boxes=boxes(fdp, n, -10, 50)), None


def face_align_case(fdp):
    img, kwargs, n = face_input_common(fdp)
    points = rows(fdp, n * 5, 2, -10, 50).reshape(n, 5, 2)
    scale = kwargs["scale"]
    tol = (0.0, abs(scale) * 1.0001 + 1e-6) if math.isfinite(scale) else None
    return "face_input", (img,), dict(kwargs, landmarks=points), tol


def make_anchors_case(fdp):
    levels = fdp.ConsumeIntInRange(0, 3)
    steps = [size(fdp, 64) for _ in range(levels)]
    min_sizes = [[number(fdp, 1, 512) for _ in range(fdp.ConsumeIntInRange(0, 3))] for _ in range(levels)]
    return "make_anchors", (size(fdp, 256), size(fdp, 256), steps, min_sizes, number(fdp, 0, 1)), {}, None


def decode_boxes_case(fdp):
    n = fdp.ConsumeIntInRange(0, 16)
    priors = np.abs(rows(fdp, n, 4, 0, 1))
    variances = (number(fdp, 0.01, 1), number(fdp, 0.01, 1))
    return "decode_boxes", (rows(fdp, n, 4, -50, 50), priors, variances), {}, (1e-6, 1e-30)


def decode_landmarks_case(fdp):
    n, k = fdp.ConsumeIntInRange(0, 16), fdp.ConsumeIntInRange(1, 5)
    priors = np.abs(rows(fdp, n, 4, 0, 1))
    return "decode_landmarks", (rows(fdp, n, 2 * k, -50, 50), priors, number(fdp, 0.01, 1)), {}, (1e-6, 1e-30)


def nms_case(fdp):
    n = fdp.ConsumeIntInRange(0, 64)
    kwargs = {
        "top_k": fdp.PickValueInList([0, 0, 1, 5, size(fdp, 64)]),
        "max_output": fdp.PickValueInList([0, 0, 1, 3, size(fdp, 64)]),
    }
    if fdp.ConsumeBool():
        kwargs["score_threshold"] = number(fdp, 0, 1)
    scores = np.array([number(fdp, 0, 1) for _ in range(n)], np.float64)
    return "nms", (boxes(fdp, n), scores, number(fdp, 0, 1)), kwargs, None


def yunet_scores_case(fdp):
    n = fdp.ConsumeIntInRange(0, 16)
    cls, obj = rows(fdp, n, 1, -0.5, 1.5), rows(fdp, n, 1, -0.5, 1.5)
    return "yunet_scores", (cls if fdp.ConsumeBool() else cls[:, 0], obj), {}, None


# The first input value picks the kernel; the numbers are the corpus's, so they never change.
CASES = (
    resize_case,
    to_gray_case,
    detector_input_case,
    face_crop_case,
    face_align_case,
    make_anchors_case,
    decode_boxes_case,
    decode_landmarks_case,
    nms_case,
    yunet_scores_case,
)


def case(fdp):
    """(kernel name, args, kwargs, tolerance) from the input bytes."""
    return CASES[fdp.ConsumeIntInRange(0, len(CASES) - 1)](fdp)


def TestOneInput(data: bytes) -> None:
    import atheris

    fdp = atheris.FuzzedDataProvider(data)
    native.set_simd_level(LEVELS[fdp.ConsumeIntInRange(0, len(LEVELS) - 1)])
    name, args, kwargs, tolerance = case(fdp)
    a = call(native, name, args, kwargs)
    b = call(twin, name, args, kwargs)
    if a[0] != b[0] or (a[0] == "error" and a[1] is not b[1]):
        raise Divergence(
            f"{name}: native {a[0]} {a[1] if a[0] == 'error' else ''} vs "
            f"numpy {b[0]} {b[1] if b[0] == 'error' else ''}; kwargs {kwargs}"
        )
    if a[0] == "ok":
        for side, value in (("native", a[1]), ("numpy", b[1])):
            if not finite(value):
                raise Divergence(f"{name}: the {side} result holds inf or NaN; kwargs {kwargs}")
        compare(name, a[1], b[1], tolerance)


if __name__ == "__main__":
    fuzz(TestOneInput)
