"""Argument checks shared by the public entry points, so one mistake reads the same everywhere.

Each check refuses bool (an int subclass: ``workers=True`` is surely a mistake), accepts numpy
scalars, and raises ValueError naming the argument, its range and the value given.
"""

from __future__ import annotations

import numbers
from typing import Optional


def _as_int(value: object) -> Optional[int]:
    """``value`` as a Python int if it is an integer (numpy's too) and not a bool, else None."""
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return int(value)
    return None


def _as_float(value: object) -> Optional[float]:
    """``value`` as a Python float if it is a real number (numpy's too) and not a bool, else None."""
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return float(value)
    return None


def positive_int(value: object, what: str) -> int:
    """``value`` as an int >= 1, or ValueError naming ``what``."""
    v = _as_int(value)
    if v is None or v < 1:
        raise ValueError(f"{what} must be a positive int, got {value!r}")
    return v


def int_in(value: object, what: str, lo: int, hi: Optional[int] = None, note: str = "") -> int:
    """``value`` as an int in [lo, hi] (hi None: no upper bound); ``note`` follows the range in
    the message, e.g. ``" (0 = off)"``."""
    v = _as_int(value)
    if v is None or v < lo or (hi is not None and v > hi):
        bounds = f">= {lo}" if hi is None else f"in [{lo}, {hi}]"
        raise ValueError(f"{what} must be an int {bounds}{note}, got {value!r}")
    return v


def number_in(
    value: object,
    what: str,
    lo: float,
    hi: Optional[float] = None,
    *,
    lo_open: bool = False,
    hi_open: bool = False,
    note: str = "",
) -> float:
    """``value`` as a float between ``lo`` and ``hi`` (hi None: no upper bound), each end closed
    unless ``lo_open``/``hi_open``; NaN is refused (it compares false with both ends)."""
    v = _as_float(value)
    if v is None or not (v > lo if lo_open else v >= lo) or not (hi is None or (v < hi if hi_open else v <= hi)):
        if hi is None:
            bounds = f"{'>' if lo_open else '>='} {lo:g}"
        else:
            bounds = f"in {'(' if lo_open else '['}{lo:g}, {hi:g}{')' if hi_open else ']'}"
        raise ValueError(f"{what} must be a number {bounds}{note}, got {value!r}")
    return v


def positive_number(value: object, what: str, unit: str = "") -> float:
    """``value`` as a float > 0 (``unit``, e.g. ``" of seconds"``, follows "number" in the message)."""
    v = _as_float(value)
    if v is None or not v > 0:
        raise ValueError(f"{what} must be a positive number{unit}, got {value!r}")
    return v
