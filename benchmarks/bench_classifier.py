"""Latency of the expression classifiers on one thread: per face, at batch 1 and batch 32.

Each timing is one ``Classifier.infer`` call on a batch already in the model's input format, so it
is the model itself (ONNX Runtime, 1 intra-op thread) plus fastfer's output reordering. The
``ms_per_face`` extra is median / batch size. Issue 6's bar for the default classifier: at most
3 ms per face at batch 1 and 2.5 ms per face at batch 32. The baseline of each group is
mini-Xception, the classifier fastfer replaced as its default, measured in the same run.
"""

from __future__ import annotations

import numpy as np
import pytest

from fastfer import models
from fastfer.core.classifier import Classifier

CLASSIFIERS = models.available("classifier")


@pytest.fixture(scope="module")
def classifiers():
    return {name: Classifier(name, threads=1) for name in CLASSIFIERS}


def _batch(classifier: Classifier, n: int) -> np.ndarray:
    """n faces of a random photo, cropped and normalised into the model's input by crop_batch."""
    image = np.random.default_rng(n).integers(0, 256, (256, 256, 3), dtype=np.uint8)
    boxes = np.tile([40.0, 40.0, 200.0, 200.0], (n, 1)) + np.arange(n)[:, None] % 16
    return classifier.crop_batch(image, boxes)


def _run(benchmark, classifier: Classifier, n: int):
    batch = _batch(classifier, n)
    probs = benchmark(classifier.infer, batch)
    benchmark.extra_info["ms_per_face"] = benchmark.stats.stats.median * 1e3 / n
    assert probs.shape == (n, 7) and np.allclose(probs.sum(axis=1), 1, atol=1e-4)


BATCHES = [1, 32]


@pytest.mark.parametrize("n", BATCHES)
def test_mini_xception_baseline(benchmark, classifiers, n):
    benchmark.group = f"classifier, batch {n}, 1 thread"
    _run(benchmark, classifiers["mini_xception"], n)


@pytest.mark.parametrize("n", BATCHES)
@pytest.mark.parametrize("name", [n for n in CLASSIFIERS if n != "mini_xception"])
def test_classifier(benchmark, classifiers, name, n):
    benchmark.group = f"classifier, batch {n}, 1 thread"
    _run(benchmark, classifiers[name], n)
