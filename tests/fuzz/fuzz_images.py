"""Fuzz target: the image loader (header reader, decode, pixel cap).

Invariant: ``load_image(data, max_pixels=CAP)`` either returns an H×W×3 uint8 array of at most
CAP pixels, or raises one of the documented refusals (a fastfer.Error such as ImageDecodeError or
ImageTooLargeError). No file may yield more pixels than the cap, whatever its header says; the
header reader alone raises only ImageDecodeError.
"""

from __future__ import annotations

import numpy as np
from _harness import fuzz, instrument_fastfer

from fastfer import load_image
from fastfer.errors import Error, ImageDecodeError
from fastfer.io.image_header import image_size

instrument_fastfer()

CAP = 1 << 16  # pixels: small, so that a cap bypass shows at once and decoding stays fast


def TestOneInput(data: bytes) -> None:
    try:
        image_size(data)
    except ImageDecodeError:
        pass
    try:
        image = load_image(data, max_pixels=CAP)
    except Error:
        return
    assert isinstance(image, np.ndarray) and image.dtype == np.uint8, type(image)
    assert image.ndim == 3 and image.shape[2] == 3, image.shape
    assert image.shape[0] * image.shape[1] <= CAP, f"cap bypassed: {image.shape} from {len(data)} bytes"


if __name__ == "__main__":
    fuzz(TestOneInput)
