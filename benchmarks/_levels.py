"""Parametrisation over the native SIMD paths, restored after each benchmark."""

from __future__ import annotations

import contextlib

import pytest

from fastfer import _backend

LEVELS = list(_backend.native.available_simd_levels()) if _backend.native else []


@contextlib.contextmanager
def simd(level: str):
    if _backend.native is None:
        pytest.skip(f"native backend not in use ({_backend.native_error})")
    before = _backend.native.simd_level()
    _backend.native.set_simd_level(level)
    try:
        yield _backend.native
    finally:
        _backend.native.set_simd_level(before)


def each_level(func):
    return pytest.mark.parametrize("level", LEVELS or ["none"])(func)
