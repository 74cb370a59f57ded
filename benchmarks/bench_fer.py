"""FER.analyze end to end: the C++ pipeline (one GIL-free call, ONNX Runtime's C API) against the
Python path (onnxruntime's Python API + the same kernels), on a 640x480 photo with one face,
1 thread. The native rows also report the share of the call spent outside ONNX Runtime's Run."""

from __future__ import annotations

import time

import numpy as np
import pytest

import fastfer
from fastfer import backend

GROUP = "FER.analyze, 640x480 photo with one face, 1 thread"


@pytest.fixture(scope="module")
def photo_640x480() -> np.ndarray:
    """The shipped astronaut photo centred on a 640x480 grey canvas."""
    from pathlib import Path

    astronaut = fastfer.load_image(Path(fastfer.__file__).parent / "data" / "astronaut.jpg")
    canvas = np.full((480, 640, 3), 120, np.uint8)
    canvas[:, 64:576] = astronaut[16:496]
    return canvas


@pytest.mark.benchmark(group=GROUP)
def test_fer_analyze_python_baseline(benchmark, photo_640x480):
    fer = fastfer.FER(inference="python")
    faces = benchmark(fer.analyze, photo_640x480)
    assert [f.label for f in faces] == ["happy"]


@pytest.mark.benchmark(group=GROUP)
def test_fer_analyze_native(benchmark, photo_640x480):
    reason = fastfer.capabilities()["inference_error"]
    if reason:
        pytest.skip(f"native inference unavailable: {reason}")
    fer = fastfer.FER(inference="native")
    shares = []

    def run():
        # The whole Python call (image check, C++ pipeline, Face objects) against the time the
        # pipeline spent inside ONNX Runtime's Run.
        start = time.perf_counter()
        faces = fer.analyze(photo_640x480)
        whole = time.perf_counter() - start
        _, inference = backend.native.Pipeline.last_timing()
        shares.append(1.0 - inference / whole)
        return faces

    faces = benchmark(run)
    assert [f.label for f in faces] == ["happy"]
    benchmark.extra_info["outside_run_share_median"] = float(np.median(shares))
    benchmark.extra_info["outside_run_share_p90"] = float(np.percentile(shares, 90))
