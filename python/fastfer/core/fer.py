"""``fastfer.FER``: every face of an image with its expression, in one object."""

from __future__ import annotations

import inspect
import time
from pathlib import PurePath
from typing import TYPE_CHECKING, Iterable, Optional, Sequence

import numpy as np

from ..backend.runtime import ProviderRequest, create_native_session, native_inference_unavailable
from ..errors import BackendError, Error, ModelSpecError
from ..io.image import load_image
from ..models import DEFAULT_CLASSIFIER, DEFAULT_DETECTOR, DEFAULT_MIN_FACE
from .classifier import Classifier
from .detector import DEFAULT_MAX_SIDE, DEFAULT_NMS_IOU, MAX_FACES, Detections, Detector
from .native_config import native_configs
from .result import Face

if TYPE_CHECKING:
    from .. import _core


def _faces(found: Detections, probs: Optional[np.ndarray] = None) -> list:
    return [
        Face.build(found.boxes[i], found.scores[i], found.landmarks[i], None if probs is None else probs[i])
        for i in range(len(found))
    ]


def _native_faces(found: dict, with_probs: bool) -> list:
    """Faces from fastfer._core.Pipeline's arrays: made for this call and held by nothing else,
    so the faces take them over without copies (a call's Python side costs little next to
    inference)."""
    return Face.from_arrays(found["boxes"], found["scores"], found["landmarks"], found["probs"] if with_probs else None)


# analyze_batch(progress=...) reports after this many images: small enough to show movement,
# large enough that the extra calls cost nothing next to inference.
_PROGRESS_CHUNK = 8


class _StderrBar:
    """``analyze_batch(progress=True)``: the team's progress bar on stderr."""

    def __init__(self, label: str):
        self.label, self.start = label, time.perf_counter()

    def update(self, done: int, total: int) -> None:
        import sys

        from .._progress import show_progress

        if total == 0:
            return
        show_progress(done, total, self.start, self.label)
        if done >= total:
            sys.stderr.write("\n")
            sys.stderr.flush()


def _load_all(images: Iterable) -> tuple:
    """(results with each unreadable input's exception in its slot, the loaded images, their
    slots)."""
    results: list[Optional[Exception]] = []
    loaded: list[np.ndarray] = []
    where: list[int] = []
    for item in images:
        try:
            loaded.append(load_image(item))
            where.append(len(results))
            results.append(None)
        except (OSError, Error) as exc:
            results.append(exc)
    return results, loaded, where


