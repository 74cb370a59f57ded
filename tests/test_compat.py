"""fastfer.compat: outputs shaped like ModelScope's pipelines and the MobileNetV3 BatchSolver."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from _paths import PHOTOS, SHIPPED_PHOTO, needs_shared

import fastfer
from fastfer import compat

ASTRONAUT = SHIPPED_PHOTO
TWO_PEOPLE = PHOTOS / "two_people.jpg"
pytestmark = needs_shared(TWO_PEOPLE)


@pytest.fixture(scope="module")
def fer() -> fastfer.FER:
    return fastfer.FER()


@pytest.fixture(scope="module")
def faceless() -> np.ndarray:
    """A real photo without a face: the lower part of the astronaut (suit and helmet)."""
    return np.ascontiguousarray(fastfer.load_image(ASTRONAUT)[300:])


def test_modelscope_largest_face_scores_and_labels(fer):
    f = compat.modelscope(fer)
    out = f(ASTRONAUT)
    assert set(out) == {"scores", "labels"}
    assert out["labels"] == list(fastfer.LABELS)
    assert len(out["scores"]) == 7 and all(type(s) is float for s in out["scores"])
    assert math.isclose(sum(out["scores"]), 1.0, abs_tol=1e-5)
    assert out["labels"][int(np.argmax(out["scores"]))] == "happy"
    assert json.loads(json.dumps(out)) == out


def test_modelscope_picks_the_largest_face(fer):
    faces = fer.analyze(TWO_PEOPLE)
    assert len(faces) == 2
    area = lambda f: (f.box[2] - f.box[0]) * (f.box[3] - f.box[1])  # noqa: E731
    largest = max(faces, key=area)
    assert compat.modelscope(fer)(TWO_PEOPLE)["scores"] == [float(p) for p in largest.probs]


def test_modelscope_without_a_face(fer, faceless):
    assert fer.analyze(faceless) == []
    assert compat.modelscope(fer)(faceless) == {"scores": [], "labels": []}


def test_modelscope_detection_shape(fer):
    out = compat.modelscope_detection(fer)(TWO_PEOPLE)
    assert set(out) == {"scores", "boxes", "keypoints"}
    assert len(out["scores"]) == len(out["boxes"]) == len(out["keypoints"]) == 2
    assert out["scores"] == sorted(out["scores"], reverse=True)
    faces = fer.detect(TWO_PEOPLE)
    for face, box, kps in zip(faces, out["boxes"], out["keypoints"]):
        assert len(box) == 4 and box[0] < box[2] and box[1] < box[3]
        assert box == list(face.box)
        assert len(kps) == 10 and kps[:2] == [float(v) for v in face.landmarks[0]]  # left eye first
    assert json.loads(json.dumps(out)) == out


def test_modelscope_detection_without_a_face(fer, faceless):
    assert compat.modelscope_detection(fer)(faceless) == {"scores": [], "boxes": [], "keypoints": []}


def test_batch_solver(fer, faceless):
    solve = compat.batch_solver(fer)
    out = solve([ASTRONAUT, faceless, b"\x89PNG\r\n\x1a\n corrupt", TWO_PEOPLE])
    assert set(out) == {"Vector", "Class", "Boxes", "Exist", "Index"}
    assert out["Exist"] == [True, False, False, True]
    assert out["Index"] == [0, 1, 2, 3]
    assert out["Class"][0] == "happy" and out["Class"][1] == out["Class"][2] == ""
    assert out["Class"][3] in fastfer.LABELS
    for i, (vector, box, exist) in enumerate(zip(out["Vector"], out["Boxes"], out["Exist"])):
        assert len(vector) == 7 and len(box) == 4 and all(type(v) is int for v in box)
        if exist:
            assert math.isclose(sum(vector), 1.0, abs_tol=1e-5)
            x, y, w, h = box
            assert x >= 0 and y >= 0 and w > 0 and h > 0
            assert out["Class"][i] == fastfer.LABELS[int(np.argmax(vector))]
        else:
            assert vector == [0.0] * 7 and box == [0, 0, 0, 0]
    # The astronaut's box, as [x, y, w, h], matches what FER.analyze finds.
    (face,) = fer.analyze(ASTRONAUT)
    x, y, w, h = out["Boxes"][0]
    assert np.allclose([x, y, x + w, y + h], face.box, atol=1)
    assert json.loads(json.dumps(out)) == out


def test_batch_solver_empty_batch(fer):
    assert compat.batch_solver(fer)([]) == {"Vector": [], "Class": [], "Boxes": [], "Exist": [], "Index": []}


def test_one_fer_shared_across_constructors(fer):
    callables = [compat.modelscope(fer), compat.modelscope_detection(fer), compat.batch_solver(fer=fer)]
    assert all(f.fer is fer for f in callables)  # the very FER given: no second model loaded
    assert callables[0](ASTRONAUT)["labels"] == list(fastfer.LABELS)
    assert len(callables[1](ASTRONAUT)["boxes"]) == 1
    assert callables[2]([ASTRONAUT])["Class"] == ["happy"]


def test_constructors_build_a_fer_from_kwargs():
    f = compat.modelscope_detection(score_threshold=0.9)
    assert isinstance(f.fer, fastfer.FER) and f.fer.detector.score_threshold == 0.9
    assert len(f(TWO_PEOPLE)["boxes"]) == 2


def test_constructor_arguments_are_checked(fer):
    with pytest.raises(TypeError):
        compat.modelscope(fer, threads=2)  # an existing FER and FER options: ambiguous
    with pytest.raises(TypeError):
        compat.batch_solver("retinaface_mbv2")
