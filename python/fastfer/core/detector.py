"""Face detection: image -> boxes, scores and 5 landmarks in original image pixels.

The detector reads everything model-specific from its manifest entry (input size, colour,
normalisation, anchors, decoder). Preprocessing (resize + pad + normalise), anchors, decoding and
NMS are fastfer's kernels; inference is ONNX Runtime's Python API.

Landmarks are always 5 points, in this order: left eye, right eye (as seen in the image), nose
tip, left mouth corner, right mouth corner. BlazeFace predicts the mouth centre only: its corners
are placed on the line through the centre parallel to the eyes, 0.415 × the eye distance either
side (the proportions of the standard 5-point face template), and flagged by
``Detector.estimated_mouth_corners``.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any, Mapping, Optional, Sequence

import numpy as np

from .._args import int_in, number_in, positive_int
from ..backend import kernels
from ..backend.runtime import ProviderRequest, create_session
from ..errors import ModelError, ModelSpecError
from ..io.image import load_image
from ..models import DEFAULT_DETECTOR, ModelSpec, spec as model_spec
from ..models.defaults import DEFAULT_MAX_SIDE, DEFAULT_NMS_IOU, MAX_FACES, PRE_NMS_TOP_K, PROBABILITY_SLACK
from ..models.families import DetectorDecoder

__all__ = [
    "DEFAULT_MAX_SIDE",
    "DEFAULT_NMS_IOU",
    "MAX_FACES",
    "PRE_NMS_TOP_K",
    "Detections",
    "Detector",
    "DetectorOptions",
]

#: A detector's scores may stray this far outside [0, 1]; further is a ModelError (as in the C++
#: pipeline).
SCORE_SLACK = np.float32(PROBABILITY_SLACK)


@dataclass(frozen=True)
class Detections:
    """Faces of one image, best score first. boxes (N, 4) x1, y1, x2, y2; scores (N,);
    landmarks (N, 5, 2); all float32 in original image pixels."""

    boxes: np.ndarray
    scores: np.ndarray
    landmarks: np.ndarray

    def __len__(self) -> int:
        return len(self.scores)

    @staticmethod
    def empty() -> Detections:
        return Detections(np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros((0, 5, 2), np.float32))


@dataclass(frozen=True)
class DetectorOptions:
    """A Detector's options, checked (``Detector`` says what each means). The native pipeline's
    configuration is built from these and the model's spec (fastfer.core.native_config)."""

    score_threshold: float
    nms_iou: float = DEFAULT_NMS_IOU
    max_faces: int = MAX_FACES
    max_side: int = DEFAULT_MAX_SIDE
    min_face: int = 0

    @staticmethod
    def checked(spec: ModelSpec, decoder: DetectorDecoder, **given: Any) -> DetectorOptions:
        """The options ``given`` (score_threshold None: the decoder's own), each checked: a
        ValueError names the first one out of range, a ModelSpecError a min_face the model cannot
        honour."""
        threshold = given.get("score_threshold")
        if threshold is None:
            threshold = decoder.score_threshold
        options = DetectorOptions(
            score_threshold=number_in(threshold, "score_threshold", 0, 1),
            nms_iou=number_in(given.get("nms_iou", DEFAULT_NMS_IOU), "nms_iou", 0, 1),
            max_faces=positive_int(given.get("max_faces", MAX_FACES), "max_faces"),
            max_side=positive_int(given.get("max_side", DEFAULT_MAX_SIDE), "max_side"),
            min_face=int_in(given.get("min_face", 0), "min_face", 0, 65536, note=" (0 = off)"),
        )
        if options.max_faces > MAX_FACES:
            raise ValueError(f"max_faces is capped at {MAX_FACES}, got {options.max_faces}")
        if options.min_face and spec.input.size == "dynamic" and not decoder.min_face_px:
            raise ModelSpecError(
                f"model {spec.name!r}: min_face needs the smallest face it finds reliably "
                "(decoder 'min_face_px' in its spec)"
            )
        return options