class FER:
    """Face detection and expression recognition on images, loaded and warmed once, then reused:
    ``analyze``, ``analyze_batch``, ``detect``. Users build ``fastfer.FER`` (:mod:`fastfer.api`),
    which is this class with ``stream`` and ``analyze_many`` added from the outer layers (the
    core never imports video or scale); its docstring gives the arguments."""

    def __init__(
        self,
        detector: str = DEFAULT_DETECTOR,
        classifier: str = DEFAULT_CLASSIFIER,
        *,
        providers: Sequence[ProviderRequest] = ("cpu",),
        threads: int = 1,
        score_threshold: Optional[float] = None,
        nms_iou: float = DEFAULT_NMS_IOU,
        max_faces: int = MAX_FACES,
        max_side: int = DEFAULT_MAX_SIDE,
        min_face: int = DEFAULT_MIN_FACE,
        inference: str = "auto",
    ):
        # The constructor's arguments, so that an equal FER can be built elsewhere (a worker
        # thread, process or Ray actor): FER(**fer.options).
        self.options = {k: v for k, v in locals().items() if k != "self"}
        if inference not in ("auto", "native", "python"):
            raise ValueError(f"inference must be 'auto', 'native' or 'python', got {inference!r}")
        self.detector = Detector(
            detector,
            score_threshold=score_threshold,
            nms_iou=nms_iou,
            max_faces=max_faces,
            max_side=max_side,
            min_face=min_face,
            threads=threads,
            providers=providers,
        )
        self.classifier = Classifier(classifier, threads=threads, providers=providers)
        self._pipeline = None
        self.native_error = "not requested (inference='python')" if inference == "python" else None
        if inference != "python":
            self.native_error = native_inference_unavailable()
            if self.native_error is None:
                self._pipeline = self._native_pipeline(threads, providers)
            elif inference == "native":
                raise BackendError(f"native inference is not available: {self.native_error}")
        self.inference = "native" if self._pipeline is not None else "python"
        self._warm_up()

    def __repr__(self) -> str:
        """``FER(detector=..., classifier=..., inference=...)`` and the options that differ from
        their defaults: an equal FER is ``FER(**fer.options)``."""
        shown = {
            "detector": self.options["detector"],
            "classifier": self.options["classifier"],
            "inference": self.inference,
        }
        defaults = {name: p.default for name, p in inspect.signature(FER).parameters.items()}
        shown.update(
            (name, value)
            for name, value in self.options.items()
            if name not in shown and name != "inference" and value != defaults.get(name)
        )
        return f"FER({', '.join(f'{name}={value!r}' for name, value in shown.items())})"

    def _native_pipeline(self, threads: int, providers: Sequence[ProviderRequest]) -> _core.Pipeline:
        from .. import backend

        assert backend.native is not None  # native_inference_unavailable() said so
        detector, classifier = self.detector.spec, self.classifier.spec
        detector_config, classifier_config = native_configs(detector, self.detector.options, classifier)
        sessions = [
            create_native_session(spec.name, threads=threads, providers=providers) for spec in (detector, classifier)
        ]
        try:
            return backend.native.Pipeline(sessions[0], detector_config, sessions[1], classifier_config)
        except ValueError as exc:  # the options are checked already: a spec the C++ validate() refuses
            raise ModelSpecError(f"models {detector.name!r} and {classifier.name!r}: {exc}") from exc

    def _warm_up(self) -> None:
        # The first run of an ONNX Runtime session allocates its buffers: pay that here.
        blank = np.zeros((64, 64, 3), np.uint8)
        self.detector.detect(blank)
        self.classifier.classify_boxes(blank, np.array([[8.0, 8.0, 56.0, 56.0]]))
        if self._pipeline is not None:
            self._pipeline.analyze(blank)

    def detect(self, image) -> list:
        """Faces of one image (``label`` and ``probs`` None), best score first."""
        if self._pipeline is not None:
            return _native_faces(self._pipeline.detect(load_image(image)), with_probs=False)
        return _faces(self.detector.detect(image))

    def classify(self, crops) -> np.ndarray:
        """Probabilities (N, 7) in fastfer.LABELS order for face crops already cut out: N×H×W
        grey or N×H×W×3 BGR uint8 (e.g. the 48×48 FER2013 faces), or a list of such crops."""
        return self.classifier.classify(crops)

    def analyze(self, image) -> list:
        """Every face of one image with its expression, best detection score first: one detector
        call, then one classifier call for all the faces, each cropped the way the classifier
        was trained. An image without faces gives []."""
        img = load_image(image)
        if self._pipeline is not None:
            return _native_faces(self._pipeline.analyze(img), with_probs=True)
        found = self.detector.detect_batch([img])[0]
        probs = self.classifier.classify_boxes(img, found.boxes) if len(found) else None
        return _faces(found, probs)

    def analyze_stages(self, image: np.ndarray) -> tuple:
        """``(faces, seconds)``: ``analyze`` of one loaded image (the same faces) and the time of
        each stage, ``{"pre", "detector", "post", "crops", "classifier"}``: measured inside the
        C++ call with the native pipeline (per thread), around the same steps on the Python path
        (fastfer.core.timing.analyze_timed adds the decode and the rest)."""
        if self._pipeline is not None:
            faces = _native_faces(self._pipeline.analyze(image), with_probs=True)
            stages = self._pipeline.last_stages()  # the calling thread's, as the call just made
            return faces, {name: stages[name] for name in ("pre", "detector", "post", "crops", "classifier")}
        found, stages = self.detector.detect_stages(image)
        start = time.perf_counter()
        batch = self.classifier.crop_batch(image, found.boxes) if len(found) else None
        stages["crops"] = time.perf_counter() - start
        start = time.perf_counter()
        probs = self.classifier.infer(batch) if batch is not None else None
        stages["classifier"] = time.perf_counter() - start
        return _faces(found, probs), stages

    def analyze_batch(self, images: Iterable, *, progress=None) -> list:
        """``analyze`` for many images in as few inference calls as the models allow.

        Returns one entry per input, in order: the list of its faces ([] when it has none), or,
        when the input could not be read, the exception that says why (an OSError or a
        fastfer.Error, e.g. ImageDecodeError naming the file): one bad image never fails the
        batch. Check with ``isinstance(entry, Exception)``. With the native pipeline the readable
        images go through one GIL-free C++ call (image by image inside it: padding images to one
        batch tensor was measured slower on the CPU).

        ``images`` is a list (or other iterable) of images; a single path, str or bytes is refused
        with a TypeError rather than read character by character. ``progress``: ``True`` draws a
        bar on stderr; a callable is called as ``progress(done, total)`` after each chunk of
        images, so long runs are not silent.
        """
        if isinstance(images, (str, bytes, bytearray, PurePath, np.ndarray)):
            raise TypeError(
                f"analyze_batch takes a list of images, got one {type(images).__name__}: "
                "pass [image] (or use analyze for one image)"
            )
        if progress is not None and progress is not False:
            return self._analyze_with_progress(list(images), progress)
        results, loaded, where = _load_all(images)
        if self._pipeline is not None:
            faces = [_native_faces(found, with_probs=True) for found in self._pipeline.analyze_batch(loaded)]
        else:
            found = self.detector.detect_batch(loaded)
            crops = [(img, det) for img, det in zip(loaded, found) if len(det)]
            probs = self._classify_many(crops)
            faces = [_faces(det, probs.pop(0) if len(det) else None) for det in found]
        for slot, image_faces in zip(where, faces):
            results[slot] = image_faces
        return results

    def _analyze_with_progress(self, images: list, progress) -> list:
        """analyze_batch in chunks, reporting after each: ``progress(done, total)`` or a bar."""
        report = progress if callable(progress) else _StderrBar("analyze_batch").update
        results, total = [], len(images)
        report(0, total)
        for start in range(0, total, _PROGRESS_CHUNK):
            results += self.analyze_batch(images[start : start + _PROGRESS_CHUNK])
            report(len(results), total)
        return results

    def _classify_many(self, crops) -> list:
        """One classifier call for the faces of several images: per-image probability arrays."""
        if not crops:
            return []
        batches = [self.classifier.crop_batch(img, det.boxes) for img, det in crops]
        probs = self.classifier.infer(np.concatenate(batches))
        return np.split(probs, np.cumsum([len(det) for _, det in crops])[:-1])
