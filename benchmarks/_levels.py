"""Parametrisation over the native SIMD paths, restored after each benchmark."""

from __future__ import annotations

import contextlib

import pytest

from fastfer import backend

LEVELS = list(backend.native.available_simd_levels()) if backend.native else []


@contextlib.contextmanager
def simd(level: str):
    if backend.native is None:
        pytest.skip(f"native backend not in use ({backend.native_error})")
    before = backend.native.simd_level()
    backend.native.set_simd_level(level)
    try:
        yield backend.native
    finally:
        backend.native.set_simd_level(before)


def each_level(func):
    return pytest.mark.parametrize("level", LEVELS or ["none"])(func)
