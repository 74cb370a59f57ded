"""Arrays that went through pickle (as every array sent to a worker process does) are read like
the originals: numpy gives them a dtype object equal to, not the same as, the usual one, and the
native kernels compare dtypes by value."""

from __future__ import annotations

import pickle

import cv2
import numpy as np
import pytest
from _many_images import SHIPPED_PHOTO

import fastfer
from fastfer.backend import kernels, reference
from fastfer.scale import parallel


def round_trip(array: np.ndarray) -> np.ndarray:
    return pickle.loads(pickle.dumps(array))


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    image = cv2.imread(str(SHIPPED_PHOTO))
    assert image is not None
    return image


@pytest.fixture(scope="module", params=["native", "python"])
def fer(request) -> fastfer.FER:
    if request.param == "native" and fastfer.capabilities()["inference_error"] is not None:
        pytest.skip("native inference unavailable")
    return fastfer.FER(inference=request.param)


def test_a_pickled_image_is_a_distinct_dtype_object_of_equal_value(photo):
    copy = round_trip(photo)
    assert copy.dtype == np.uint8 and copy.dtype is not photo.dtype  # what the kernels must accept


def test_analyze_and_detect_read_a_pickled_image_like_the_original(fer, photo):
    faces = fer.analyze(photo)
    assert faces and fer.analyze(round_trip(photo)) == faces
    assert fer.detect(round_trip(photo)) == fer.detect(photo)


def test_analyze_batch_reads_pickled_images(fer, photo):
    assert fer.analyze_batch([round_trip(photo), round_trip(photo)]) == [fer.analyze(photo)] * 2


def test_classify_reads_pickled_crops(fer, photo):
    crops = np.stack([cv2.resize(cv2.cvtColor(photo, cv2.COLOR_BGR2GRAY), (48, 48))] * 2)
    np.testing.assert_array_equal(fer.classify(round_trip(crops)), fer.classify(crops))


@pytest.mark.parametrize("module", [kernels, reference], ids=["active", "twin"])
def test_kernels_read_pickled_arrays(module, photo):
    small = photo[:96, :128].copy()
    boxes = np.array([[10.0, 12.0, 70.0, 80.0]], dtype=np.float32)
    np.testing.assert_array_equal(module.resize(round_trip(small), 40, 30), module.resize(small, 40, 30))
    np.testing.assert_array_equal(module.to_gray(round_trip(small)), module.to_gray(small))
    tensor, scale = module.detector_input(round_trip(small), 64)
    expected, expected_scale = module.detector_input(small, 64)
    np.testing.assert_array_equal(tensor, expected)
    assert scale == expected_scale
    np.testing.assert_array_equal(
        module.face_input(round_trip(small), round_trip(boxes), size=24),
        module.face_input(small, boxes, size=24),
    )


def test_processes_analyze_in_memory_images(photo):
    expected = fastfer.FER().analyze(photo)
    got = list(parallel.analyze_many([photo, photo[:, ::-1].copy()], workers=2, mode="process"))
    assert got[0] == expected and isinstance(got[1], list)
