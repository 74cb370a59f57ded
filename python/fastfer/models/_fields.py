"""Reading one mapping of a model's spec (the entry, or its input, decoder or crop) with checks
that name the model and the key: every fault is a ModelSpecError, never a KeyError or TypeError
deep inside the detector, the classifier or the native pipeline."""

from __future__ import annotations

import copy
import math
from typing import Any, Iterable, Mapping, NoReturn, Optional

from ..errors import ModelSpecError

_REQUIRED: Any = object()


def is_number(value: object) -> bool:
    """A finite int or float (bools are not numbers here)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


class Fields:
    """``data``, a mapping of model ``model``'s spec; ``part`` names it in messages ("input",
    "decoder", "crop"; "" for the entry itself)."""

    def __init__(self, model: str, part: str, data: Mapping[str, Any]):
        self.model, self.part, self.data = model, part, data

    def fail(self, message: str) -> NoReturn:
        raise ModelSpecError(f"model {self.model!r}: {message}")

    def _what(self, key: str) -> str:
        return f"{self.part} {key}" if self.part else key

    def get(self, key: str, default: Any = _REQUIRED) -> Any:
        if key in self.data:
            return self.data[key]
        if default is _REQUIRED:
            self.fail(f"{self.part or 'the spec'} needs the key {key!r}")
        return default

    def text(self, key: str, default: Any = _REQUIRED) -> str:
        value = self.get(key, default)
        if not isinstance(value, str) or not value:
            self.fail(f"{self._what(key)} must be a non-empty string, got {value!r}")
        return value

    def number(self, key: str, default: Any = _REQUIRED) -> float:
        """A finite number, as given (an int stays an int, so the spec's dict reads as written)."""
        value = self.get(key, default)
        if not is_number(value):
            self.fail(f"{self._what(key)} must be a number, got {value!r}")
        return value

    def integer(self, key: str, default: Any = _REQUIRED) -> int:
        value = self.get(key, default)
        if not is_int(value):
            self.fail(f"{self._what(key)} must be an int, got {value!r}")
        return value

    def optional_integer(self, key: str) -> Optional[int]:
        """An int, or None when the key is missing (or null)."""
        return None if self.data.get(key) is None else self.integer(key)

    def flag(self, key: str, default: Any = _REQUIRED) -> bool:
        value = self.get(key, default)
        if not isinstance(value, bool):
            self.fail(f"{self._what(key)} must be true or false, got {value!r}")
        return value

    def numbers(self, key: str, count: Optional[int] = None) -> tuple[float, ...]:
        """A non-empty list of finite numbers (exactly ``count`` of them when given)."""
        value = self.get(key)
        if (
            not isinstance(value, (list, tuple))
            or not value
            or not all(is_number(v) for v in value)
            or (count is not None and len(value) != count)
        ):
            size = f"{count} numbers" if count is not None else "a list of numbers"
            self.fail(f"{self._what(key)} must be {size}, got {value!r}")
        return tuple(value)

    def notes(self, read: Iterable[str]) -> dict[str, Any]:
        """The keys fastfer does not read (notes, landmark names), copied, in the spec's order:
        kept so that ``ModelSpec.to_dict()`` gives them back."""
        known = set(read)
        return {k: copy.deepcopy(v) for k, v in self.data.items() if k not in known}

    def order(self) -> tuple[str, ...]:
        """The keys in the order the spec gives them."""
        return tuple(self.data)
