"""Numpy twins of the image kernels: ``resize``, ``to_gray``, ``detector_input``, ``face_input``,
``similarity_transform``.

These docstrings document both backends. The native kernels compute the same integer and float32
operations in the same order, so the twins agree **exactly** (bit for bit) on every input, on every
SIMD path; the tests hold them to that. The only exception is alignment by landmarks, where the
similarity transform is summed in the same order but numpy may be built with different libm
rounding: results there agree within one grey level (after normalisation: ``abs(scale)``).

Resampling rule, shared by all kernels: bilinear with pixel centres aligned (output pixel ``x``
samples source position ``(x + 0.5) * step - 0.5``, as OpenCV's INTER_LINEAR), weights quantised
to 1/2048 on each axis, one rounding at the end. Positions outside the image take the nearest
edge pixel. ``resize`` is within 1 grey level of ``cv2.resize(..., INTER_LINEAR)``.
"""

from __future__ import annotations

import numpy as np

from ._checks import (
    MAX_OUTPUT_ELEMENTS,
    check_normalisation,
    check_output_size,
    checked_int,
    image_array,
    numeric_array,
    parse_layout,
    parse_rgb,
)

WEIGHT_BITS = 11
WEIGHT_ONE = 1 << WEIGHT_BITS
BLEND_SHIFT = 2 * WEIGHT_BITS
BLEND_ROUND = 1 << (BLEND_SHIFT - 1)
# OpenCV's BT.601 grey weights in 1/16384ths, for B, G, R.
GRAY_WEIGHTS_BGR = (1868, 9617, 4899)
# InsightFace's 5-point template for 112×112 crops: eyes, nose tip, mouth corners.
FIVE_POINT_TEMPLATE_112 = np.array(
    [[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366], [41.5493, 92.3655], [70.7299, 92.2041]]
)


def _map_axis(in_size: int, out_size: int, inv_scale: float) -> tuple[np.ndarray, np.ndarray]:
    """First source pixel and 11-bit weight of the next one for each output position (clamped)."""
    src = (np.arange(out_size, dtype=np.float64) + 0.5) * inv_scale - 0.5
    first = np.floor(src)
    frac = src - first
    first = first.astype(np.int64)
    clamped = (first < 0) | (first >= in_size - 1)
    frac[clamped] = 0.0
    first = np.clip(first, 0, in_size - 1)
    return first, np.rint(frac * WEIGHT_ONE).astype(np.int64)


# int64 values per block of output rows: the twin's temporaries stay near 64 MiB whatever the sizes
# (a whole-image int64 copy would be 8 times the output and more).
_BLOCK_VALUES = 1 << 23


