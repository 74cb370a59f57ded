"""Benchmark set-up: one thread everywhere, and a ratio table at the end of the run.

Every benchmark belongs to a group; inside a group the one named ``..._baseline`` (the idiomatic
OpenCV / numpy way) is the reference, and the summary prints ``baseline median / median`` for the
others, so each speed claim is a ratio measured in the same run on the same machine.
"""

from __future__ import annotations

import os
import platform

import cv2
import numpy as np
import pytest

cv2.setNumThreads(1)


def pytest_configure(config):
    # Allocate and free a large block once so glibc raises its mmap threshold now: otherwise the
    # first few hundred calls of whichever side allocates big arrays pay fresh page faults, which
    # measures the allocator rather than the kernels (it can make a 0.6 ms baseline take 4 ms).
    block = np.ones(64 << 20, np.uint8)
    del block


@pytest.fixture(scope="session")
def frame_1080p() -> np.ndarray:
    return np.random.default_rng(1).integers(0, 256, (1080, 1920, 3), dtype=np.uint8)


@pytest.fixture(scope="session")
def frame_vga() -> np.ndarray:
    return np.random.default_rng(2).integers(0, 256, (480, 640, 3), dtype=np.uint8)


def _machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    import fastfer

    caps = fastfer.capabilities()
    return f"{cpu}, {os.cpu_count()} logical CPUs; fastfer backend={caps['backend']} simd={caps['simd']}"


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    session = getattr(config, "_benchmarksession", None)
    if session is None or not session.benchmarks:
        return
    groups: dict[str, list] = {}
    for bench in session.benchmarks:
        groups.setdefault(bench.group or "", []).append(bench)
    tr = terminalreporter
    tr.section("speed ratios (baseline median / median; > 1 means faster than the baseline)")
    tr.write_line(_machine())
    for group, benches in sorted(groups.items()):
        baseline = [b for b in benches if b.name.split("[")[0].endswith("_baseline")]
        if not baseline:  # the ratios were measured inside each benchmark (bench_speed.py)
            tr.write_line(f"\n{group}")
            for b in benches:
                tr.write_line(f"  {b.name}")
                for key, value in b.extra_info.items():
                    tr.write_line(f"      {key}: {value:.4g}" if isinstance(value, float) else f"      {key}: {value}")
            continue
        base = baseline[0].stats.median
        tr.write_line(f"\n{group}  (baseline {baseline[0].name}: {base * 1e3:.3f} ms)")
        for b in sorted(benches, key=lambda b: b.stats.median):
            if b is baseline[0]:
                continue
            tr.write_line(f"  {b.name:<75} {b.stats.median * 1e3:9.3f} ms  {base / b.stats.median:6.2f}x")
            for key, value in sorted(b.extra_info.items()):
                tr.write_line(f"      {key}: {value:.4f}")
