"""deepface's ``DeepFace.analyze(img, actions=["emotion"])`` on fastfer's models: change the
import, keep the code.

Before::

    from deepface import DeepFace
    results = DeepFace.analyze(img, actions=["emotion"])
    results[0]["dominant_emotion"], results[0]["emotion"]["happy"], results[0]["region"]

After: ``from fastfer.adapters.deepface import DeepFace``; the rest stays.

One dict per face, best detection score first, with deepface's keys: ``emotion`` (the seven
labels, ``angry`` ... ``neutral``, to percentages summing to 100), ``dominant_emotion``,
``region`` (``x``, ``y``, ``w``, ``h`` as ints, ``left_eye`` and ``right_eye`` as int tuples
``(x, y)``: the person's own left and right, as deepface gives them, so ``left_eye`` is the
one on the image's right) and ``face_confidence`` (the detection score, 0 to 1). As in deepface,
an image without a face raises ValueError, unless ``enforce_detection=False``: then the whole
image is classified as one face (``region`` the whole image, eyes None, ``face_confidence`` 0).

What differs: only the ``emotion`` action (fastfer does not estimate age, gender or race: asking
for them raises ValueError, and it is the default); ``detector_backend``, ``align``,
``expand_percentage`` and ``silent`` are accepted and not used (fastfer's detector and crops,
:meth:`DeepFace.use` to choose them). The models are built at the first call and shared.
"""

from __future__ import annotations

import threading
from typing import Optional

import numpy as np

from ..api import FER
from ..io.image import load_image
from ..labels import LABELS
from ._common import make_fer, xywh

NOT_ANALYSED = ("age", "gender", "race")


class DeepFace:
    """``DeepFace.analyze`` (a class of static methods, as deepface's module is used)."""

    _fer: Optional[FER] = None
    _lock = threading.Lock()

    @classmethod
    def use(cls, fer: Optional[FER] = None, **fastfer_options) -> FER:
        """Choose the :class:`fastfer.FER` that ``analyze`` runs: an existing one, or one built
        from ``fastfer_options`` (``detector=``, ``min_face=``, ...). Returns it."""
        with cls._lock:
            cls._fer = make_fer(fer, fastfer_options)
            return cls._fer

    @classmethod
    def _model(cls) -> FER:
        with cls._lock:
            if cls._fer is None:
                cls._fer = FER()
            return cls._fer

    @classmethod
    def analyze(
        cls,
        img_path,
        actions=("emotion",),
        enforce_detection: bool = True,
        detector_backend: str = "opencv",
        align: bool = True,
        expand_percentage: int = 0,
        silent: bool = False,
        anti_spoofing: bool = False,
    ) -> list:
        """A list with one dict per face (see the module); a list of images gives a list of
        such lists. ``img_path``: a path, a BGR array, or anything :func:`fastfer.load_image`
        reads."""
        _check_actions(actions)
        if anti_spoofing:
            raise ValueError("fastfer's DeepFace.analyze has no anti-spoofing model (anti_spoofing=False)")
        if isinstance(img_path, (list, tuple)):
            return [cls.analyze(one, actions, enforce_detection) for one in img_path]
        image = load_image(img_path)
        faces = cls._model().analyze(image)
        if faces:
            return [_result(face.probs, _region(face), face.score) for face in faces]
        if enforce_detection:
            raise ValueError(
                "Face could not be detected in the image. Please confirm that the picture is a face "
                "photo or consider to set enforce_detection param to False."
            )
        h, w = image.shape[:2]
        whole = {"x": 0, "y": 0, "w": int(w), "h": int(h), "left_eye": None, "right_eye": None}
        return [_result(cls._model().classify(image)[0], whole, 0.0)]


def _check_actions(actions) -> None:
    wanted = (actions,) if isinstance(actions, str) else tuple(actions)
    if not wanted:
        raise ValueError("`actions` must be a list of strings: ['emotion']")
    for action in wanted:
        if action in NOT_ANALYSED:
            raise ValueError(
                f"fastfer's DeepFace.analyze estimates the emotion only, not {action}: pass actions=['emotion']"
            )
        if action != "emotion":
            raise ValueError(
                f"Invalid action passed ({action!r}). Valid actions are `emotion`, `age`, `gender`, `race`."
            )


def _result(probs, region: dict, confidence: float) -> dict:
    probs = np.asarray(probs, np.float64)
    percent = 100.0 * probs / probs.sum()
    return {
        "emotion": {label: float(p) for label, p in zip(LABELS, percent)},
        "dominant_emotion": LABELS[int(np.argmax(probs))],
        "region": region,
        "face_confidence": float(confidence),
    }


def _region(face) -> dict:
    x, y, w, h = xywh(face.box)
    observer_left, observer_right = (tuple(int(round(float(v))) for v in point) for point in face.landmarks[:2])
    # deepface names the eyes from the person's side: their left eye is on the image's right.
    return {"x": x, "y": y, "w": w, "h": h, "left_eye": observer_right, "right_eye": observer_left}