def _resample(
    img: np.ndarray, out_h: int, out_w: int, inv_y: float, inv_x: float, out: np.ndarray = None
) -> np.ndarray:
    """Bilinear resample of an H×W×C uint8 image to out_h×out_w×C, written to ``out`` (any
    numeric dtype; values 0..255), block of rows by block of rows."""
    h, w, c = img.shape
    y0, wy = _map_axis(h, out_h, inv_y)
    x0, wx = _map_axis(w, out_w, inv_x)
    y1 = np.minimum(y0 + 1, h - 1)
    x1 = np.minimum(x0 + 1, w - 1)
    if out is None:
        out = np.empty((out_h, out_w, c), np.int64)
    block = max(1, _BLOCK_VALUES // ((w + out_w) * c))
    for r in range(0, out_h, block):
        rs = slice(r, r + block)
        wyb = wy[rs][:, None, None]
        rows = (WEIGHT_ONE - wyb) * img[y0[rs]].astype(np.int64) + wyb * img[y1[rs]].astype(np.int64)
        vals = (WEIGHT_ONE - wx)[None, :, None] * rows[:, x0] + wx[None, :, None] * rows[:, x1]
        out[rs] = (vals + BLEND_ROUND) >> BLEND_SHIFT
    return out


def _gray(bgr: np.ndarray) -> np.ndarray:
    b, g, r = GRAY_WEIGHTS_BGR
    return (b * bgr[..., 0] + g * bgr[..., 1] + r * bgr[..., 2] + (1 << 13)) >> 14


def _per_channel(value, what: str, channels: int) -> np.ndarray:
    """``mean``/``scale``: a number, or one value per output channel; three float32 values."""
    a = numeric_array(np.atleast_1d(value), what, (-1,))
    if a.size not in (1, channels):
        raise ValueError(f"{what}: expected a number or {channels} values, got {a.size}")
    return np.array([a[0 if a.size == 1 else min(k, channels - 1)] for k in range(3)], np.float32)


def _normalise(values: np.ndarray, mean: np.float32, scale: np.float32) -> np.ndarray:
    return (values.astype(np.float32) - mean) * scale


def resize(image, width, height):
    """Bilinear resize of a uint8 image (H×W, or H×W×C with C in 1..4) to ``height``×``width``.

    Any strides are accepted (views with packed pixels are read in place, others copied once).
    Returns a new C-contiguous uint8 array of shape (height, width[, C]).
    Raises TypeError for a non-array or non-uint8 input, ValueError for an empty image, a channel
    count outside 1..4 or a size outside [1, 2**20].
    """
    img = image_array(image, "resize image", 1, 4)
    w = checked_int(width, "resize width", 1, 1 << 20)
    h = checked_int(height, "resize height", 1, 1 << 20)
    src = img if img.ndim == 3 else img[:, :, None]
    check_output_size("resize", w, h, src.shape[2])
    out = _resample(src, h, w, src.shape[0] / h, src.shape[1] / w, np.empty((h, w, src.shape[2]), np.uint8))
    return out if img.ndim == 3 else np.ascontiguousarray(out[:, :, 0])


def to_gray(image, channel_order="bgr"):
    """Grey (H×W uint8) from an H×W×3 or H×W×4 uint8 image in ``channel_order`` ("bgr"/"rgb"),
    with OpenCV 4's fixed-point weights (0.114 B + 0.587 G + 0.299 R in 1/16384ths): identical to
    OpenCV 4's ``cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)``, within 1 grey level of OpenCV 5's."""
    bgr = not parse_rgb(channel_order, "to_gray")
    img = image_array(image, "to_gray image", 3, 4)
    if img.ndim != 3:
        raise ValueError("to_gray image: expected H×W×3 or H×W×4")
    px = img[..., :3].astype(np.int64)
    return np.ascontiguousarray(_gray(px if bgr else px[..., ::-1]), dtype=np.uint8)


def _check_tensor_size(height: int, width: int) -> None:
    values = 3 * width * height
    if values > MAX_OUTPUT_ELEMENTS:
        raise ValueError(
            f"detector_input: a {width}x{height} tensor holds {values} values, above "
            f"the limit of {MAX_OUTPUT_ELEMENTS}; set max_side"
        )


def _fixed_side(v: float, what: str) -> int:
    """One side of fixed_size: in [1, 65536] (checked as a number, as the binding does)."""
    if not 1.0 <= v <= 65536.0:
        raise ValueError(f"{what} must be in [1, 65536], got {v}")
    return int(v)


def _detector_geometry(h: int, w: int, max_side: int, fixed, pad_multiple: int):
    """(tensor height, tensor width, content height, content width, scale) as the C++ computes it."""

    def scaled(size: int, scale: float, limit: float) -> int:
        return int(min(limit, max(1.0, float(np.rint(size * scale)))))

    if fixed is not None:
        fw, fh = fixed
        scale = min(fw / w, fh / h)
        _check_tensor_size(fh, fw)
        return fh, fw, scaled(h, scale, fh), scaled(w, scale, fw), scale
    long_side = max(w, h)
    scale = max_side / long_side if 0 < max_side < long_side else 1.0
    ch, cw = scaled(h, scale, float("inf")), scaled(w, scale, float("inf"))
    if cw > 1 << 16 or ch > 1 << 16:
        raise ValueError("detector_input: tensor side above 65536; set max_side")
    pad = lambda v: -(-v // pad_multiple) * pad_multiple  # noqa: E731 (round up)
    _check_tensor_size(pad(ch), pad(cw))
    return pad(ch), pad(cw), ch, cw, scale


def detector_input(
    image, max_side=0, *, fixed_size=None, pad_multiple=32, channel_order="rgb", mean=0.0, scale=1.0, layout="nchw"
):
    """The detector's input tensor from an H×W×3 BGR uint8 image, in one pass.

    Dynamic-size models (``fixed_size=None``): the image is shrunk (never enlarged) so its long
    side is at most ``max_side`` (0 = keep its size), then padded right and bottom to a multiple of
    ``pad_multiple``. Fixed-size models (``fixed_size=(W, H)``): the image is scaled up or down to
    fit inside W×H with its aspect ratio kept, then padded right/bottom to exactly W×H.
    Output channels in ``channel_order`` (the source is BGR), normalised as
    ``(pixel - mean[k]) * scale[k]`` (a number or 3 values, output order). Padding is a black pixel
    normalised the same way. Layout "nchw" gives (1, 3, H, W), "nhwc" (1, H, W, 3), float32.

    Returns ``(tensor, scale)``: tensor coordinates = image coordinates × scale, exactly (the
    resampling uses 1/scale as its step), so boxes map back by dividing by it.
    """
    spec_max = checked_int(max_side, "detector_input max_side", 0, 1 << 20)
    pad_multiple = checked_int(pad_multiple, "detector_input pad_multiple", 1, 4096)
    fixed = None
    if fixed_size is not None:
        wh = numeric_array(fixed_size, "detector_input fixed_size", (2,), dtype=np.float64)
        fixed = (_fixed_side(float(wh[0]), "fixed_size width"), _fixed_side(float(wh[1]), "fixed_size height"))
        if tuple(wh) != fixed:
            raise ValueError("detector_input fixed_size: expected two integers (width, height)")
        if spec_max != 0:
            raise ValueError("detector_input: give either max_side or a fixed size, not both")
    rgb = parse_rgb(channel_order, "detector_input")
    layout = parse_layout(layout, "detector_input")
    means = _per_channel(mean, "detector_input mean", 3)
    scales = _per_channel(scale, "detector_input scale", 3)
    check_normalisation(means, scales, "detector_input")
    img = image_array(image, "detector_input image", 3, 3)
    if img.ndim != 3:
        raise ValueError("detector_input image: expected H×W×3 BGR")

    H, W, ch, cw, s = _detector_geometry(img.shape[0], img.shape[1], spec_max, fixed, pad_multiple)
    content = _resample(img, ch, cw, 1.0 / s, 1.0 / s, np.empty((ch, cw, 3), np.uint8))
    if rgb:
        content = content[..., ::-1]
    out = np.empty((3, H, W), np.float32)
    for k in range(3):
        out[k] = (np.float32(0.0) - means[k]) * scales[k]
        out[k, :ch, :cw] = _normalise(content[..., k], means[k], scales[k])
    out = out[None] if layout == "nchw" else np.ascontiguousarray(out.transpose(1, 2, 0))[None]
    return out, s


def _box_crop_affine(box, margin: float, square: bool, size: int) -> list[float]:
    x1, y1, x2, y2 = (float(v) for v in box)
    if not (x2 > x1 and y2 > y1):
        raise ValueError("face_input: box must have x2 > x1 and y2 > y1")
    if not (np.isfinite(margin) and 0.0 <= margin <= 10.0):
        raise ValueError("face_input: margin must be in [0, 10]")
    cx, cy = (x1 + x2) * 0.5, (y1 + y2) * 0.5
    w, h = x2 - x1, y2 - y1
    if square:
        w = h = max(w, h)
    w = w * (1.0 + 2.0 * margin)
    h = h * (1.0 + 2.0 * margin)
    sx, sy = w / size, h / size
    return [sx, 0.0, (cx - w * 0.5) + 0.5 * sx - 0.5, 0.0, sy, (cy - h * 0.5) + 0.5 * sy - 0.5]


def _similarity(src: np.ndarray, dst: np.ndarray) -> list[float]:
    # Plain Python floats summed in index order: the same operations as the C++.
    n = len(src)
    if n < 2:
        raise ValueError("similarity_transform: needs at least 2 points")
    sx = sy = dx = dy = 0.0
    for (ax, ay), (bx, by) in zip(src.tolist(), dst.tolist()):
        sx += ax
        sy += ay
        dx += bx
        dy += by
    sx, sy, dx, dy = sx / n, sy / n, dx / n, dy / n
    dot = cross = var = 0.0
    for (ax, ay), (bx, by) in zip(src.tolist(), dst.tolist()):
        ax, ay, bx, by = ax - sx, ay - sy, bx - dx, by - dy
        dot += ax * bx + ay * by
        cross += ax * by - ay * bx
        var += ax * ax + ay * ay
    if not var > 0.0:
        raise ValueError("similarity_transform: the source points all coincide")
    c, s = dot / var, cross / var
    return [c, -s, dx - (c * sx - s * sy), s, c, dy - (s * sx + c * sy)]


def _invert(m: list[float]) -> list[float]:
    det = m[0] * m[4] - m[1] * m[3]
    if not np.isfinite(det) or abs(det) < 1e-12:
        raise ValueError("face_input: the transform is singular")
    r0, r1, r3, r4 = m[4] / det, -m[1] / det, -m[3] / det, m[0] / det
    return [r0, r1, -(r0 * m[2] + r1 * m[5]), r3, r4, -(r3 * m[2] + r4 * m[5])]


def similarity_transform(src, dst):
    """The least-squares similarity (rotation, uniform scale, translation, no reflection) mapping
    the (K, 2) points ``src`` onto ``dst`` (K >= 2), as a (2, 3) float64 matrix ``[[c, -s, tx],
    [s, c, ty]]`` (closed form of Umeyama's method in 2-D). ValueError if the src points coincide."""
    s = numeric_array(src, "similarity_transform src", (-1, 2), dtype=np.float64)
    d = numeric_array(dst, "similarity_transform dst", (s.shape[0], 2), dtype=np.float64)
    return np.array(_similarity(s, d)).reshape(2, 3)


def _taps(coord: np.ndarray, size: int):
    coord = np.minimum(np.maximum(coord, -1.0), float(size))
    first = np.floor(coord)
    w1 = np.rint((coord - first) * WEIGHT_ONE).astype(np.int64)
    first = first.astype(np.int64)
    return np.clip(first, 0, size - 1), np.clip(first + 1, 0, size - 1), w1


def _warp(img: np.ndarray, m: list[float], size: int) -> np.ndarray:
    """Samples size×size pixels through the map m (output pixel -> source pixel): int64 BGR,
    a block of rows at a time (bounded temporaries for size up to 4096)."""
    out = np.empty((size, size, 3), np.int64)
    block = max(1, _BLOCK_VALUES // (size * 3))
    for r in range(0, size, block):
        v, u = np.mgrid[r : min(r + block, size), 0:size].astype(np.float64)
        xa, xb, wx = _taps(m[0] * u + m[1] * v + m[2], img.shape[1])
        ya, yb, wy = _taps(m[3] * u + m[4] * v + m[5], img.shape[0])
        wx, wy = wx[..., None], wy[..., None]
        top = (WEIGHT_ONE - wx) * img[ya, xa].astype(np.int64) + wx * img[ya, xb].astype(np.int64)
        bot = (WEIGHT_ONE - wx) * img[yb, xa].astype(np.int64) + wx * img[yb, xb].astype(np.int64)
        out[r : r + block] = ((WEIGHT_ONE - wy) * top + wy * bot + BLEND_ROUND) >> BLEND_SHIFT
    return out


def _landmark_maps(landmarks, template, S: int) -> list:
    """face_input's output-to-image maps for faces given by landmarks (N, K, 2): the inverse of the
    similarity transform onto ``template`` (default: the 5-point 112x112 one scaled to S)."""
    pts = numeric_array(landmarks, "face_input landmarks", (-1, -1, 2), dtype=np.float64)
    k = pts.shape[1]
    if template is None:
        if k != 5:
            raise ValueError(f"face_input: the default template has 5 points; pass template= for {k}")
        target = FIVE_POINT_TEMPLATE_112 * S / 112.0
    else:
        target = numeric_array(template, "face_input template", (k, 2), dtype=np.float64)
    if k < 2:
        raise ValueError("face_input landmarks: need at least 2 points per face")
    return [_invert(_similarity(p, target)) for p in pts]


def face_input(
    image,
    boxes=None,
    landmarks=None,
    *,
    size,
    margin=0.0,
    square=True,
    template=None,
    gray=False,
    channel_order="rgb",
    mean=0.0,
    scale=1.0,
    layout="nchw",
):
    """One float32 batch of face crops from an H×W×3 BGR uint8 image.

    Give exactly one of:
    - ``boxes`` (N, 4) x1, y1, x2, y2 in pixel-edge coordinates: each box is made square around its
      centre (``square=True``: its long side), grown by ``margin`` × its size on every side, and
      resampled to ``size``×``size``;
    - ``landmarks`` (N, K, 2): each face is warped by the similarity transform that maps its points
      onto ``template`` (K, 2) in output pixels (default: InsightFace's 5-point 112×112 template
      scaled by size/112).
    Pixels outside the image take the value of the nearest edge pixel (clamp-to-edge, like
    ``cv2.BORDER_REPLICATE``). Each pixel is sampled bilinearly to uint8, then converted to grey
    (``gray=True``, OpenCV's weights) or ordered as ``channel_order``, then normalised as
    ``(value - mean[k]) * scale[k]`` (a number, or one value per output channel).
    Returns (N, C, S, S) for "nchw" or (N, S, S, C) for "nhwc", C = 1 or 3. N = 0 gives an empty
    batch. Raises ValueError for NaN/inf or inverted boxes, coincident landmarks, bad sizes.
    """
    S = checked_int(size, "face_input size", 1, 4096)
    rgb = parse_rgb(channel_order, "face_input")
    layout = parse_layout(layout, "face_input")
    C = 1 if gray else 3
    means = _per_channel(mean, "face_input mean", C)
    scales = _per_channel(scale, "face_input scale", C)
    maps = _face_maps(boxes, landmarks, margin, square, template, S)
    img = image_array(image, "face_input image", 3, 3)
    if img.ndim != 3:
        raise ValueError("face_input image: expected H×W×3 BGR")
    check_output_size("face_input", len(maps), C, S, S)
    check_normalisation(means, scales, "face_input")
    # A huge box makes an infinite map (the native kernel refuses it; sampling through it would
    # give arbitrary edge pixels).
    if not all(np.isfinite(v) for m in maps for v in m):
        raise ValueError("face_input: transform has NaN or infinity")
    out = _sample_faces(img, maps, S, gray, rgb, means, scales)
    return out if layout == "nchw" else np.ascontiguousarray(out.transpose(0, 2, 3, 1))


def _face_maps(boxes, landmarks, margin, square, template, S: int) -> list:
    """face_input's output-to-image map per face, from exactly one of ``boxes`` and ``landmarks``."""
    if (boxes is None) == (landmarks is None):
        raise ValueError("face_input: give exactly one of boxes or landmarks")
    if landmarks is not None:
        return _landmark_maps(landmarks, template, S)
    b = numeric_array(boxes, "face_input boxes", (-1, 4), dtype=np.float64)
    return [_box_crop_affine(box, float(margin), bool(square), S) for box in b]


def _sample_faces(img: np.ndarray, maps: list, S: int, gray: bool, rgb: bool, means, scales) -> np.ndarray:
    """The (N, C, S, S) float32 batch: each face sampled through its map, turned grey or into the
    channel order, then normalised."""
    out = np.empty((len(maps), 1 if gray else 3, S, S), np.float32)
    for i, m in enumerate(maps):
        px = _warp(img, m, S)
        if gray:
            out[i, 0] = _normalise(_gray(px), means[0], scales[0])
            continue
        if rgb:
            px = px[..., ::-1]
        for k in range(3):
            out[i, k] = _normalise(px[..., k], means[k], scales[k])
    return out
