"""Anchors, decoding and NMS against vectorised numpy and OpenCV."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from _levels import LEVELS, each_level, simd

from fastfer.backend import reference

RETINAFACE = dict(steps=[8, 16, 32], min_sizes=[[16, 32], [64, 128], [256, 512]])


def _random_boxes(n: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    xy = rng.uniform(0, 1000, (n, 2))
    wh = rng.uniform(10, 100, (n, 2))
    return np.hstack([xy, xy + wh]).astype(np.float32), rng.random(n).astype(np.float32)


@pytest.mark.benchmark(group="nms 5,000 random boxes, IoU 0.5")
def test_nms_numpy_baseline(benchmark):
    boxes, scores = _random_boxes(5000)
    benchmark(reference.nms, boxes, scores, 0.5)


@pytest.mark.benchmark(group="nms 5,000 random boxes, IoU 0.5")
def test_nms_opencv(benchmark):
    boxes, scores = _random_boxes(5000)
    xywh = np.hstack([boxes[:, :2], boxes[:, 2:] - boxes[:, :2]])
    benchmark(cv2.dnn.NMSBoxes, xywh.tolist(), scores.tolist(), 0.0, 0.5)


@pytest.mark.benchmark(group="nms 5,000 random boxes, IoU 0.5")
@each_level
def test_nms(benchmark, level):
    boxes, scores = _random_boxes(5000)
    with simd(level) as core:
        kept = benchmark(core.nms, boxes, scores, 0.5)
    assert np.array_equal(kept, reference.nms(boxes, scores, 0.5))


@pytest.mark.benchmark(group="make_anchors RetinaFace 1920x1088")
def test_anchors_numpy_baseline(benchmark):
    benchmark(reference.make_anchors, 1088, 1920, **RETINAFACE)


@pytest.mark.benchmark(group="make_anchors RetinaFace 1920x1088")
def test_anchors(benchmark):
    with simd(LEVELS[-1] if LEVELS else "none") as core:
        benchmark(core.make_anchors, 1088, 1920, **RETINAFACE)


@pytest.mark.benchmark(group="decode_boxes + decode_landmarks, 81,600 anchors")
def test_decode_numpy_baseline(benchmark):
    priors = reference.make_anchors(1088, 1920, **RETINAFACE)
    rng = np.random.default_rng(4)
    deltas, marks = rng.normal(size=(len(priors), 4)), rng.normal(size=(len(priors), 10))
    benchmark(lambda: (reference.decode_boxes(deltas, priors), reference.decode_landmarks(marks, priors)))


@pytest.mark.benchmark(group="decode_boxes + decode_landmarks, 81,600 anchors")
def test_decode(benchmark):
    priors = reference.make_anchors(1088, 1920, **RETINAFACE)
    rng = np.random.default_rng(4)
    deltas = rng.normal(size=(len(priors), 4)).astype(np.float32)
    marks = rng.normal(size=(len(priors), 10)).astype(np.float32)
    with simd(LEVELS[-1] if LEVELS else "none") as core:
        benchmark(lambda: (core.decode_boxes(deltas, priors), core.decode_landmarks(marks, priors)))