class Detector:
    """A face detector built from a shipped or registered model.

    Args:
        model: model name (``fastfer.models.available("detector")``).
        score_threshold: keep faces scoring at least this (default: the model's own).
        nms_iou: IoU above which the lower-scored of two boxes is dropped.
        max_faces: at most this many faces per image (1 to 1,000; the best are kept).
        max_side: dynamic-size models only: images whose long side exceeds this are scaled down
            to it (default 1,600); smaller images are used at their own size. The tensor is
            padded to a multiple of 32 as the model needs.
        min_face: the input-size policy, in image pixels (0 = off: every face, the image up to
            ``max_side``). Faces whose box is shorter than this (long side) are dropped, and a
            dynamic-size model sees the image shrunk (never enlarged) so that a ``min_face``-pixel
            face becomes the smallest face it finds reliably (its decoder's ``min_face_px``,
            measured on WIDER FACE): the long side becomes at most ``long side * min_face_px //
            min_face``. Expression cannot be read from a 10-pixel face, so a face library need
            not pay to find one.
        threads: ONNX Runtime intra-op threads.
        providers: ONNX Runtime execution providers in priority order, e.g. ("cuda", "cpu").
    Thread-safe: one Detector may be used from many threads at once.
    """

    def __init__(
        self,
        model: str = DEFAULT_DETECTOR,
        *,
        score_threshold: Optional[float] = None,
        nms_iou: float = DEFAULT_NMS_IOU,
        max_faces: int = MAX_FACES,
        max_side: int = DEFAULT_MAX_SIDE,
        min_face: int = 0,
        threads: int = 1,
        providers: Sequence[ProviderRequest] = ("cpu",),
    ):
        self.spec: ModelSpec = model_spec(model)
        if self.spec.decoder is None:
            raise ModelSpecError(f"model {model!r} is a {self.spec.task}, not a detector")
        #: The model's decoder: its family's class (fastfer.models.families).
        self.decoder: DetectorDecoder = self.spec.decoder
        self.options = DetectorOptions.checked(
            self.spec,
            self.decoder,
            score_threshold=score_threshold,
            nms_iou=nms_iou,
            max_faces=max_faces,
            max_side=max_side,
            min_face=min_face,
        )
        self.estimated_mouth_corners = self.decoder.estimated_mouth_corners
        self._session = create_session(model, threads=threads, providers=providers)
        self._anchor_cache: dict[tuple[int, int], np.ndarray] = {}
        self._anchor_lock = threading.Lock()

    @property
    def score_threshold(self) -> float:
        return self.options.score_threshold

    @property
    def nms_iou(self) -> float:
        return self.options.nms_iou

    @property
    def max_faces(self) -> int:
        return self.options.max_faces

    @property
    def max_side(self) -> int:
        return self.options.max_side

    @property
    def min_face(self) -> int:
        return self.options.min_face

    # --- preprocessing and inference --------------------------------------------------------

    def input_tensor(self, image: np.ndarray) -> tuple[np.ndarray, float]:
        """``(tensor, scale)``: the model's input for one loaded image (resized to
        ``input_long_side``, padded, normalised, in the model's layout) and the factor from image
        to tensor pixels: exactly what ``detect`` feeds the model."""
        inp = self.spec.input
        common: dict[str, Any] = dict(channel_order=inp.color, mean=inp.mean, scale=inp.scale, layout=inp.layout)
        if inp.size == "dynamic":
            return kernels.detector_input(
                image, self.input_long_side(image.shape), pad_multiple=inp.pad_multiple, **common
            )
        return kernels.detector_input(image, fixed_size=inp.size, **common)

    def input_long_side(self, shape: Sequence[int]) -> int:
        """The long-side limit for an image of this shape: max_side, lowered by the min_face policy so that a
        min_face-pixel face becomes min_face_px tensor pixels (integers, as the C++ pipeline)."""
        if not self.min_face or not self.decoder.min_face_px:
            return self.max_side
        return min(self.max_side, max(1, max(shape[:2]) * self.decoder.min_face_px // self.min_face))

    def _anchors(self, height: int, width: int) -> np.ndarray:
        key = (height, width)
        with self._anchor_lock:
            anchors = self._anchor_cache.get(key)
        if anchors is None:
            d = self.decoder
            anchors = kernels.make_anchors(height, width, d.steps, d.min_sizes, d.offset)
            with self._anchor_lock:
                if len(self._anchor_cache) > 16:  # frame sizes of a video repeat; photos vary
                    self._anchor_cache.clear()
                self._anchor_cache[key] = anchors
        return anchors

    def _run(self, tensor: np.ndarray) -> Mapping[str, np.ndarray]:
        outputs = self.spec.outputs
        names = list(outputs.values())
        try:
            values = self._session.run(names, {self.spec.input.name: tensor})
        except Exception as exc:  # ONNX Runtime's own error types: the model's fault
            raise ModelError(
                f"model {self.spec.name!r}: ONNX Runtime cannot run it on an input of shape {tensor.shape} ({exc})"
            ) from exc
        raw = dict(zip(outputs.keys(), (np.asarray(v) for v in values)))
        self._check_outputs(raw, len(tensor), *self._hw(tensor))
        return raw

    def _check_outputs(self, raw: Mapping[str, np.ndarray], batch: int, height: int, width: int) -> None:
        """ModelError unless every output the decoder reads has the shape of the batch and the
        anchors, and holds finite values (the checks of the C++ pipeline)."""
        anchors = len(self._anchors(height, width))
        for role, shape in self.decoder.output_shapes(batch, height, width, anchors).items():
            out = raw[role]
            if out.shape != shape:
                raise ModelError(
                    f"model {self.spec.name!r}: detector output {self.spec.outputs[role]!r} has "
                    f"shape {out.shape} for a batch of {batch} at {width}x{height}; its "
                    f"{self.decoder.kind} spec gives {shape}"
                )
            if not np.all(np.isfinite(out)):
                raise ModelError(
                    f"model {self.spec.name!r}: detector output {self.spec.outputs[role]!r} holds NaN or infinity"
                )

    # --- decoding ------------------------------------------------------------------------------

    def _decode(
        self, raw: Mapping[str, np.ndarray], index: int, height: int, width: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Candidate (boxes, scores, landmarks (K, 5, 2)) in tensor pixels, above the threshold."""
        anchors = self._anchors(height, width)
        out = self.decoder.per_image(raw, index)
        scores = self.decoder.scores(out, kernels)
        if len(scores) != len(anchors):
            raise ModelSpecError(
                f"model {self.spec.name!r}: {len(scores)} outputs for {len(anchors)} "
                f"anchors at {width}x{height}: the decoder spec does not match the model"
            )
        outside = (scores < -SCORE_SLACK) | (scores > 1 + SCORE_SLACK)
        if np.any(outside):
            raise ModelError(f"model {self.spec.name!r}: detector score {scores[np.argmax(outside)]} is outside [0, 1]")
        picked = np.flatnonzero(scores >= self.score_threshold)
        if len(picked) > PRE_NMS_TOP_K:
            picked = picked[np.argsort(-scores[picked], kind="stable")[:PRE_NMS_TOP_K]]
        scale = np.array([width, height], np.float32)
        try:
            boxes, marks = self.decoder.decode(out, picked, anchors[picked], self.spec.input, kernels)
        except ValueError as exc:  # the decoding kernels refuse deltas that overflow float32
            raise ModelError(f"model {self.spec.name!r}: its box or landmark outputs are out of range ({exc})") from exc
        marks = marks * scale
        boxes = boxes * np.tile(scale, 2)
        if not (np.all(np.isfinite(boxes)) and np.all(np.isfinite(marks))):
            raise ModelError(
                f"model {self.spec.name!r}: its box or landmark outputs are out of range (they "
                "decode to NaN or infinity)"
            )
        return boxes, scores[picked].astype(np.float32), marks

    def _finish(self, boxes, scores, marks, scale: float, image_shape) -> Detections:
        if self.min_face and len(scores):  # before NMS, so max_faces counts the faces that matter
            side = np.maximum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1])
            big = side >= np.float32(self.min_face * scale)
            boxes, scores, marks = boxes[big], scores[big], marks[big]
        if len(scores) == 0:
            return Detections.empty()
        keep = kernels.nms(boxes, scores, self.nms_iou, max_output=self.max_faces)
        h, w = image_shape[:2]
        boxes = boxes[keep] / np.float32(scale)
        boxes = np.clip(boxes, 0.0, [w, h, w, h]).astype(np.float32)
        # A box left with no width or height (wholly in the padding, or outside the image) is dropped.
        real = (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])
        marks = (marks[keep] / np.float32(scale)).astype(np.float32)
        return Detections(boxes[real], scores[keep][real], marks[real])

    # --- public ----------------------------------------------------------------------------------

    def detect(self, image) -> Detections:
        """Faces of one image (anything ``fastfer.load_image`` reads), best score first.
        An image without faces gives an empty result."""
        return self.detect_batch([load_image(image)])[0]

    def detect_stages(self, image: np.ndarray) -> tuple:
        """``(detections, seconds)`` of one loaded image, as ``detect`` finds them, and the time of
        each stage: ``{"pre": input tensor, "detector": the model's run, "post": decoding, NMS,
        back to image pixels}`` (fastfer.core.timing)."""
        marks = [time.perf_counter()]
        tensor, scale = self.input_tensor(image)
        marks.append(time.perf_counter())
        raw = self._run(tensor)
        marks.append(time.perf_counter())
        height, width = self._hw(tensor)
        found = self._finish(*self._decode(raw, 0, height, width), scale, image.shape)
        marks.append(time.perf_counter())
        return found, dict(zip(("pre", "detector", "post"), np.diff(marks).tolist()))

    def detect_batch(self, images: Sequence[np.ndarray], max_batch_pixels: int = 16_000_000) -> list:
        """Faces of many loaded images (H×W×3 BGR uint8), in as few inference calls as the model
        allows: a fixed-size model takes them all at once; for a dynamic-size one, consecutive
        images whose tensors have the same size (frames of a video, photos of one camera) share
        a call while they fit in ``max_batch_pixels``. Tensors of different sizes are not padded
        to one: black padding moved the faces found near it by up to 1.5% of their size with
        the int8 RetinaFace on shrunk photos, and results must not depend on the neighbours
        in a batch."""
        prepared = [self.input_tensor(img) for img in images]
        results: list = []
        start = 0
        while start < len(prepared):
            stop = start + 1
            while stop < len(prepared) and self._fits(prepared[start : stop + 1], max_batch_pixels):
                stop += 1
            results.extend(self._detect_group(prepared[start:stop], images[start:stop]))
            start = stop
        return results

    def _hw(self, tensor: np.ndarray) -> tuple[int, int]:
        shape = tensor.shape[1:3] if self.spec.input.layout == "nhwc" else tensor.shape[2:4]
        return int(shape[0]), int(shape[1])

    def _fits(self, group, max_pixels: int) -> bool:
        if self.spec.input.size != "dynamic":
            return True
        if len({self._hw(t) for t, _ in group}) > 1:
            return False
        h, w = self._hw(group[0][0])
        return h * w * len(group) <= max_pixels

    def _detect_group(self, group, images) -> list:
        height = max(self._hw(t)[0] for t, _ in group)
        width = max(self._hw(t)[1] for t, _ in group)
        nhwc = self.spec.input.layout == "nhwc"
        if len(group) == 1 and self._hw(group[0][0]) == (height, width):
            batch = group[0][0]
        else:  # pad each tensor to the common size with black, normalised as the kernel does
            shape = (len(group), height, width, 3) if nhwc else (len(group), 3, height, width)
            batch = np.empty(shape, np.float32)
            inp = self.spec.input
            pad = ((np.float32(0.0) - np.asarray(inp.mean, np.float32)) * np.asarray(inp.scale, np.float32)) * np.ones(
                3, np.float32
            )
            for i, (tensor, _) in enumerate(group):
                h, w = self._hw(tensor)
                batch[i] = pad if nhwc else pad[:, None, None]
                if nhwc:
                    batch[i, :h, :w] = tensor[0]
                else:
                    batch[i, :, :h, :w] = tensor[0]
        raw = self._run(batch)
        out = []
        for i, ((_, scale), img) in enumerate(zip(group, images)):
            boxes, scores, marks = self._decode(raw, i, height, width)
            out.append(self._finish(boxes, scores, marks, scale, img.shape))
        return out
