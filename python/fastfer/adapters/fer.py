"""The ``fer`` package's ``FER`` on fastfer's models: change the import, keep the code.

Before::

    from fer import FER
    detector = FER(mtcnn=True)
    detector.detect_emotions(img)   # [{"box": [x, y, w, h], "emotions": {"angry": 0.02, ...}}]
    detector.top_emotion(img)       # ("happy", 0.9) or (None, None)

After: ``from fastfer.adapters.fer import FER``; the rest stays.

The results have fer's shapes: ``box`` is four Python ints ``[x, y, w, h]``, ``emotions`` maps
the seven FER2013 labels (``angry``, ``disgust``, ``fear``, ``happy``, ``sad``, ``surprise``,
``neutral``, in that order) to floats rounded to 2 decimals, as fer rounds them. What differs:
the faces are fastfer's detector's (RetinaFace by default; ``mtcnn``, ``cascade_file`` and the
cascade's options are accepted and not used), best detection score first (so ``top_emotion``'s
"first face" is the most certain one), and faces smaller than ``min_face`` (fastfer's default,
or ``min_face_size`` when given) are not looked for.
"""

from __future__ import annotations

from typing import Optional, Tuple

import numpy as np

from ..api import FER as _FastFER
from ..io.image import load_image
from ..labels import LABELS
from ._common import corners, make_fer, xywh


def _emotions(probs) -> dict:
    return {label: round(float(p), 2) for label, p in zip(LABELS, probs)}


class FER:
    """``fer.FER``: ``detect_emotions``, ``top_emotion`` and ``find_faces`` with fer's results.

    fer's constructor arguments are accepted; ``min_face_size`` (when given) becomes fastfer's
    ``min_face``, the others choose fer's own detectors and are not used. ``fer`` hands in an
    existing :class:`fastfer.FER` (shared, not reloaded), else one is built from
    ``fastfer_options`` (``detector=``, ``classifier=``, ``threads=``, ...). ``self.fer`` is it.
    """

    def __init__(
        self,
        cascade_file: Optional[str] = None,
        mtcnn: bool = False,
        tfserving: bool = False,
        scale_factor: float = 1.1,
        min_face_size: Optional[int] = None,
        min_neighbors: int = 5,
        offsets: tuple = (10, 10),
        *,
        fer: Optional[_FastFER] = None,
        **fastfer_options,
    ):
        if min_face_size is not None:
            fastfer_options["min_face"] = int(min_face_size)
        self.fer = make_fer(fer, fastfer_options)

    def find_faces(self, img, bgr: bool = True) -> list:
        """The faces' boxes ``[x, y, w, h]`` (Python ints), best score first. ``img``: a BGR (or
        grey) array, a path, or anything :func:`fastfer.load_image` reads; ``bgr=False``: an RGB
        array."""
        return [xywh(face.box) for face in self.fer.detect(_image(img, bgr))]

    def detect_emotions(self, img, face_rectangles=None) -> list:
        """``[{"box": [x, y, w, h], "emotions": {label: probability}}]``, one per face, best
        detection score first; ``[]`` when there is none. ``face_rectangles``: boxes
        ``[x, y, w, h]`` to classify instead of detecting faces (as fer takes them)."""
        image = _image(img)
        if face_rectangles is not None:
            boxes = [list(map(int, box)) for box in face_rectangles]
            if not boxes:
                return []
            probs = self.fer.classifier.classify_boxes(image, np.array([corners(b) for b in boxes]))
            return [{"box": box, "emotions": _emotions(p)} for box, p in zip(boxes, probs)]
        return [{"box": xywh(face.box), "emotions": _emotions(face.probs)} for face in self.fer.analyze(image)]

    def top_emotion(self, img) -> Tuple[Optional[str], Optional[float]]:
        """``(label, score)`` of the first face's most probable emotion, or ``(None, None)``
        when the image has no face."""
        faces = self.detect_emotions(img)
        if not faces:
            return None, None
        emotions = faces[0]["emotions"]
        label = max(emotions, key=emotions.get)
        return label, emotions[label]


def _image(img, bgr: bool = True) -> np.ndarray:
    """The BGR image; ``bgr=False``: a colour array given is RGB (a file is read as it is)."""
    image = load_image(img)
    if bgr or not (isinstance(img, np.ndarray) and img.ndim == 3 and img.shape[2] == 3):
        return image
    return np.ascontiguousarray(image[:, :, ::-1])
