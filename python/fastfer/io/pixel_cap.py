"""The process-wide pixel cap's default, and OpenCV's own decoder limit set to match it.

fastfer sizes every encoded image from its headers before decoding (:mod:`fastfer.io.image_header`).
As a second line of defence, OpenCV is asked to refuse, before allocating, any image larger than
the default cap (FASTFER_MAX_PIXELS, but never below the built-in 100 megapixels, so that the cap
can still be raised to there after import): OpenCV reads ``OPENCV_IO_MAX_IMAGE_PIXELS`` once,
when its library is loaded, and checks every decoder's own idea of the size against it. So this
module sets that variable (unless the user already did) and must run before ``cv2`` is first
imported; ``fastfer/__init__.py`` imports it first. When ``cv2`` was imported earlier, OpenCV
keeps its default (2**30 pixels) and only fastfer's header check and decoded-size check apply.
"""

from __future__ import annotations

import os
import sys

from .._args import positive_int

BUILTIN_MAX_PIXELS = 100_000_000
OPENCV_LIMIT_ENV = "OPENCV_IO_MAX_IMAGE_PIXELS"


def max_pixels_from_env() -> int:
    """FASTFER_MAX_PIXELS, else the built-in default; ValueError when it is not a positive int."""
    raw = os.environ.get("FASTFER_MAX_PIXELS", "").strip()
    if not raw:
        return BUILTIN_MAX_PIXELS
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"FASTFER_MAX_PIXELS must be a positive integer, got {raw!r}") from None
    return positive_int(value, "FASTFER_MAX_PIXELS")


def _limit_opencv_decoders() -> bool:
    """Sets OpenCV's decoder limit to the default cap when cv2 is not loaded yet and the user
    has not chosen a limit; True when OpenCV will use it."""
    if "cv2" in sys.modules:
        return False
    # Never below the built-in cap: OpenCV's limit cannot change once it has loaded, while
    # fastfer's own cap can (set_max_pixels, --max-pixels), and fastfer's header and decoded-size
    # checks already hold any lower cap.
    os.environ.setdefault(OPENCV_LIMIT_ENV, str(max(max_pixels_from_env(), BUILTIN_MAX_PIXELS)))
    return True


OPENCV_LIMITED = _limit_opencv_decoders()
