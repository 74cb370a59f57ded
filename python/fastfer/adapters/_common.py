"""What the adapters share: the FER they run on, the image they are given, box conversions."""

from __future__ import annotations

from typing import Optional

from ..api import FER


def make_fer(fer: Optional[FER], options: dict) -> FER:
    """``fer`` as it is, or a new :class:`fastfer.FER` of ``options`` (not both)."""
    if fer is None:
        return FER(**options)
    if not isinstance(fer, FER):
        raise TypeError(f"fer must be a fastfer.FER or None, got {type(fer).__name__}")
    if options:
        raise TypeError(f"pass either an existing fer or FER keyword arguments, not both (got {sorted(options)})")
    return fer


def xywh(box) -> list:
    """fastfer's float corners (x1, y1, x2, y2) as whole pixels [x, y, w, h]."""
    x1, y1, x2, y2 = (int(round(v)) for v in box)
    return [x1, y1, x2 - x1, y2 - y1]


def corners(box) -> list:
    """A peer's [x, y, w, h] as fastfer's corners [x1, y1, x2, y2] (floats)."""
    x, y, w, h = (float(v) for v in box)
    return [x, y, x + w, y + h]
