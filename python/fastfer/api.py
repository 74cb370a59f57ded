"""``fastfer.FER``: the core's analysis (:class:`fastfer.core.fer.FER`) and the entry points built
on it in the outer layers, ``stream`` (:mod:`fastfer.video`) and ``analyze_many``
(:mod:`fastfer.scale`). Front layer: the core never imports video or scale (docs/architecture.md),
so the methods that need them live here, on the class users import as ``fastfer.FER``."""

from __future__ import annotations

from typing import Iterable, Optional

from .core import fer as _core
from .scale.parallel import analyze_many
from .video.smoothing import DEFAULT_ALPHA
from .video.stream import Stream


class FER(_core.FER):
    """Face detection + expression recognition, loaded and warmed once, then reused.

    Args:
        detector: detector model name (``fastfer.models.available("detector")``).
        classifier: classifier model name (``fastfer.models.available("classifier")``).
        providers: ONNX Runtime execution providers in priority order, e.g. ("cuda", "cpu").
        threads: intra-op threads per model (default 1).
        score_threshold: keep faces scoring at least this (default: the detector model's own).
        nms_iou: IoU above which the lower-scored of two boxes is dropped.
        max_faces: at most this many faces per image (1 to 1,000; the best are kept).
        max_side: images whose long side exceeds this are scaled down to it (``Detector``'s
            ``max_side``).
        min_face: the input-size policy (``Detector``'s ``min_face``): faces shorter than this
            many pixels are not looked for (the image is shrunk to match) and not returned;
            0 = every face, the image at full size up to ``max_side``. Default
            ``fastfer.models.DEFAULT_MIN_FACE``, chosen by measurement (docs/speed.md).
        inference: "auto" (default) runs analyze/detect in fastfer's C++ pipeline (one GIL-free
            call per image, ONNX Runtime's C API) when this build has it, else through
            onnxruntime's Python API; "native" requires the C++ pipeline (BackendError when it is
            missing); "python" always uses the Python path. Both give the same faces. The
            path in use is ``self.inference``; why the native one is not, ``self.native_error``.
    Thread-safe: one FER may serve many threads; results equal serial use.

    Besides ``analyze``, ``analyze_batch`` and ``detect`` (of :class:`fastfer.core.fer.FER`):
    ``stream`` (a video, a camera or any iterable of frames; faces tracked and smoothed) and
    ``analyze_many`` (many images on every core).
    """

    def analyze_many(self, images: Iterable, *, workers: Optional[int] = None, mode: str = "thread"):
        """``analyze`` for many images on every core: an iterator of one entry per input, in input
        order, like ``analyze_batch`` (the faces, or the exception saying why the input could
        not be read). ``workers`` (default: the usable cores) workers each build their own
        ``FER(**self.options)``; ``mode`` "thread" (default) or "process"; with ``workers=1``
        this FER does the work. See :mod:`fastfer.scale.parallel`."""
        return analyze_many(images, workers=workers, mode=mode, fer=self, **self.options)

    def stream(self, source, *, every: int = 1, smoothing: float = DEFAULT_ALPHA, **options):
        """Faces of every frame of a video, followed across frames: an iterator of
        :class:`fastfer.video.stream.StreamFrame` (``index``, ``timestamp``, ``faces``, ``image``).

        ``source``: a video file, a camera index, a URL OpenCV opens, or any iterable of images.
        Each face is a :class:`fastfer.video.stream.TrackedFace` with a ``track_id`` stable while the
        face is tracked (never reused), ``probs`` / ``label`` smoothed per track (``smoothing``:
        the newest frame's weight, 1 = off) and ``raw_probs`` / ``raw_label``. ``every=k`` runs
        the detector on every k-th frame and carries the faces between. At a scene cut every
        track ends, so that a new person at the same place gets a new id and its own smoothed
        expression (``cuts=False`` turns this off). Other options (``between``, ``live``,
        ``queue_size``, ``max_missed``, ``iou_threshold``, ``fps``, ``workers``, ``cuts``): see
        :class:`fastfer.video.stream.Stream`. Decoding runs in its own thread, and
        ``workers`` detection frames are analysed at once (default: the usable cores divided by
        ``threads``, at most 4).
        """
        return Stream(self, source, every=every, smoothing=smoothing, **options)
