"""Thread scaling: the native kernels release the GIL, so frames can be prepared in parallel.

Throughput of detector_input over 8 frames with 1 and 2 worker threads (this machine has 2 vCPUs);
the 1-thread run is the baseline, so the ratio is the scaling factor.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from fastfer.backend import kernels


def _frames(frame):
    return [frame] * 8


@pytest.mark.benchmark(group="detector_input x8 frames 1080p -> 640, thread scaling")
def test_threads_1_baseline(benchmark, frame_1080p):
    with ThreadPoolExecutor(1) as pool:
        benchmark(lambda: list(pool.map(lambda f: kernels.detector_input(f, 640), _frames(frame_1080p))))


@pytest.mark.benchmark(group="detector_input x8 frames 1080p -> 640, thread scaling")
def test_threads_2(benchmark, frame_1080p):
    with ThreadPoolExecutor(2) as pool:
        benchmark(lambda: list(pool.map(lambda f: kernels.detector_input(f, 640), _frames(frame_1080p))))
