"""Argument checks shared by the public entry points, so one mistake reads the same everywhere.

Each check refuses bool (an int subclass: ``workers=True`` is surely a mistake), accepts numpy
scalars, and raises ValueError naming the argument, its range and the value given.
"""

from __future__ import annotations

import numbers
from typing import Optional


def positive_int(value: object, what: str) -> int:
    """``value`` as an int >= 1, or ValueError naming ``what``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{what} must be a positive int, got {value!r}")
    return int(value)


def int_in(value: object, what: str, lo: int, hi: Optional[int] = None, note: str = "") -> int:
    """``value`` as an int in [lo, hi] (hi None: no upper bound); ``note`` follows the range in
    the message, e.g. ``" (0 = off)"``."""
    ok = isinstance(value, numbers.Integral) and not isinstance(value, bool)
    if ok:
        v = int(value)  # type: ignore[call-overload]
        ok = v >= lo and (hi is None or v <= hi)
    if not ok:
        bounds = f">= {lo}" if hi is None else f"in [{lo}, {hi}]"
        raise ValueError(f"{what} must be an int {bounds}{note}, got {value!r}")
    return int(value)  # type: ignore[call-overload]


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
    unless ``lo_open``/``hi_open``; NaN is refused."""
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool)
    if ok:
        v = float(value)  # type: ignore[arg-type]
        ok = (v > lo if lo_open else v >= lo) and (hi is None or (v < hi if hi_open else v <= hi))
    if not ok:
        if hi is None:
            bounds = f"{'>' if lo_open else '>='} {lo:g}"
        else:
            bounds = f"in {'(' if lo_open else '['}{lo:g}, {hi:g}{')' if hi_open else ']'}"
        raise ValueError(f"{what} must be a number {bounds}{note}, got {value!r}")
    return float(value)  # type: ignore[arg-type]


def positive_number(value: object, what: str, unit: str = "") -> float:
    """``value`` as a float > 0 (``unit``, e.g. ``" of seconds"``, follows "number" in the message)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not float(value) > 0:
        raise ValueError(f"{what} must be a positive number{unit}, got {value!r}")
    return float(value)
