"""fastfer._core.Pipeline: the whole analysis of an image in C++ (detector input, ONNX Runtime
through the C API, decode + NMS, face crops, classifier), compared with the Python
``fastfer.FER`` path on the real photos."""

from __future__ import annotations

import glob
import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from _paths import PHOTOS, SHIPPED_PHOTO, needs_shared

import fastfer
from fastfer import backend, models
from fastfer.backend import runtime
from fastfer.core.detector import DetectorOptions
from fastfer.core.native_config import native_configs


def _load():
    """The native module, or why the native session cannot be used (fastfer.backend.runtime decides)."""
    reason = runtime.native_inference_unavailable()
    return (None, f"native inference unavailable: {reason}") if reason else (backend.native, None)


core, _skip_reason = _load()
pytestmark = pytest.mark.skipif(core is None, reason=_skip_reason or "")

PHOTO_DIR = str(PHOTOS)
PHOTOS = sorted(glob.glob(os.path.join(PHOTO_DIR, "*.jpg")))
ASTRONAUT = str(SHIPPED_PHOTO)
PAIRS = [("retinaface_mbv2", "fernet"), ("retinaface_mbv2", "mini_xception"), ("blazeface_short", "mini_xception")]


@pytest.fixture(scope="module")
def lib():
    return runtime.onnxruntime_library()


_sessions: dict = {}


def session(name, lib):
    if name not in _sessions:
        _sessions[name] = core.Session(models.load_bytes(name), lib)
    return _sessions[name]


def configs(detector, classifier=None, **options):
    """The native configurations of two models, with Detector options (FER's way: native_configs)."""
    det = models.spec(detector)
    checked = DetectorOptions.checked(det, det.decoder, **options)
    return native_configs(det, checked, None if classifier is None else models.spec(classifier))


def pipeline(detector, classifier, lib, **options):
    det_config, cls_config = configs(detector, classifier, **options)
    return core.Pipeline(session(detector, lib), det_config, session(classifier, lib), cls_config)


_fers: dict = {}


def python_fer(detector, classifier):
    if (detector, classifier) not in _fers:
        # min_face=0: the raw pipelines below run without the input-size policy (FER's default 40)
        _fers[detector, classifier] = fastfer.FER(detector, classifier, min_face=0)
    return _fers[detector, classifier]


def python_result(fer, image):
    faces = fer.analyze(image)
    n = len(faces)
    return (
        np.array([f.box for f in faces], np.float32).reshape(n, 4),
        np.array([f.score for f in faces], np.float32).reshape(n),
        np.array([f.landmarks for f in faces], np.float32).reshape(n, 5, 2),
        np.array([f.probs for f in faces], np.float32).reshape(n, 7),
    )


def compare(got, want, what):
    boxes, scores, marks, probs = want
    assert len(got["scores"]) == len(scores), f"{what}: {len(got['scores'])} faces vs {len(scores)}"
    assert got["boxes"].dtype == np.float32 and got["boxes"].shape == boxes.shape
    assert got["landmarks"].shape == marks.shape and got["probs"].shape == probs.shape
    np.testing.assert_allclose(got["boxes"], boxes, rtol=0, atol=0.5, err_msg=what)
    np.testing.assert_allclose(got["landmarks"], marks, rtol=0, atol=0.5, err_msg=what)
    np.testing.assert_allclose(got["scores"], scores, rtol=0, atol=1e-4, err_msg=what)
    np.testing.assert_allclose(got["probs"], probs, rtol=0, atol=1e-4, err_msg=what)
    if len(scores):
        return (float(np.abs(got["boxes"] - boxes).max()), float(np.abs(got["probs"] - probs).max()))
    return 0.0, 0.0


@needs_shared(PHOTO_DIR)
@pytest.mark.parametrize("detector,classifier", PAIRS)
def test_matches_python_fer_on_photos(lib, detector, classifier):
    if not PHOTOS:
        pytest.skip(f"no photos in {PHOTO_DIR}")
    pipe = pipeline(detector, classifier, lib)
    fer = python_fer(detector, classifier)
    total_faces = 0
    for path in PHOTOS:
        image = fastfer.load_image(path)
        got = pipe.analyze(image)
        compare(got, python_result(fer, image), f"{detector}+{classifier} on {os.path.basename(path)}")
        total_faces += len(got["scores"])
    assert total_faces > 0


