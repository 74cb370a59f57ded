"""``fastfer.compat``: fastfer results shaped like the systems users come from.

Each constructor takes an existing :class:`fastfer.FER` (shared, not reloaded: build one and
hand it to several) or, when ``fer`` is None, builds one from ``fer_kwargs``; it returns a
plain function, whose ``fer`` attribute is the FER it uses. Values are plain Python floats,
ints, strings and lists: JSON-serialisable.

* :func:`modelscope`: ModelScope's facial-expression-recognition pipeline.
* :func:`modelscope_detection`: ModelScope's face-detection pipeline.
* :func:`batch_solver`: ``api.BatchSolver`` of the MobileNetV3 "face-expression-recognization"
  detector.
* :class:`CameraSolver` / :class:`VideoSolver`: that detector's camera and video solvers
  (``start(source)``, ``get_solved_frame() -> (results, frame)``, ``close()``), on
  :meth:`FER.stream`: every face tracked and smoothed. These two are classes taking the same
  ``fer`` / FER keyword arguments, plus ``every`` and ``smoothing``.

"Largest face" means the largest box area (ModelScope's ``_choose_face`` criterion); on equal
areas the face with the better detection score wins.
"""

from __future__ import annotations

from typing import Any, Callable, Iterable, Optional

from .adapters._common import make_fer
from .api import FER
from .core.result import Face
from .labels import LABELS
from .video.smoothing import DEFAULT_ALPHA


def _fer(fer: Optional[FER], fer_kwargs: dict) -> FER:
    return make_fer(fer, fer_kwargs)


def _area(face: Face) -> float:
    x1, y1, x2, y2 = face.box
    return max(0.0, x2 - x1) * max(0.0, y2 - y1)


def _largest(faces: list) -> Face:
    return max(faces, key=_area)  # max keeps the first of equals: faces come best score first


def modelscope(fer: Optional[FER] = None, **fer_kwargs) -> Callable[[object], dict]:
    """A callable ``f(image) -> {"scores": [7 floats], "labels": [7 strings]}`` shaped like
    ModelScope's ``pipeline(Tasks.facial_expression_recognition)`` output
    (``OutputKeys.SCORES`` / ``OutputKeys.LABELS``).

    As ModelScope does, only the largest face of the image is returned; ``scores`` are its
    probabilities in the order of ``labels``. Choices that differ from ModelScope:
    ``labels`` is ``list(fastfer.LABELS)`` (lower case: "angry", ..., "neutral"; ModelScope
    writes "Angry", ...), and an image without a face gives ``{"scores": [], "labels": []}``
    (ModelScope gives None for both). ``image`` is anything :func:`fastfer.load_image` reads;
    an unreadable one raises as :meth:`FER.analyze` does.
    """
    model = _fer(fer, fer_kwargs)

    def facial_expression_recognition(image) -> dict:
        faces = model.analyze(image)
        if not faces:
            return {"scores": [], "labels": []}
        probs = _largest(faces).probs
        assert probs is not None  # the model's FER always classifies
        return {"scores": [float(p) for p in probs], "labels": list(LABELS)}

    facial_expression_recognition.fer = model  # type: ignore[attr-defined]
    return facial_expression_recognition


def modelscope_detection(fer: Optional[FER] = None, **fer_kwargs) -> Callable[[object], dict]:
    """A callable ``f(image) -> {"scores": [N], "boxes": [N × [x1, y1, x2, y2]],
    "keypoints": [N × [x1, y1, ..., x5, y5]]}`` shaped like ModelScope's
    ``pipeline(Tasks.face_detection)`` output (``OutputKeys.SCORES`` / ``BOXES`` /
    ``KEYPOINTS``).

    Every face found, best detection score first (detection only: no classifier call). Boxes are
    float pixel corners; keypoints are the 5 landmarks flattened, in fastfer's order (left eye,
    right eye, nose, left and right mouth corner). No face gives three empty lists.
    """
    model = _fer(fer, fer_kwargs)

    def face_detection(image) -> dict:
        faces = model.detect(image)
        return {
            "scores": [face.score for face in faces],
            "boxes": [[float(v) for v in face.box] for face in faces],
            "keypoints": [[float(v) for v in face.landmarks.reshape(-1)] for face in faces],
        }

    face_detection.fer = model  # type: ignore[attr-defined]
    return face_detection


