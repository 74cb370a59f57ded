"""The shared argument checks (fastfer._args): one wording at every entry point, numpy scalars
accepted, bool and NaN refused."""

import json

import numpy as np
import pytest

import fastfer
from fastfer._args import int_in, number_in, positive_int, positive_number
from fastfer.backend.runtime import create_session
from fastfer.eval.widerface import evaluate
from fastfer.scale.parallel import check_workers
from fastfer.serve.config import ServeConfig
from fastfer.video.cuts import CutDetector
from fastfer.video.smoothing import check_alpha
from fastfer.video.tracking import Tracker


@pytest.mark.parametrize("value", [1, 7, np.int64(3), np.uint8(2)])
def test_positive_ints_come_back_as_python_ints(value):
    got = positive_int(value, "workers")
    assert got == int(value) and type(got) is int


@pytest.mark.parametrize("value", [0, -1, True, False, 1.0, "2", None, np.float32(2)])
def test_anything_else_is_a_value_error_naming_the_argument(value):
    with pytest.raises(ValueError, match=r"^frames must be a positive int, got "):
        positive_int(value, "frames")


def test_numpy_integers_reach_onnx_runtime_and_the_pool_as_ints():
    session = create_session(fastfer.models.DEFAULT_CLASSIFIER, threads=np.int64(1))
    assert session.get_session_options().intra_op_num_threads == 1
    assert check_workers(np.int32(2)) == 2
    with pytest.raises(ValueError, match="threads must be a positive int"):
        create_session(fastfer.models.DEFAULT_CLASSIFIER, threads=True)


@pytest.mark.parametrize(
    "check, value, message",
    [
        (lambda v: int_in(v, "max_missed", 0), -1, r"^max_missed must be an int >= 0, got -1$"),
        (lambda v: int_in(v, "min_face", 0, 65536, note=" (0 = off)"), 65537, r"in \[0, 65536\] \(0 = off\)"),
        (lambda v: int_in(v, "n", 0), True, r"^n must be an int >= 0, got True$"),
        (lambda v: int_in(v, "n", 0), 2.0, r"got 2.0$"),
        (lambda v: number_in(v, "iou", 0, 1, lo_open=True), 0, r"^iou must be a number in \(0, 1\], got 0$"),
        (lambda v: number_in(v, "t", -1, 1, lo_open=True, hi_open=True), 1.0, r"in \(-1, 1\), got 1.0$"),
        (lambda v: number_in(v, "x", 0, 1), float("nan"), r"got nan$"),
        (lambda v: number_in(v, "x", 0, 1), "0.5", r"got '0.5'$"),
        (lambda v: number_in(v, "min_face", 0, note=" (pixels)"), -2, r"^min_face must be a number >= 0 \(pixels\)"),
        (lambda v: positive_number(v, "timeout", " of seconds"), 0, r"^timeout must be a positive number of seconds"),
        (lambda v: positive_number(v, "fps"), False, r"^fps must be a positive number, got False$"),
    ],
)
def test_each_check_names_the_argument_its_range_and_the_value(check, value, message):
    with pytest.raises(ValueError, match=message):
        check(value)


def test_numbers_in_range_come_back_as_python_scalars():
    assert int_in(np.int32(65536), "min_face", 0, 65536) == 65536
    got = number_in(np.float32(0.5), "nms_iou", 0, 1)
    assert got == 0.5 and type(got) is float
    assert positive_number(np.int64(25), "fps") == 25.0


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: fastfer.FER(nms_iou=1.5), "nms_iou must be a number in [0, 1], got 1.5"),
        (lambda: fastfer.FER(min_face=-1), "min_face must be an int in [0, 65536] (0 = off), got -1"),
        (lambda: fastfer.FER(max_faces=0), "max_faces must be a positive int, got 0"),
        (lambda: Tracker(iou_threshold=0), "iou_threshold must be a number in (0, 1], got 0"),
        (lambda: Tracker(max_missed=-1), "max_missed must be an int >= 0, got -1"),
        (lambda: CutDetector(threshold=1), "threshold must be a number in (-1, 1), got 1"),
        (lambda: check_alpha(0), "smoothing must be a number in (0, 1] (the weight of the newest frame"),
        (lambda: ServeConfig(queue_size=-1), "queue_size must be an int >= 0, got -1"),
        (lambda: ServeConfig(timeout=float("nan")), "timeout must be a positive number of seconds, got nan"),
    ],
)
def test_the_public_entry_points_use_the_shared_wording(make, message):
    with pytest.raises(ValueError) as caught:
        make()
    assert message in str(caught.value)


def test_checked_numpy_scalars_are_kept_as_python_numbers_where_they_reach_json():
    config = ServeConfig(workers=np.int64(2), queue_size=np.uint8(3), timeout=np.float32(5), max_pixels=np.int32(10))
    public = config.public()
    assert [type(public[k]) for k in ("workers", "queue_size", "timeout", "max_pixels")] == [int, int, float, int]
    assert json.loads(json.dumps(public))["timeout"] == 5.0

    empty = np.zeros(0, np.int64)
    truth = {"e/a.jpg": {"boxes": np.zeros((0, 4)), "easy": empty, "medium": empty, "hard": empty}}
    result = evaluate({}, truth, images=["e/a.jpg"], min_face=np.int64(24))
    assert type(result["min_face"]) is int
