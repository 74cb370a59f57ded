"""The speed claims of docs/speed.md, each a ratio measured in one run with the two sides
interleaved (image by image, the order alternating between rounds), medians over rounds:

- the default ``FER().analyze`` against the previous default (retinaface_mbv2 fp32, max_side
  1600, min_face 0, fernet) on real photos with 1 to 3 faces, at 640x480 and 1920x1080;
- the default against the same models driven idiomatically (benchmarks/_idiomatic.py:
  cv2 + numpy + onnxruntime, same tensor sizes), and the share of fastfer's call spent outside
  ONNX Runtime's Run;
- the default's precision (int8 or float32, chosen by the CPU's features) against the other one;
- two Python threads sharing one ``FER(threads=1)`` against one thread (throughput).

pytest-benchmark times the whole interleaved measurement once; the ratios are in each row's extra
info (printed in the summary, and in ``--benchmark-json``). Run: ``python -m pytest benchmarks/bench_speed.py``
(``FASTFER_SPEED_ROUNDS`` sets the rounds, default 7).
"""

from __future__ import annotations

import os
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from _idiomatic import IdiomaticFer
from _photos import photos

import fastfer
from fastfer import backend, models
from fastfer.models import cpu

SIZES = [(640, 480), (1920, 1080)]
ROUNDS = int(os.environ.get("FASTFER_SPEED_ROUNDS", "7"))
PREVIOUS_DEFAULT = dict(detector="retinaface_mbv2", classifier="fernet", max_side=1600, min_face=0)


@pytest.fixture(scope="module", params=SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def images(request):
    return photos(*request.param)


def _interleaved(sides: dict, images: list, rounds: int) -> dict:
    """Per side, the median over rounds of the mean seconds per image; sides alternate image by
    image, in an order reversed every round."""
    per_round = {name: [] for name in sides}
    names = list(sides)
    for r in range(rounds):
        spent = dict.fromkeys(names, 0.0)
        for img in images:
            for name in names if r % 2 == 0 else names[::-1]:
                start = time.perf_counter()
                sides[name](img)
                spent[name] += time.perf_counter() - start
        for name in names:
            per_round[name].append(spent[name] / len(images))
    return {name: float(np.median(v)) for name, v in per_round.items()}


def _faces(fn, images) -> int:
    return sum(len(fn(img)) for img in images)


@pytest.mark.benchmark(group="speed: default FER vs the previous default")
def test_default_vs_previous_default(benchmark, images):
    new, old = fastfer.FER(threads=1), fastfer.FER(threads=1, **PREVIOUS_DEFAULT)
    sides = {"default": new.analyze, "previous": old.analyze}
    medians = benchmark.pedantic(_interleaved, args=(sides, images, ROUNDS), rounds=1, iterations=1)
    benchmark.extra_info.update(
        {
            "default_ms": 1e3 * medians["default"],
            "previous_default_ms": 1e3 * medians["previous"],
            "speedup_vs_previous_default": medians["previous"] / medians["default"],
            "faces_default": _faces(new.analyze, images),
            "faces_previous_default": _faces(old.analyze, images),
        }
    )


@pytest.mark.benchmark(group="speed: the default's precision (this CPU's choice) vs the other one")
def test_default_precision_vs_the_other(benchmark, images):
    """fastfer.models.cpu picks int8 where the CPU has an 8-bit dot product (VNNI, SDOT), else float32:
    this measures the choice against the other precision of the same models, same min_face."""
    other = "fp32" if models.PRECISION == "int8" else "int8"
    default = fastfer.FER(threads=1)
    alternative = fastfer.FER(*models.default_models(other), threads=1)
    sides = {"default": default.analyze, "other": alternative.analyze}
    medians = benchmark.pedantic(_interleaved, args=(sides, images, ROUNDS), rounds=1, iterations=1)
    benchmark.extra_info.update(
        {
            "default_precision": models.PRECISION,
            "cpu_int8_dot_product": cpu.has_int8_dot_product(),
            "default_ms": 1e3 * medians["default"],
            f"{other}_ms": 1e3 * medians["other"],
            "speedup_vs_other_precision": medians["other"] / medians["default"],
        }
    )


@pytest.mark.benchmark(group="speed: default FER vs the same models in cv2 + numpy + onnxruntime")
def test_default_vs_idiomatic(benchmark, images):
    fer = fastfer.FER(threads=1)
    if fer.inference != "native":
        pytest.skip(f"compares the native pipeline: {fer.native_error}")
    plain = IdiomaticFer(
        fer.detector.spec.name, fer.classifier.spec.name, min_face=fer.detector.min_face, max_side=fer.detector.max_side
    )
    outside = []

    def native(img):
        start = time.perf_counter()
        fer.analyze(img)
        whole = time.perf_counter() - start
        _, inference = backend.native.Pipeline.last_timing()
        outside.append(1.0 - inference / whole)

    sides = {"fastfer": native, "idiomatic": plain}
    medians = benchmark.pedantic(_interleaved, args=(sides, images, ROUNDS), rounds=1, iterations=1)
    benchmark.extra_info.update(
        {
            "fastfer_ms": 1e3 * medians["fastfer"],
            "idiomatic_ms": 1e3 * medians["idiomatic"],
            "speedup_vs_idiomatic": medians["idiomatic"] / medians["fastfer"],
            "fastfer_outside_onnxruntime_share": float(np.median(outside)),
            "faces_fastfer": _faces(fer.analyze, images),
            "faces_idiomatic": _faces(plain, images),
        }
    )


@pytest.mark.benchmark(group="speed: two Python threads over one FER(threads=1)")
def test_two_threads_vs_one(benchmark, images):
    fer = fastfer.FER(threads=1)
    work = images * 4

    def throughput(threads: int) -> float:
        with ThreadPoolExecutor(threads) as pool:
            start = time.perf_counter()
            list(pool.map(fer.analyze, work))
            return len(work) / (time.perf_counter() - start)

    one, two = [], []

    def measure():
        for r in range(max(2, ROUNDS // 2)):
            for n in (1, 2) if r % 2 == 0 else (2, 1):
                (one if n == 1 else two).append(throughput(n))

    benchmark.pedantic(measure, rounds=1, iterations=1)
    benchmark.extra_info.update(
        {
            "images_per_s_1_thread": float(np.median(one)),
            "images_per_s_2_threads": float(np.median(two)),
            "two_thread_scaling": float(np.median(two) / np.median(one)),
        }
    )


def test_defaults_are_what_the_readme_says():
    """The settings measured above are the package's defaults."""
    fer = fastfer.FER(inference="python")
    assert fer.detector.spec.name == models.DEFAULT_DETECTOR
    assert fer.detector.min_face == models.DEFAULT_MIN_FACE