def batch_solver(fer: Optional[FER] = None, **fer_kwargs) -> Callable[[Iterable], dict]:
    """A callable ``solve(images) -> dict`` shaped like the ``api.BatchSolver`` output of the
    MobileNetV3 facial-expression detector: per image, in input order,

    * ``Vector``: the 7 probabilities (fastfer.LABELS order) of its largest face; 7 zeros when none,
    * ``Class``: that face's label; "" when none,
    * ``Boxes``: that face's box as ints ``[x, y, w, h]``; ``[0, 0, 0, 0]`` when none,
    * ``Exist``: whether a face was found,
    * ``Index``: the image's position in ``images`` (the reference's frame number).

    The batch goes through :meth:`FER.analyze_batch` (as few inference calls as the models
    allow). An image that cannot be read gets ``Exist`` False and the "no face" entries instead
    of failing the batch. Labels are fastfer's (lower-case FER2013 names), not the reference's
    AffectNet / RAF-DB tables.
    """
    model = _fer(fer, fer_kwargs)

    def solve(images: Iterable) -> dict:
        results = model.analyze_batch(images)
        out: dict = {"Vector": [], "Class": [], "Boxes": [], "Exist": [], "Index": list(range(len(results)))}
        for entry in results:
            face = _largest(entry) if isinstance(entry, list) and entry else None
            if face is None:  # no face, or an unreadable image (entry is its exception)
                vector, label, box = [0.0] * len(LABELS), "", [0, 0, 0, 0]
            else:
                x1, y1, x2, y2 = (int(round(v)) for v in face.box)  # the box lies in the image
                assert face.probs is not None and face.label is not None  # FER always classifies
                vector, label = [float(p) for p in face.probs], face.label
                box = [x1, y1, x2 - x1, y2 - y1]
            out["Vector"].append(vector)
            out["Class"].append(label)
            out["Boxes"].append(box)
            out["Exist"].append(face is not None)
        return out

    solve.fer = model  # type: ignore[attr-defined]
    return solve


def _solver_face(face) -> dict:
    """One face the way the MobileNetV3 detector's solvers give it, plus fastfer's extras."""
    x1, y1, x2, y2 = (int(round(v)) for v in face.box)
    return {
        "result": LABELS.index(face.label),
        "probability": float(max(face.probs)),
        "vector": [float(p) for p in face.probs],
        "box": [x1, y1, x2 - x1, y2 - y1],
        "label": face.label,
        "track_id": face.track_id,
    }


class _StreamSolver:
    """``start(source)``, ``get_solved_frame() -> (results, frame)``, ``close()`` on top of
    :meth:`fastfer.FER.stream`."""

    _live = False

    def __init__(self, fer: Optional[FER] = None, *, every: int = 1, smoothing: float = DEFAULT_ALPHA, **fer_kwargs):
        self.fer = _fer(fer, fer_kwargs)
        self._options: dict[str, Any] = {"every": every, "smoothing": smoothing}
        self._stream = None

    def start(self, source) -> None:
        self.close()
        self._stream = self.fer.stream(source, live=self._live, **self._options)

    def get_solved_frame(self) -> tuple:
        """(results, frame) of the next frame: per face a dict with ``result`` (index into
        fastfer.LABELS), ``probability``, ``vector`` (7, smoothed per track), ``box`` (ints
        x, y, w, h), ``label`` and ``track_id``; the frame is the BGR image. At the end of the
        source: ``([], None)``. A source that cannot be read raises fastfer.VideoDecodeError."""
        if self._stream is None:
            raise RuntimeError("call start(source) first")
        frame = next(self._stream, None)
        if frame is None:
            return [], None
        return [_solver_face(face) for face in frame.faces], frame.image

    def close(self) -> None:
        if self._stream is not None:
            self._stream.close()
            self._stream = None


class CameraSolver(_StreamSolver):
    """The MobileNetV3 detector's ``CameraSolver``: ``start(cam_id=0)`` opens a camera (or any
    live source :meth:`FER.stream` takes); each ``get_solved_frame()`` analyses the newest frame
    (stale ones are dropped). Faces keep a ``track_id`` and smoothed probabilities across calls."""

    _live = True

    def start(self, cam_id=0) -> None:
        super().start(cam_id)


class VideoSolver(_StreamSolver):
    """The MobileNetV3 detector's ``VideoSolver``: ``start(path)`` opens a video file (or any
    source :meth:`FER.stream` takes); each ``get_solved_frame()`` gives the next frame, none
    skipped. ``video_fps``: the file's frame rate (0 when unknown or closed)."""

    @property
    def video_fps(self) -> float:
        return float(self._stream.source_fps or 0) if self._stream is not None else 0.0
