"""fastfer.adapters (issue 22, C5): the ``fer`` package's ``FER`` and deepface's
``DeepFace.analyze`` on fastfer's models, checked against the shapes those libraries document
(keys, types, ranges), on the photo fastfer ships, with the real models."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
from _paths import SHIPPED_PHOTO

import fastfer
from fastfer.adapters.deepface import DeepFace
from fastfer.adapters.fer import FER

# The order both libraries give (FER2013's): fer's emotion_labels, deepface's Emotion.labels.
EMOTIONS = ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]
BLANK = np.full((240, 320, 3), 128, np.uint8)


@pytest.fixture(scope="module")
def model():
    return fastfer.FER()


@pytest.fixture(scope="module")
def photo():
    return cv2.imread(str(SHIPPED_PHOTO))


@pytest.fixture()
def deepface(model):
    DeepFace.use(model)
    yield DeepFace
    DeepFace._fer = None  # the next test builds its own again


# ------------------------------------------------------------------------ the fer package


def check_fer_face(entry: dict, image: np.ndarray) -> None:
    assert list(entry) == ["box", "emotions"]
    box = entry["box"]
    assert isinstance(box, list) and len(box) == 4 and all(type(v) is int for v in box)
    x, y, w, h = box
    assert 0 <= x and 0 <= y and w > 0 and h > 0 and x + w <= image.shape[1] and y + h <= image.shape[0]
    emotions = entry["emotions"]
    assert list(emotions) == EMOTIONS
    assert all(type(p) is float and 0.0 <= p <= 1.0 and p == round(p, 2) for p in emotions.values())
    assert sum(emotions.values()) == pytest.approx(1.0, abs=0.04)  # 7 roundings to 2 decimals


def test_fer_detect_emotions_has_the_fer_packages_shape(model, photo):
    detector = FER(fer=model)
    faces = detector.detect_emotions(photo)
    assert isinstance(faces, list) and len(faces) == 1
    check_fer_face(faces[0], photo)
    json.dumps(faces)  # plain Python values
    expected = model.analyze(photo)[0]
    assert faces[0]["box"] == [
        round(expected.box[0]),
        round(expected.box[1]),
        round(expected.box[2]) - round(expected.box[0]),
        round(expected.box[3]) - round(expected.box[1]),
    ]
    assert list(faces[0]["emotions"].values()) == [round(float(p), 2) for p in expected.probs]
    assert max(faces[0]["emotions"], key=faces[0]["emotions"].get) == "happy"
    assert detector.detect_emotions(str(SHIPPED_PHOTO)) == faces  # a path, as fer takes
    grey = detector.detect_emotions(cv2.cvtColor(photo, cv2.COLOR_BGR2GRAY))  # fer takes grey too
    assert len(grey) == 1 and np.abs(np.subtract(grey[0]["box"], faces[0]["box"])).max() <= 4
    assert detector.detect_emotions(BLANK) == []


def test_fer_top_emotion_is_a_label_and_score_or_none_none(model, photo):
    detector = FER(fer=model)
    label, score = detector.top_emotion(photo)
    assert label == "happy" and type(score) is float
    assert score == detector.detect_emotions(photo)[0]["emotions"]["happy"]
    assert detector.top_emotion(BLANK) == (None, None)


def test_fer_constructor_takes_the_fer_packages_arguments(model, photo):
    # One import changes: fer's own arguments still construct it.
    detector = FER(mtcnn=True)
    assert isinstance(detector.fer, fastfer.FER) and detector.top_emotion(photo)[0] == "happy"
    FER(cascade_file=None, mtcnn=False, tfserving=False, scale_factor=1.1, min_neighbors=5, offsets=(10, 10))
    # min_face_size: faces under it (the astronaut's is about 110 px) are not looked for
    assert FER(min_face_size=200).detect_emotions(photo) == []
    assert FER(fer=model).fer is model
    with pytest.raises(TypeError, match="not both"):
        FER(fer=model, threads=2)


def test_fer_face_rectangles_and_find_faces(model, photo):
    detector = FER(fer=model)
    boxes = detector.find_faces(photo)
    assert len(boxes) == 1 and all(type(v) is int for v in boxes[0])
    assert boxes == [face["box"] for face in detector.detect_emotions(photo)]
    assert detector.find_faces(photo[:, :, ::-1].copy(), bgr=False) == boxes  # an RGB array
    given = detector.detect_emotions(photo, face_rectangles=boxes)
    assert len(given) == 1 and given[0]["box"] == boxes[0]
    check_fer_face(given[0], photo)
    assert max(given[0]["emotions"], key=given[0]["emotions"].get) == "happy"
    assert detector.detect_emotions(photo, face_rectangles=[]) == []


# ------------------------------------------------------------------------------ deepface


def check_deepface_result(result: dict, image: np.ndarray) -> None:
    assert set(result) == {"emotion", "dominant_emotion", "region", "face_confidence"}
    emotion = result["emotion"]
    assert list(emotion) == EMOTIONS
    assert all(type(p) is float and 0.0 <= p <= 100.0 for p in emotion.values())
    assert sum(emotion.values()) == pytest.approx(100.0, abs=1e-6)  # percentages
    assert result["dominant_emotion"] == max(emotion, key=emotion.get)
    region = result["region"]
    assert list(region) == ["x", "y", "w", "h", "left_eye", "right_eye"]
    assert all(type(region[k]) is int for k in "xywh")
    assert 0 <= region["x"] and 0 <= region["y"] and region["x"] + region["w"] <= image.shape[1]
    assert region["y"] + region["h"] <= image.shape[0]
    assert type(result["face_confidence"]) is float and 0.0 <= result["face_confidence"] <= 1.0


def test_deepface_analyze_has_deepfaces_shape(deepface, model, photo):
    results = deepface.analyze(photo, actions=["emotion"])
    assert isinstance(results, list) and len(results) == 1
    result = results[0]
    check_deepface_result(result, photo)
    json.dumps(results)
    assert result["dominant_emotion"] == "happy" and result["emotion"]["happy"] > 50
    assert result["face_confidence"] > 0.9
    region = result["region"]
    for eye in ("left_eye", "right_eye"):  # (x, y) int tuples inside the face
        x, y = region[eye]
        assert type(x) is int and type(y) is int
        assert region["x"] <= x <= region["x"] + region["w"] and region["y"] <= y <= region["y"] + region["h"]
    # deepface names the eyes from the person's side: the left eye is on the image's right
    assert region["left_eye"][0] > region["right_eye"][0]
    expected = model.analyze(photo)[0]
    np.testing.assert_allclose(list(result["emotion"].values()), 100 * expected.probs / expected.probs.sum(), rtol=1e-5)
    assert deepface.analyze(str(SHIPPED_PHOTO), actions="emotion") == results  # a path; one action as str
    assert deepface.analyze(photo) == results  # emotion is the default here


def test_deepface_without_a_face_raises_unless_detection_is_not_enforced(deepface):
    with pytest.raises(ValueError, match="enforce_detection"):
        deepface.analyze(BLANK, actions=["emotion"])
    results = deepface.analyze(BLANK, actions=["emotion"], enforce_detection=False)
    assert len(results) == 1
    check_deepface_result(results[0], BLANK)
    assert results[0]["region"] == {"x": 0, "y": 0, "w": 320, "h": 240, "left_eye": None, "right_eye": None}
    assert results[0]["face_confidence"] == 0.0


def test_deepface_refuses_what_fastfer_does_not_estimate(deepface, photo):
    for actions in (["age"], ["emotion", "gender"], ("race",)):
        with pytest.raises(ValueError, match="emotion only"):
            deepface.analyze(photo, actions=actions)
    with pytest.raises(ValueError, match="Invalid action"):
        deepface.analyze(photo, actions=["smile"])
    with pytest.raises(ValueError):
        deepface.analyze(photo, actions=[])
    # deepface's other arguments are accepted
    results = deepface.analyze(
        photo, actions=["emotion"], detector_backend="retinaface", align=False, expand_percentage=10, silent=True
    )
    assert results[0]["dominant_emotion"] == "happy"


def test_deepface_takes_a_list_of_images_and_builds_its_models_once(photo):
    DeepFace._fer = None
    try:
        batch = DeepFace.analyze([photo, str(SHIPPED_PHOTO)], actions=["emotion"])
        assert len(batch) == 2 and batch[0] == batch[1] and len(batch[0]) == 1
        built = DeepFace._fer
        assert isinstance(built, fastfer.FER)
        DeepFace.analyze(photo)
        assert DeepFace._fer is built  # shared by later calls
        chosen = DeepFace.use(detector="yunet")
        assert DeepFace.analyze(photo)[0]["dominant_emotion"] == "happy" and DeepFace._fer is chosen
    finally:
        DeepFace._fer = None