@pytest.mark.parametrize("detector,classifier", PAIRS)
def test_image_without_faces(lib, detector, classifier):
    pipe = pipeline(detector, classifier, lib)
    for image in (np.zeros((240, 320, 3), np.uint8), np.full((97, 61, 3), 200, np.uint8)):
        got = pipe.analyze(image)
        assert got["boxes"].shape == (0, 4) and got["scores"].shape == (0,)
        assert got["landmarks"].shape == (0, 5, 2) and got["probs"].shape == (0, 7)
        compare(got, python_result(python_fer(detector, classifier), image), "blank image")


def _photo():
    return fastfer.load_image(ASTRONAUT)


def test_detect_gives_zero_probs_and_same_faces(lib):
    image = _photo()
    pipe = pipeline("retinaface_mbv2", "mini_xception", lib)
    found = pipe.detect(image)
    full = pipe.analyze(image)
    assert len(found["scores"]) >= 1
    assert np.all(found["probs"] == 0)
    np.testing.assert_array_equal(found["boxes"], full["boxes"])
    np.testing.assert_allclose(full["probs"].sum(axis=1), 1.0, atol=1e-5)


def test_without_classifier(lib):
    image = _photo()
    pipe = core.Pipeline(session("retinaface_mbv2", lib), configs("retinaface_mbv2")[0], None, None)
    got = pipe.analyze(image)
    assert len(got["scores"]) >= 1 and np.all(got["probs"] == 0)


def test_last_timing(lib):
    image = _photo()
    pipe = pipeline("retinaface_mbv2", "mini_xception", lib)
    pipe.analyze(image)
    total, inference = core.Pipeline.last_timing()
    assert 0 < inference <= total


def test_options(lib):
    image = _photo()
    one = pipeline("retinaface_mbv2", "mini_xception", lib, max_faces=1).analyze(image)
    assert len(one["scores"]) == 1
    none = pipeline("retinaface_mbv2", "mini_xception", lib, score_threshold=1.0).analyze(image)
    assert len(none["scores"]) == 0
    small = pipeline("retinaface_mbv2", "mini_xception", lib, max_side=320)
    fer = fastfer.FER("retinaface_mbv2", "mini_xception", max_side=320, min_face=0)
    compare(small.analyze(image), python_result(fer, image), "max_side=320")
    policy = pipeline("retinaface_mbv2", "mini_xception", lib, min_face=40)
    fer = fastfer.FER("retinaface_mbv2", "mini_xception", min_face=40, inference="python")
    compare(policy.analyze(image), python_result(fer, image), "min_face=40")


def test_threads_equal_serial(lib):
    images = [fastfer.load_image(p) for p in PHOTOS[:4]] or [_photo()]
    pipe = pipeline("retinaface_mbv2", "mini_xception", lib)
    serial = [pipe.analyze(img) for img in images]

    def work(t):
        picks = [(t + i) % len(images) for i in range(10)]
        return [(k, pipe.analyze(images[k])) for k in picks]

    with ThreadPoolExecutor(4) as pool:  # result() re-raises a worker's exception
        futures = [pool.submit(work, t) for t in range(4)]
        results = [pair for f in futures for pair in f.result()]
    assert len(results) == 40
    for k, got in results:
        for key in ("boxes", "scores", "landmarks", "probs"):
            np.testing.assert_array_equal(got[key], serial[k][key])


def _changed(config, **changes):
    """``config`` with fields changed; ``input__layout`` reaches into the nested input spec."""
    for path, value in changes.items():
        *parents, last = path.split("__")
        target = config
        for name in parents:
            target = getattr(target, name)
        setattr(target, last, value)
    return config


@pytest.mark.parametrize(
    "changes,message",
    [
        (dict(output_names=[]), "needs 3 output names"),
        (dict(output_names=["boxes", "nope", "scores"]), "no output 'nope'"),
        (dict(steps=[]), "steps"),
        (dict(steps=[8, 0, 32]), "steps"),
        (dict(min_sizes=[[16, 32], [64, 128]]), "min_sizes"),
        (dict(variance_wh=-0.2), "variances"),
        (dict(score_threshold=1.5), "score_threshold"),
        (dict(nms_iou=-0.1), "nms_iou"),
        (dict(max_faces=0), "max_faces"),
        (dict(max_faces=1001), "max_faces"),
        (dict(pre_nms_top_k=0), "pre_nms_top_k"),
        (dict(min_face=-1), "min_face"),
        (dict(min_face_px=70000), "min_face_px"),
        (dict(min_face=40, min_face_px=0), "min_face_px"),
        (dict(input__max_side=70000), "max_side"),
        (dict(input__pad_multiple=0), "pad_multiple"),
        (dict(input__mean=[0.0, float("nan"), 0.0]), "mean and scale must be finite"),
        (dict(input_name="x"), "no input 'x'"),
    ],
)
def test_bad_detector_config(lib, changes, message):
    det, cls = configs("retinaface_mbv2", "mini_xception")
    bad = _changed(det, **changes)
    if not message.startswith("no "):  # the session's names are the Pipeline's to check
        with pytest.raises(ValueError, match=message):
            bad.validate()
    with pytest.raises(ValueError, match=message):
        core.Pipeline(session("retinaface_mbv2", lib), bad, session("mini_xception", lib), cls)


