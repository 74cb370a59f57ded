"""fastfer.FER end to end on real photos and on FER2013, with the shipped models."""

from __future__ import annotations

import dataclasses
import json
from concurrent.futures import ThreadPoolExecutor

import cv2
import numpy as np
import pytest
from _paths import PHOTOS, SHARED_DATA, needs_shared

import fastfer

SHARED = SHARED_DATA
pytestmark = needs_shared(PHOTOS)

# Expressions a person agrees with on these photos (see ../shared/data/README.md).
AGREED_LABELS = {
    "astronaut": "happy",
    "tom_cruise_smiling": "happy",
    "alex_lacamoire_smiling": "happy",
    "obama_portrait": "happy",
    "angry_man": "angry",
    "crying_woman": "sad",
}


@pytest.fixture(scope="module")
def fer() -> fastfer.FER:
    return fastfer.FER()


def no_face_image() -> np.ndarray:
    img = np.zeros((360, 480, 3), np.uint8)
    img[:] = np.linspace(40, 200, 480, dtype=np.uint8)[None, :, None]
    cv2.rectangle(img, (60, 60), (200, 220), (20, 160, 20), -1)
    return img


@pytest.mark.parametrize("photo, label", sorted(AGREED_LABELS.items()))
def test_labels_a_person_agrees_with(fer, photo, label):
    faces = fer.analyze(PHOTOS / f"{photo}.jpg")
    assert len(faces) == 1
    assert faces[0].label == label


def test_faces_come_sorted_with_probabilities(fer):
    faces = fer.analyze(PHOTOS / "bald_guys_collage.jpg")
    assert len(faces) == 24
    assert [f.score for f in faces] == sorted((f.score for f in faces), reverse=True)
    for face in faces:
        assert face.label in fastfer.LABELS and face.probs.shape == (7,) and face.probs.dtype == np.float32
        assert abs(float(face.probs.sum()) - 1.0) < 1e-5
        assert face.label == fastfer.LABELS[int(np.argmax(face.probs))]


def test_face_is_frozen_and_serialisable(fer):
    (face,) = fer.analyze(PHOTOS / "astronaut.jpg")
    with pytest.raises(dataclasses.FrozenInstanceError):
        face.label = "sad"
    with pytest.raises(ValueError):
        face.landmarks[0, 0] = 0.0
    data = json.loads(json.dumps(face.to_dict()))
    assert data["label"] == "happy" and len(data["box"]) == 4 and len(data["landmarks"]) == 5
    assert set(data["probs"]) == set(fastfer.LABELS)


def test_detect_gives_faces_without_expressions(fer):
    faces = fer.detect(PHOTOS / "two_people.jpg")
    assert len(faces) == 2 and all(f.label is None and f.probs is None for f in faces)


def test_an_image_without_faces_gives_an_empty_list(fer):
    assert fer.analyze(no_face_image()) == []
    assert fer.detect(no_face_image()) == []


def test_a_corrupt_file_raises_an_error_naming_it(fer, tmp_path):
    bad = tmp_path / "holiday.jpg"
    bad.write_bytes((PHOTOS / "astronaut.jpg").read_bytes()[:600])
    with pytest.raises(fastfer.ImageDecodeError, match="holiday.jpg"):
        fer.analyze(bad)


def test_analyze_batch_survives_a_bad_image_in_the_middle(fer, tmp_path):
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40)
    inputs = [
        PHOTOS / "astronaut.jpg",
        PHOTOS / "two_people.jpg",
        bad,
        no_face_image(),
        PHOTOS / "angry_man.jpg",
        tmp_path / "missing.jpg",
    ]
    results = fer.analyze_batch(inputs)
    assert len(results) == len(inputs)
    assert isinstance(results[2], fastfer.Error) and "broken.png" in str(results[2])
    assert isinstance(results[5], OSError)
    assert results[3] == []
    for i in (0, 1, 4):
        alone = fer.analyze(inputs[i])
        assert [f.label for f in results[i]] == [f.label for f in alone]
        np.testing.assert_allclose([f.box for f in results[i]], [f.box for f in alone], atol=1.0)


# FER2013 PrivateTest accuracy of each shipped classifier, 48x48 faces in as they are, to within
# half a point: fernet's is the figure its training run measured in torch and wrote into its
# manifest entry, so this checks that the shipped ONNX file and fastfer's input path reproduce it;
# mini-Xception's was measured through fastfer when it was converted, fernet_int8's by
# tools/models/quantize.py.
PRIVATE_TEST_ACCURACY = {
    "fernet": fastfer.models.spec("fernet").source["summary"]["private_acc"],
    "fernet_int8": fastfer.models.spec("fernet_int8").source["fer2013_private_test"]["int8"],
    "mini_xception": 0.655,
}


