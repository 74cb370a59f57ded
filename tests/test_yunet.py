"""YuNet: the score kernel's two twins, the decoding against OpenCV's FaceDetectorYN, and both
inference paths (C++ pipeline, Python Detector) on real photos."""

from __future__ import annotations

import glob
import os

import cv2
import numpy as np
import pytest
from _paths import PHOTOS, SHIPPED_PHOTO, needs_shared

import fastfer
from fastfer import backend, models
from fastfer.backend import reference, runtime
from fastfer.core.detector import Detector

native = backend.native
needs_native = pytest.mark.skipif(native is None, reason=f"native kernels not in use: {backend.native_error}")
_inference_error = runtime.native_inference_unavailable()
needs_native_inference = pytest.mark.skipif(
    _inference_error is not None, reason=f"native inference unavailable: {_inference_error}"
)
BACKENDS = [pytest.param("native", marks=needs_native), pytest.param("python")]
PHOTO_FILES = sorted(glob.glob(os.path.join(str(PHOTOS), "*.jpg")))


@pytest.fixture(params=BACKENDS)
def k(request):
    return native if request.param == "native" else reference


# --- the score kernel -----------------------------------------------------------------------------


def test_scores_are_the_clamped_geometric_mean(k):
    cls = np.array([0.25, 1.0, 0.0, -0.5, 1.5, 0.81], np.float32)
    obj = np.array([[1.0], [0.64], [0.9], [0.5], [0.49], [1.0]], np.float32)
    got = k.yunet_scores(cls, obj)
    assert got.dtype == np.float32 and got.shape == (6,)
    np.testing.assert_array_equal(got, np.float32([0.5, 0.8, 0.0, 0.0, 0.7, 0.9]))


def test_scores_of_nothing(k):
    assert k.yunet_scores(np.zeros(0, np.float32), np.zeros((0, 1), np.float32)).shape == (0,)


@needs_native
def test_scores_twins_are_bit_identical_on_random_heads():
    rng = np.random.default_rng(7)
    for n in (1, 17, 4800, 30000):
        cls = rng.uniform(-0.2, 1.2, (n, 1)).astype(np.float32)
        obj = rng.random(n).astype(np.float32) ** 4  # objectness is mostly tiny, as on real images
        np.testing.assert_array_equal(native.yunet_scores(cls, obj), reference.yunet_scores(cls, obj))
        assert native.yunet_scores(cls.astype(np.float64), obj).dtype == np.float32


@pytest.mark.parametrize(
    "cls, obj, error, match",
    [
        (np.zeros(3), np.zeros(4), ValueError, "same length"),
        (np.zeros((3, 2)), np.zeros(3), ValueError, "shape"),
        (np.array([0.5, np.nan]), np.zeros(2), ValueError, "NaN"),
        (np.array(["a", "b"]), np.zeros(2), TypeError, "numeric"),
    ],
)
def test_scores_refuse_bad_heads_alike(k, cls, obj, error, match):
    with pytest.raises(error, match=match):
        k.yunet_scores(cls, obj)


# --- decoding --------------------------------------------------------------------------------------


def test_manifest_entry_decodes_as_retinaface_with_unit_priors():
    d = models.spec("yunet").decoder
    assert isinstance(d, models.YuNet) and d.kind == "yunet" and d.steps == (8, 16, 32)
    assert d.min_sizes == ((8,), (16,), (32,)) and d.offset == 0.0 and d.variances == (1.0, 1.0)
    assert d.min_face_px is not None and d.min_face_px >= 8
    assert models.spec("yunet").input.color == "bgr" and models.spec("yunet").input.pad_multiple == 32