@pytest.mark.parametrize(
    "changes,message",
    [
        (dict(label_columns=[0, 1, 2, 3, 4, 5, 5]), "label_columns"),
        (dict(margin=-1.0), "margin"),
        (dict(margin=float("inf")), "margin"),
        (dict(input__size=0), "size"),
        (dict(input__scale=[float("inf"), 1.0, 1.0]), "mean and scale must be finite"),
        (dict(output_name="logits"), "no output 'logits'"),
    ],
)
def test_bad_classifier_config(lib, changes, message):
    det, cls = configs("retinaface_mbv2", "mini_xception")
    bad = _changed(cls, **changes)
    if not message.startswith("no "):
        with pytest.raises(ValueError, match=message):
            bad.validate()
    with pytest.raises(ValueError, match=message):
        core.Pipeline(session("retinaface_mbv2", lib), det, session("mini_xception", lib), bad)


def test_configs_hold_the_spec_and_the_options():
    det, cls = configs("yunet", "fernet", score_threshold=0.7, max_side=640, min_face=40)
    assert det.kind == core.DetectorKind.YuNet and det.name == "yunet"
    assert det.output_names[:4] == ["cls_8", "cls_16", "cls_32", "obj_8"]
    assert (det.input.max_side, det.input.fixed_width, det.input.rgb) == (640, 0, False)
    assert det.input.layout == core.Layout.NCHW and det.min_face_px == models.spec("yunet").decoder.min_face_px
    assert (det.variance_xy, det.variance_wh) == (1.0, 1.0) and det.anchor_offset == 0.0
    assert abs(det.score_threshold - 0.7) < 1e-7 and det.min_face == 40
    assert cls.input.gray and cls.input.size == 48 and cls.input.mean == [127.5] * 3
    assert cls.label_columns == list(range(7)) and abs(cls.margin - 0.013) < 1e-12 and not cls.softmax
    blaze, _ = configs("blazeface_short")
    assert blaze.kind == core.DetectorKind.BlazeFace and blaze.output_names == ["regressors", "scores"]
    assert (blaze.input.fixed_width, blaze.input.fixed_height, blaze.input.max_side) == (128, 128, 0)
    for config in (det, cls, blaze):
        config.validate()


def test_bad_arguments(lib):
    det, cls = configs("retinaface_mbv2", "mini_xception")
    with pytest.raises(TypeError):
        core.Pipeline(session("retinaface_mbv2", lib), models.spec("retinaface_mbv2").to_dict(), None, None)
    with pytest.raises(TypeError):
        core.Pipeline(session("retinaface_mbv2", lib), cls, None, None)
    with pytest.raises(ValueError, match="classifier_config"):
        core.Pipeline(session("retinaface_mbv2", lib), det, session("mini_xception", lib), None)


def test_bad_images(lib):
    pipe = pipeline("retinaface_mbv2", "mini_xception", lib)
    with pytest.raises(TypeError):
        pipe.analyze(np.zeros((32, 32, 3), np.float32))
    with pytest.raises(TypeError):
        pipe.analyze("not an image")
    with pytest.raises(ValueError):
        pipe.analyze(np.zeros((32, 32), np.uint8))
    with pytest.raises(ValueError):
        pipe.analyze(np.zeros((32, 32, 4), np.uint8))
    with pytest.raises(ValueError):
        pipe.analyze(np.zeros((0, 32, 3), np.uint8))


def test_non_contiguous_image(lib):
    image = _photo()
    pipe = pipeline("retinaface_mbv2", "mini_xception", lib)
    flipped = image[:, ::-1]
    got = pipe.analyze(flipped)
    want = pipe.analyze(np.ascontiguousarray(flipped))
    for key in ("boxes", "probs"):
        np.testing.assert_array_equal(got[key], want[key])