@pytest.mark.parametrize("classifier", sorted(PRIVATE_TEST_ACCURACY))
def test_classify_reaches_the_measured_level_on_fer2013_private_test(classifier):
    if not (SHARED / "fer2013.npz").exists():
        pytest.skip("fer2013.npz is absent")
    data = np.load(SHARED / "fer2013.npz")
    private = data["usage"] == "PrivateTest"
    images, labels = data["images"][private], data["labels"][private]
    fer = fastfer.FER(classifier=classifier)
    probs = np.concatenate([fer.classify(images[i : i + 512]) for i in range(0, len(images), 512)])
    accuracy = float(np.mean(np.argmax(probs, axis=1) == labels))
    assert len(images) == 3589
    # fernet_int8 has 7-bit weights (tools/models/quantize.py), so it reads the same with and
    # without VNNI: the figure holds on every x86 CPU.
    assert abs(accuracy - PRIVATE_TEST_ACCURACY[classifier]) <= 0.005, accuracy
    if classifier == fastfer.models.DEFAULT_CLASSIFIER:  # our own model replaced mini-Xception by beating it
        assert accuracy >= PRIVATE_TEST_ACCURACY["mini_xception"] + 0.02, accuracy


def test_one_fer_from_eight_threads_equals_serial_use(fer):
    photos = [PHOTOS / n for n in ("astronaut.jpg", "two_people.jpg", "angry_man.jpg", "stage_group.jpg")]
    images = [cv2.resize(fastfer.load_image(p), None, fx=0.5, fy=0.5) for p in photos]
    serial = [fer.analyze(img) for img in images]
    calls = [i % len(images) for i in range(8 * 50)]
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda i: fer.analyze(images[i]), calls))
    for i, faces in zip(calls, results):
        assert faces == serial[i]


# --- the two inference paths ----------------------------------------------------------------------

NATIVE_REASON = fastfer.capabilities()["inference_error"]


@pytest.mark.skipif(NATIVE_REASON is not None, reason=f"native inference unavailable: {NATIVE_REASON}")
def test_native_and_python_inference_give_the_same_faces(fer):
    python = fastfer.FER(inference="python")
    assert fer.inference == "native" and python.inference == "python"
    for photo in sorted(PHOTOS.glob("*.jpg")):
        native_faces, python_faces = fer.analyze(photo), python.analyze(photo)
        assert len(native_faces) == len(python_faces), photo.name
        for a, b in zip(native_faces, python_faces):
            np.testing.assert_allclose(a.box, b.box, atol=0.5)
            np.testing.assert_allclose(a.landmarks, b.landmarks, atol=0.5)
            np.testing.assert_allclose(a.probs, b.probs, atol=1e-4)
            assert abs(a.score - b.score) < 1e-4


def test_capabilities_say_which_inference_path_is_in_use(fer):
    caps = fastfer.capabilities()
    assert caps["inference"] == fer.inference
    assert (caps["inference_error"] is None) == (fer.inference == "native")


@pytest.mark.skipif(NATIVE_REASON is None, reason="native inference is available here")
def test_asking_for_native_inference_without_it_fails_clearly():
    with pytest.raises(fastfer.BackendError, match="native inference"):
        fastfer.FER(inference="native")


def test_the_inference_choice_is_checked():
    with pytest.raises(ValueError, match="inference"):
        fastfer.FER(inference="gpu")


# --- CUDA (runs where onnxruntime-gpu offers CUDAExecutionProvider; skips elsewhere) -------------

HAS_CUDA = "cuda" in fastfer.capabilities()["providers_available"]


@pytest.mark.skipif(not HAS_CUDA, reason="onnxruntime offers no CUDAExecutionProvider (no onnxruntime-gpu / GPU)")
@pytest.mark.parametrize("inference", ["native", "python"])
def test_cuda_gives_the_cpu_results(fer, inference):
    if inference == "native" and NATIVE_REASON is not None:
        pytest.skip(f"native inference unavailable: {NATIVE_REASON}")
    gpu = fastfer.FER(providers=("cuda", "cpu"), inference=inference)
    for photo in ("astronaut.jpg", "two_people.jpg", "stage_group.jpg"):
        on_gpu, on_cpu = gpu.analyze(PHOTOS / photo), fer.analyze(PHOTOS / photo)
        assert len(on_gpu) == len(on_cpu)
        for a, b in zip(on_gpu, on_cpu):
            np.testing.assert_allclose(a.box, b.box, atol=1.0)
            np.testing.assert_allclose(a.probs, b.probs, atol=1e-3)
            assert a.label == b.label


@pytest.mark.skipif(HAS_CUDA, reason="this machine has CUDA")
@pytest.mark.parametrize("inference", ["native", "python"])
def test_asking_for_cuda_without_it_fails_clearly(inference):
    if inference == "native" and NATIVE_REASON is not None:
        pytest.skip(f"native inference unavailable: {NATIVE_REASON}")
    with pytest.raises(fastfer.BackendError, match="cuda"):
        fastfer.FER(providers=("cuda", "cpu"), inference=inference)
