"""``fastfer.video.cuts``: hard cuts between shots, so that no track runs across one.

The tracker matches faces by where they are: across a cut from one person to another at the
same place it would carry the first person's track id, and its smoothed expression, onto the
second. A cut changes the whole picture from one frame to the next, which the faces' motion, the
camera's and its exposure do not: each frame is shrunk to a 32×24 grey thumbnail, and a cut is
where two consecutive thumbnails correlate (Pearson) below :data:`CUT_CORRELATION`. The
correlation ignores brightness and contrast, so an exposure drift, a flicker or a flash is no cut.
A flat frame (black, blank) is none either: the next picture is compared with the one before it.

The figures behind the threshold (``tools/measure_cuts.py``, docs/video.md): consecutive frames
of the tests' moving-face clips (pixel noise up to 28 grey levels, or JPEG) correlate at least
0.87, of 10 px/frame pans over the 12 team photos 0.88, 1.5%/frame zooms 0.95, a face coming
twice closer in 20 frames 0.81, a brightness ramp or a flicker 0.996, a one-frame ×2.2 flash
0.91; two different photos at most 0.55 (132 pairs), two people framed alike (the face at the
same place and size) at most 0.41. What this does not see: one face swapped for another while
the rest of a busy picture stays (0.86 to 0.97); and a whip pan of 30 px/frame at 640×480 (down
to 0.44) is a cut.
"""

from __future__ import annotations

from typing import Optional

import cv2
import numpy as np

from .._args import number_in

#: Consecutive thumbnails correlating less than this are a cut.
CUT_CORRELATION = 0.7
#: The thumbnail's width and height: small enough that a face's own motion between two frames
#: moves it by a fraction of a thumbnail pixel, large enough to tell two shots apart.
THUMBNAIL = (32, 24)
#: A thumbnail whose grey levels vary less than this (standard deviation) is flat: a black or
#: blank frame, whose correlation with anything means nothing.
FLAT_STD = 2.0


def thumbnail(image: np.ndarray) -> np.ndarray:
    """``image`` (H×W×3 BGR uint8) as a 32×24 grey float32 thumbnail."""
    width, height = THUMBNAIL
    # Bilinear to 4× the size, then 4×4 block means: each thumbnail pixel averages 16 samples,
    # so that pixel noise and fine texture average out, at a small fraction of the cost of an
    # area average over the whole frame (about 0.3 ms for 640×480 here, 6 ms for 1080p).
    wide = cv2.resize(image, (4 * width, 4 * height), interpolation=cv2.INTER_LINEAR)
    small = cv2.resize(wide, (width, height), interpolation=cv2.INTER_AREA)
    return cv2.cvtColor(small, cv2.COLOR_BGR2GRAY).astype(np.float32)


class CutDetector:
    """Says, frame after frame, whether a frame starts a new shot. One per stream, fed every
    processed frame in order; not thread-safe.

    Args:
        threshold: consecutive thumbnails correlating less than this are a cut (default
            :data:`CUT_CORRELATION`).
    """

    def __init__(self, threshold: float = CUT_CORRELATION):
        self.threshold = number_in(threshold, "threshold", -1, 1, lo_open=True, hi_open=True)
        self._size: Optional[tuple] = None  # the previous frame's (height, width)
        # The last thumbnail that was not flat, zero-mean and of norm 1: a frame after a flat one
        # is compared with the picture before it, so that a black frame inside a shot (a camera's
        # glitch, a fade out and in) is no cut, and one between two shots is.
        self._reference: Optional[np.ndarray] = None

    def update(self, image: np.ndarray) -> bool:
        """Whether ``image`` starts a new shot: False for the first frame and for flat ones."""
        size, previous_size = image.shape[:2], self._size
        self._size = size
        if previous_size is not None and size != previous_size:
            # Another picture: the tracks' boxes are in the old one's pixels.
            self._reference = self._unit(image)
            return True
        unit = self._unit(image)
        if unit is None:  # nothing to tell apart, and no face
            return False
        reference, self._reference = self._reference, unit
        return reference is not None and float(unit @ reference) < self.threshold

    @staticmethod
    def _unit(image: np.ndarray) -> Optional[np.ndarray]:
        """The thumbnail as a zero-mean vector of norm 1 (dot products are correlations), or
        None when it is flat."""
        grey = thumbnail(image).ravel()
        grey -= grey.mean()
        spread = float(np.sqrt(np.mean(grey * grey)))
        return grey / (spread * np.sqrt(grey.size)) if spread >= FLAT_STD else None
