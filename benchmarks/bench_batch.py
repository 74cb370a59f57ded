"""Throughput of FER.analyze_batch on 640x480 frames: batches of 1, 8 and 32, CPU vs CUDA.

Images per second = batch size / median time (printed by pytest-benchmark as the batch's time;
the ratio table compares each batch size with one frame at a time on the CPU). CUDA rows run
only where onnxruntime offers CUDAExecutionProvider (onnxruntime-gpu on a GPU machine).
"""

from __future__ import annotations

import numpy as np
import pytest

import fastfer

GROUP = "FER.analyze_batch, 640x480 frames with one face"


def _frames(count: int) -> list:
    from pathlib import Path

    astronaut = fastfer.load_image(Path(fastfer.__file__).parent / "data" / "astronaut.jpg")
    rng = np.random.default_rng(5)
    frames = []
    for _ in range(count):
        canvas = np.full((480, 640, 3), 120, np.uint8)
        x = int(rng.integers(0, 128))
        canvas[:, x : x + 512] = astronaut[16:496]
        frames.append(canvas)
    return frames


@pytest.fixture(scope="module")
def fers():
    built = {"cpu": fastfer.FER(providers=("cpu",))}
    if "cuda" in fastfer.capabilities()["providers_available"]:
        built["cuda"] = fastfer.FER(providers=("cuda", "cpu"))
    return built


@pytest.mark.benchmark(group=GROUP)
def test_cpu_batch_1_baseline(benchmark, fers):
    frames = _frames(1)
    result = benchmark(fers["cpu"].analyze_batch, frames)
    benchmark.extra_info["images_per_second"] = 1 / benchmark.stats.stats.median
    assert [len(r) for r in result] == [1]


@pytest.mark.benchmark(group=GROUP)
@pytest.mark.parametrize("provider", ["cpu", "cuda"])
@pytest.mark.parametrize("size", [1, 8, 32])
def test_batch(benchmark, fers, provider, size):
    if provider not in fers:
        pytest.skip("onnxruntime offers no CUDAExecutionProvider here (install onnxruntime-gpu on a GPU machine)")
    frames = _frames(size)
    result = benchmark(fers[provider].analyze_batch, frames)
    benchmark.extra_info["images_per_second"] = size / benchmark.stats.stats.median
    assert all(len(r) == 1 for r in result)
