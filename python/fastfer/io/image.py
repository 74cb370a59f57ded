"""Turns whatever the caller holds into the H×W×3 uint8 BGR array the pipeline works on.

:func:`load_image` reads file paths, encoded bytes, numpy arrays and PIL images. Every input is
held to a pixel cap (width × height): encoded data is sized from its header first
(:mod:`fastfer.io.image_header`) so an oversized image is refused before OpenCV allocates it, and
the decoded array is checked again (see :mod:`fastfer.io.pixel_cap` for OpenCV's own limit). Files are
read only when they are regular files no larger than an image within the cap can need. The
cap is ``max_pixels`` when given, else the process default: 100,000,000, or the
``FASTFER_MAX_PIXELS`` environment variable read at import, changed by :func:`set_max_pixels`.
"""

from __future__ import annotations

import os
from typing import Any, Union

# isort: off
# Before cv2: pixel_cap sets OpenCV's own decoder limit, read when OpenCV loads.
from .pixel_cap import OPENCV_LIMIT_ENV, max_pixels_from_env as _max_pixels_from_env

# isort: on
import cv2
import numpy as np

from .._args import positive_int
from ..errors import ImageDecodeError, ImageTooLargeError, InvalidImageError, UnsupportedInputError
from .image_header import image_size
from .regular_file import FileTooLarge, NotARegularFile, read_regular_file

_ACCEPTED = (
    "a file path (str or os.PathLike), encoded image bytes (bytes, bytearray, memoryview), "
    "a uint8 numpy array (H×W or H×W×1 gray, H×W×3 BGR, H×W×4 BGRA) or a PIL image"
)
# The most bytes an image file within the cap can need per pixel: ASCII PPM with 16-bit samples
# ("65535 65535 65535 ", 18 bytes) and some white space; binary formats need 8 or fewer. Plus a
# fixed allowance for metadata (EXIF, ICC profiles, comments). A larger file is refused unread.
_MAX_FILE_BYTES_PER_PIXEL = 24
_MAX_FILE_METADATA_BYTES = 64 << 20

ImageSource = Union[str, "os.PathLike[str]", bytes, bytearray, memoryview, np.ndarray, Any]


_max_pixels = _max_pixels_from_env()


def get_max_pixels() -> int:
    """The process-wide pixel cap used when :func:`load_image` gets no ``max_pixels``."""
    return _max_pixels


def set_max_pixels(n: int) -> None:
    """Set the process-wide pixel cap (width × height); ``n`` must be a positive int."""
    global _max_pixels
    _max_pixels = positive_int(n, "max_pixels")


def load_image(source: ImageSource, *, max_pixels: int | None = None) -> np.ndarray:
    """Return ``source`` as an H×W×3 uint8 BGR array.

    ``source`` may be a path to an image file, the encoded bytes of one (bytes, bytearray or
    memoryview; JPEG, PNG, BMP, GIF, WebP, TIFF or PNM; EXIF orientation is applied), a uint8
    array (H×W or H×W×1 gray, H×W×3 BGR, H×W×4 BGRA) or a PIL image. An H×W×3 array is returned
    as-is, not copied. Images of more than ``max_pixels`` pixels (default
    :func:`get_max_pixels`) raise ``ImageTooLargeError``, checked before decoding.

    Raises ``FileNotFoundError`` / ``IsADirectoryError`` for bad paths, ``ImageDecodeError`` for
    data that cannot be decoded and for paths that are not regular files (devices, FIFOs,
    sockets: refused unread), ``ImageTooLargeError`` also for files larger than
    :func:`max_file_bytes` allows, ``InvalidImageError`` for unusable arrays and
    ``UnsupportedInputError`` (a ``TypeError``) for other types.
    """
    cap = _max_pixels if max_pixels is None else positive_int(max_pixels, "max_pixels")
    if isinstance(source, np.ndarray):
        return _from_array(source, cap)
    if isinstance(source, (bytes, bytearray, memoryview)):
        return decode_image(_as_bytes_view(source), "image bytes", cap)
    if isinstance(source, (str, os.PathLike)):
        return _from_file(source, cap)
    if _is_pil_image(source):
        return _from_pil(source, cap)
    raise UnsupportedInputError(f"cannot load an image from {_type_name(source)}; load_image accepts {_ACCEPTED}")


def _type_name(obj: object) -> str:
    cls = type(obj)
    if cls.__module__ == "builtins":
        return cls.__qualname__
    return f"{cls.__module__}.{cls.__qualname__}"


def _check_pixels(width: int, height: int, cap: int, name: str) -> None:
    if width * height > cap:
        raise ImageTooLargeError(
            f"{name} is {width}x{height} = {width * height:,} pixels, "
            f"more than the cap of {cap:,} (see max_pixels / set_max_pixels)"
        )


