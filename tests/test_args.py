"""The shared positive-int check: one wording at every entry point, numpy integers accepted."""

import numpy as np
import pytest

import fastfer
from fastfer._args import positive_int
from fastfer.backend.runtime import create_session
from fastfer.scale.parallel import check_workers


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
