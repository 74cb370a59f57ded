"""The scales: images/s of ``analyze`` on the WIDER dev images with 1 and 2 workers, on one machine
(``FER.analyze_many``: 2 threads, 2 processes) and on a local 2-CPU Ray cluster
(``fastfer.scale.ray.analyze``: 2 actors), each against its one-worker baseline.

Besides pytest-benchmark's own ratio (runs one after the other), every 2-worker row runs its
baseline before each of its rounds (untimed by pytest-benchmark, timed here) and reports in
``extra_info`` ``ratio_vs_1_worker_interleaved``, the median over rounds of baseline time / its
time, which compares runs under the same machine load, and ``images_per_s``. Pool and actor
start-up (each worker loads its models) is inside the timing, as a user pays it per call; the Ray
cluster's start and its first job (worker processes importing fastfer) are not. One more Ray row,
``test_ray_two_actors_after_start``, runs 1 and 2 actors alternately and reports their images/s
from each job's first output batch to its last, which leaves out most of the per-job actor start.

    python -m pytest benchmarks/bench_scale.py                    # the 320 images, 1 round
    FASTFER_BENCH_IMAGES=64 FASTFER_BENCH_ROUNDS=3 python -m pytest benchmarks/bench_scale.py
"""

from __future__ import annotations

import os
import statistics
import time
from pathlib import Path

import pytest

import fastfer

SHARED = Path(os.environ.get("FASTFER_SHARED", "").strip() or Path(__file__).resolve().parents[2] / "shared")
WIDER_DEV = SHARED / "data" / "detection" / "wider_val_dev" / "images"
IMAGES = int(os.environ.get("FASTFER_BENCH_IMAGES", "320"))
ROUNDS = int(os.environ.get("FASTFER_BENCH_ROUNDS", "1"))


@pytest.fixture(scope="module")
def paths() -> list:
    if not WIDER_DEV.is_dir():
        pytest.skip(f"{WIDER_DEV} is absent (the team's data: ../shared beside the checkout, or FASTFER_SHARED)")
    return sorted(WIDER_DEV.rglob("*.jpg"))[:IMAGES]


def measure(benchmark, run, count: int, baseline=None) -> None:
    """Times ``run`` over ROUNDS rounds (with ``baseline`` run just before each) and records
    images/s and the interleaved ratio to the baseline, medians over the rounds."""
    times: dict = {"run": [], "baseline": []}

    def timed(key, func):
        start = time.perf_counter()
        func()
        times[key].append(time.perf_counter() - start)

    benchmark.pedantic(
        lambda: timed("run", run),
        setup=(lambda: timed("baseline", baseline)) if baseline else None,
        rounds=ROUNDS,
        iterations=1,
    )
    benchmark.extra_info["images_per_s"] = count / statistics.median(times["run"])
    if baseline:
        benchmark.extra_info["ratio_vs_1_worker_interleaved"] = statistics.median(
            b / r for b, r in zip(times["baseline"], times["run"])
        )


@pytest.fixture(scope="module")
def fer() -> fastfer.FER:
    return fastfer.FER()


def many(fer, paths, workers: int, mode: str = "thread"):
    return lambda: sum(1 for _ in fer.analyze_many(paths, workers=workers, mode=mode))


MACHINE = "scale: one machine, FER.analyze_many"


@pytest.mark.benchmark(group=MACHINE)
def test_one_worker_baseline(benchmark, fer, paths):
    measure(benchmark, many(fer, paths, 1), len(paths))


@pytest.mark.benchmark(group=MACHINE)
@pytest.mark.parametrize("mode", ["thread", "process"])
def test_two_workers(benchmark, fer, paths, mode):
    measure(benchmark, many(fer, paths, 2, mode), len(paths), baseline=many(fer, paths, 1))


RAY = "scale: Ray cluster of 2 CPUs, fastfer.scale.ray.analyze"


@pytest.fixture(scope="module")
def ray_cluster(paths):
    ray = pytest.importorskip("ray", reason="pip install 'fastfer[ray]'")
    import fastfer.scale.ray

    ray.init(num_cpus=2, include_dashboard=False, logging_level="warning")
    ray.data.DataContext.get_current().enable_progress_bars = False
    fastfer.scale.ray.analyze(paths[:4], actors=2).count()  # untimed: worker processes import fastfer
    yield fastfer.scale.ray
    ray.shutdown()


def actors(fastfer_ray, paths, count: int):
    return lambda: fastfer_ray.analyze(paths, actors=count, batch_size=8).count()


@pytest.mark.benchmark(group=RAY)
def test_ray_one_actor_baseline(benchmark, ray_cluster, paths):
    measure(benchmark, actors(ray_cluster, paths, 1), len(paths))


@pytest.mark.benchmark(group=RAY)
def test_ray_two_actors(benchmark, ray_cluster, paths):
    measure(benchmark, actors(ray_cluster, paths, 2), len(paths), baseline=actors(ray_cluster, paths, 1))


def steady_images_per_s(fastfer_ray, paths, count: int) -> float:
    """Images/s of one job once its actors are up, without most of the per-job start (fresh actor
    processes loading models), which on a small machine hides what more actors bring. An output
    batch is one read block, analysed by one actor, and the actors' first blocks arrive together:
    the window opens at the first arrival and counts only the images after the first ``count``
    batches (one per actor), so no actor's first block counts without its analysis time (a later
    starting actor makes this err low, never high)."""
    arrivals = []
    for batch in fastfer_ray.analyze(paths, actors=count, batch_size=8).iter_batches(
        batch_size=None, batch_format="pyarrow"
    ):
        arrivals.append((time.perf_counter(), set(batch.column("path").to_pylist())))
    if len(arrivals) <= count:
        return float("nan")
    before = set().union(*(seen for _, seen in arrivals[:count]))
    after = set().union(*(seen for _, seen in arrivals[count:])) - before
    return len(after) / (arrivals[-1][0] - arrivals[0][0])


@pytest.mark.benchmark(group=RAY)
def test_ray_two_actors_after_start(benchmark, ray_cluster, paths):
    rates: dict = {1: [], 2: []}

    def both():
        for count in (1, 2):
            rates[count].append(steady_images_per_s(ray_cluster, paths, count))

    benchmark.pedantic(both, rounds=ROUNDS, iterations=1)
    benchmark.extra_info["images_per_s_1_actor_after_start"] = statistics.median(rates[1])
    benchmark.extra_info["images_per_s_2_actors_after_start"] = statistics.median(rates[2])
    benchmark.extra_info["ratio_after_start_interleaved"] = statistics.median(
        two / one for one, two in zip(rates[1], rates[2])
    )
