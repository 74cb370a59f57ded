"""Fuzz target: the PPM/PGM reader of the C++ example (examples/cpp/analyze_image.cpp), through
tests/fuzz/ppm_harness.cpp built with ASan/UBSan (its path in FASTFER_FUZZ_PPM_LIBRARY).

Invariant: the reader returns a non-empty image whose pixel buffer matches its size (every pixel
is read back in the harness), or refuses the file with its own std::runtime_error; any other
exception is a finding, and memory errors abort under the sanitizers.
"""

from __future__ import annotations

import ctypes
import os
import tempfile

from _harness import fuzz

LIB = ctypes.CDLL(os.environ["FASTFER_FUZZ_PPM_LIBRARY"])
LIB.fastfer_fuzz_read_pnm.argtypes = [
    ctypes.c_char_p,
    ctypes.POINTER(ctypes.c_int),
    ctypes.POINTER(ctypes.c_int),
    ctypes.POINTER(ctypes.c_ulonglong),
    ctypes.c_char_p,
    ctypes.c_size_t,
]
# The reader takes a path: one scratch file, in the folder run.py provides and removes (libFuzzer
# exits without running Python's clean-up).
_FD, _PATH = tempfile.mkstemp(prefix="fastfer_fuzz_", suffix=".ppm", dir=os.environ.get("FASTFER_FUZZ_SCRATCH"))


def TestOneInput(data: bytes) -> None:
    os.ftruncate(_FD, 0)
    os.pwrite(_FD, data, 0)
    width, height, checksum = ctypes.c_int(0), ctypes.c_int(0), ctypes.c_ulonglong(0)
    error = ctypes.create_string_buffer(512)
    rc = LIB.fastfer_fuzz_read_pnm(
        _PATH.encode(), ctypes.byref(width), ctypes.byref(height), ctypes.byref(checksum), error, len(error)
    )
    assert rc in (0, 1), f"reader failed with code {rc} (2: an exception that is not runtime_error)"
    if rc == 0:
        assert width.value > 0 and height.value > 0, (width.value, height.value)
        assert data[:2] in (b"P5", b"P6"), data[:2]


if __name__ == "__main__":
    fuzz(TestOneInput)
