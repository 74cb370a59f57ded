"""Argument checks shared by the public entry points, so one mistake reads the same everywhere."""

from __future__ import annotations

import numbers


def positive_int(value: object, what: str) -> int:
    """``value`` as an int >= 1, or ValueError naming ``what``. numpy integers are accepted; bool
    is refused although it is an int subclass (``workers=True`` is surely a mistake)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{what} must be a positive int, got {value!r}")
    return int(value)