def _as_bytes_view(source: bytes | bytearray | memoryview) -> bytes | bytearray | memoryview:
    if not isinstance(source, memoryview):
        return source
    # A memoryview may be multi-dimensional, strided or typed; flatten it to plain bytes.
    return source.cast("B") if source.c_contiguous else memoryview(source.tobytes())


def max_file_bytes(cap: int) -> int:
    """The largest image file :func:`load_image` reads under a pixel cap of ``cap``."""
    return _MAX_FILE_BYTES_PER_PIXEL * cap + _MAX_FILE_METADATA_BYTES


def _from_file(path: str | os.PathLike[str], cap: int) -> np.ndarray:
    filename = os.fsdecode(path)
    try:
        data = read_regular_file(filename, max_file_bytes(cap))
    except NotARegularFile as exc:
        if exc.kind == "a directory":  # as open() would say it, and as before
            raise IsADirectoryError(exc.errno, "is a directory, not an image file", filename) from None
        raise ImageDecodeError(
            f"cannot read '{filename}': it is {exc.kind}; images are read from regular files only"
        ) from None
    except FileTooLarge as exc:
        raise ImageTooLargeError(
            f"'{filename}' {exc.strerror}, the most an image within the cap "
            f"of {cap:,} pixels can need (see max_pixels / set_max_pixels)"
        ) from None
    return decode_image(data, f"'{filename}'", cap)


def decode_image(data: bytes | bytearray | memoryview, name: str, cap: int) -> np.ndarray:
    """Encoded bytes as a BGR uint8 image, sized from the headers and refused above ``cap`` pixels
    before decoding; ``name`` says which input in the errors."""
    if len(data) == 0:
        raise ImageDecodeError(f"could not decode {name}: it is empty")
    try:
        image_format, width, height = image_size(data)
    except ImageDecodeError as exc:
        raise ImageDecodeError(f"could not decode {name}: {exc}") from None
    _check_pixels(width, height, cap, name)
    try:
        image = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_COLOR)
    except cv2.error as exc:  # OpenCV's own limits and codec failures may raise, not return None
        if "CV_IO_MAX_IMAGE" in str(exc):  # the decoder saw a larger size than the header said
            raise ImageTooLargeError(
                f"{name}: OpenCV's decoder refused it as larger than {OPENCV_LIMIT_ENV} "
                f"({os.environ.get(OPENCV_LIMIT_ENV, '2**30')} pixels)"
            ) from None
        raise ImageDecodeError(f"could not decode {name}: {exc}") from None
    if image is None:
        raise ImageDecodeError(f"could not decode {name}: corrupt or truncated {image_format} data")
    # Second line of defence: whatever the headers said, never return more pixels than the cap.
    # (EXIF orientation may swap width and height; the pixel count is what the cap limits.)
    _check_pixels(image.shape[1], image.shape[0], cap, f"{name} (as decoded)")
    return image


def _from_array(array: np.ndarray, cap: int) -> np.ndarray:
    if array.dtype != np.uint8:
        raise InvalidImageError(f"image array must have dtype uint8, got {array.dtype}")
    channels = array.shape[2] if array.ndim == 3 else 1
    if array.ndim not in (2, 3) or channels not in (1, 3, 4) or array.size == 0:
        raise InvalidImageError(
            f"image array must be a non-empty H×W, H×W×1, H×W×3 or H×W×4 array, got shape {array.shape}"
        )
    height, width = array.shape[:2]
    _check_pixels(width, height, cap, "image array")
    if channels == 3:
        return array  # already BGR; the kernels take strided views, so no copy
    if channels == 4:
        return cv2.cvtColor(array, cv2.COLOR_BGRA2BGR)
    return cv2.cvtColor(array, cv2.COLOR_GRAY2BGR)


def _is_pil_image(obj: object) -> bool:
    # Duck-typed so that PIL stays optional: PIL is never imported here.
    return type(obj).__module__.startswith("PIL.") and hasattr(obj, "mode") and hasattr(obj, "size")


def _from_pil(image: Any, cap: int) -> np.ndarray:
    width, height = image.size
    _check_pixels(width, height, cap, "PIL image")  # before .convert/asarray load the pixels
    if image.mode == "L":
        return cv2.cvtColor(np.asarray(image), cv2.COLOR_GRAY2BGR)
    if image.mode == "RGBA":
        return cv2.cvtColor(np.asarray(image), cv2.COLOR_RGBA2BGR)
    if image.mode != "RGB":
        image = image.convert("RGB")
    return cv2.cvtColor(np.asarray(image), cv2.COLOR_RGB2BGR)