def test_faces_match_opencv_face_detector_yn():
    """OpenCV's own YuNet decoding (FaceDetectorYN, the model's reference user) on the shipped
    photo: the same face, box, landmarks and score as fastfer's Detector, to a hundredth of a pixel."""
    image = cv2.imread(str(SHIPPED_PHOTO))
    h, w = image.shape[:2]
    path = models.HERE / models.spec("yunet").file
    yn = cv2.FaceDetectorYN.create(str(path), "", (w, h), 0.5, 0.4, 5000)
    _, theirs = yn.detect(image)
    ours = Detector("yunet", min_face=0).detect(image)
    assert theirs is not None and len(theirs) == len(ours) == 1
    x, y, bw, bh = theirs[0, :4]
    np.testing.assert_allclose(ours.boxes[0], [x, y, x + bw, y + bh], atol=0.01)
    np.testing.assert_allclose(ours.landmarks[0].ravel(), theirs[0, 4:14], atol=0.01)
    np.testing.assert_allclose(ours.scores[0], theirs[0, 14], atol=1e-5)
    left_eye, right_eye = ours.landmarks[0, 0], ours.landmarks[0, 1]
    assert left_eye[0] < right_eye[0]  # fastfer's order: the eye on the viewer's left first


@needs_native_inference
@needs_shared(PHOTOS)
@pytest.mark.parametrize("min_face", [0, 40])
def test_native_and_python_paths_give_the_same_faces_on_real_photos(min_face):
    native_fer = fastfer.FER("yunet", inference="native", min_face=min_face)
    python_fer = fastfer.FER("yunet", inference="python", min_face=min_face)
    for path in PHOTO_FILES:
        a, b = native_fer.analyze(path), python_fer.analyze(path)
        assert len(a) == len(b), path
        for fa, fb in zip(a, b):
            np.testing.assert_allclose(fa.box, fb.box, atol=1e-3)
            np.testing.assert_allclose(fa.landmarks, fb.landmarks, atol=1e-3)
            assert abs(fa.score - fb.score) < 1e-6
            np.testing.assert_allclose(fa.probs, fb.probs, atol=1e-4)


@needs_shared(PHOTOS)
def test_finds_the_faces_of_the_group_photo():
    faces = Detector("yunet", min_face=0).detect(str(PHOTOS / "stage_group.jpg"))
    assert len(faces) == 11
    assert np.all(faces.boxes[:, 2] > faces.boxes[:, 0]) and np.all(faces.scores >= 0.5)


# --- the min_face policy -----------------------------------------------------------------------------


def test_min_face_shrinks_the_input_by_the_detectors_reliable_face_size():
    det = Detector("yunet", min_face=40)
    px = det.decoder.min_face_px
    assert det.input_long_side((480, 640)) == 640 * px // 40
    assert det.input_long_side((4000, 6000)) == 1600  # max_side still caps it
    assert Detector("yunet", min_face=0).input_long_side((480, 640)) == 1600  # off: only max_side
    assert Detector("yunet", min_face=px).input_long_side((480, 640)) == 640  # never enlarged past its size


@pytest.mark.parametrize("detector", ["yunet", "retinaface_mbv2"])
def test_min_face_drops_the_faces_under_it(detector):
    image = fastfer.load_image(SHIPPED_PHOTO)
    full = Detector(detector, min_face=0).detect(image)
    side = float(np.max(full.boxes[0, 2:] - full.boxes[0, :2]))
    assert len(full) == 1 and side > 100
    kept = Detector(detector, min_face=int(side * 0.5)).detect(image)
    assert len(kept) == 1 and np.max(kept.boxes[0, 2:] - kept.boxes[0, :2]) >= side * 0.5
    np.testing.assert_allclose(kept.boxes[0], full.boxes[0], atol=0.1 * side)  # found on a smaller image
    assert len(Detector(detector, min_face=int(side * 1.5)).detect(image)) == 0


@pytest.mark.parametrize("value", [-1, 1.5, True, "40", 70000])
def test_min_face_refuses_bad_values(value):
    with pytest.raises(ValueError, match="min_face"):
        Detector("yunet", min_face=value)
    with pytest.raises(ValueError, match="min_face"):
        fastfer.FER("yunet", min_face=value, inference="python")


def test_min_face_needs_the_detectors_measured_size():
    entry = {k: v for k, v in models.spec("yunet").to_dict().items() if k not in ("name", "file")}
    entry["decoder"] = {k: v for k, v in entry["decoder"].items() if k != "min_face_px"}
    models.register("test_yunet_unmeasured", models.load_bytes("yunet"), entry)
    assert len(Detector("test_yunet_unmeasured", min_face=0).detect(fastfer.load_image(SHIPPED_PHOTO))) == 1
    with pytest.raises(ValueError, match="min_face_px"):
        Detector("test_yunet_unmeasured", min_face=40)
