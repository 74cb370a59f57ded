"""Writing images: the one PNG writer behind ``--draw``, the evaluation charts and the bench plot."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Union

import cv2
import numpy as np


def write_png(path: Union[str, os.PathLike], image: np.ndarray, what: str = "image") -> None:
    """Encode ``image`` (BGR or grey uint8) as PNG and write it to ``path``.

    Encoded in memory and written with Python's file API, not ``cv2.imwrite``: OpenCV reports a
    failed write as ``False`` without saying why, and cannot open a name that is not valid UTF-8;
    an ``OSError`` from the write names the file and the reason. ``what`` names the image in the
    error raised when encoding fails (e.g. "the PR-curve image")."""
    ok, data = cv2.imencode(".png", image)
    if not ok:
        raise OSError(f"cannot encode {what} for {path}")
    Path(path).write_bytes(data.tobytes())
