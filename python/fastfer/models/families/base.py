"""What every detector family shares: the decoder fields of the spec, their parsing and their
manifest form, and the decoding interface the Detector calls.

A family decodes with the kernels its caller passes in (``fastfer.backend.kernels``, native or the
numpy twins): this package sits below ``backend`` and never imports it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Mapping, Optional, Protocol

import numpy as np

from .._fields import Fields, is_int, is_number
from ..defaults import DEFAULT_SCORE_THRESHOLD

if TYPE_CHECKING:
    from ..schema import InputSpec

#: Per-image model outputs by role, as a family reads them (one image of the batch).
Outputs = Mapping[str, np.ndarray]


class Kernels(Protocol):
    """The decoding kernels a family uses (``fastfer.backend.kernels`` has them)."""

    def decode_boxes(self, deltas: Any, priors: Any, variances: Any) -> np.ndarray: ...

    def decode_landmarks(self, deltas: Any, priors: Any, variance: Any) -> np.ndarray: ...

    def yunet_scores(self, cls: Any, obj: Any) -> np.ndarray: ...


@dataclass(frozen=True)
class DetectorDecoder:
    """A detector's decoder spec: its anchors (``steps``, ``min_sizes``, ``offset``; one prior
    per anchor size per feature-map cell), its default ``score_threshold``, ``min_face_px`` (the
    smallest face it finds reliably, for the min_face policy; None when not measured). A subclass
    per family adds its own fields and says how its outputs become scores, boxes and landmarks."""

    #: The manifest's ``decoder.kind``.
    kind: ClassVar[str]
    #: The family's name in messages, and its ``fastfer._core.DetectorKind`` member.
    family: ClassVar[str]
    #: True when the mouth corners are placed, not predicted (BlazeFace).
    estimated_mouth_corners: ClassVar[bool] = False

    steps: tuple[int, ...]
    min_sizes: tuple[tuple[float, ...], ...]
    offset: float
    score_threshold: float
    min_face_px: Optional[int]

    # --- the spec ---------------------------------------------------------------------------------

    #: The keys this class reads (the rest are notes).
    KEYS: ClassVar[tuple[str, ...]] = ("kind", "steps", "min_sizes", "offset", "score_threshold", "min_face_px")

    @classmethod
    def parse(cls, fields: Fields, inp: InputSpec) -> DetectorDecoder:
        """The decoder of a spec's ``decoder`` mapping (``fields``); ``inp`` is its input."""
        return cls(**cls.read(fields, inp))

    @classmethod
    def read(cls, fields: Fields, inp: InputSpec) -> dict[str, Any]:
        """The fields of the common keys; a family adds its own and checks its rules."""
        steps = fields.get("steps")
        if not isinstance(steps, (list, tuple)) or not steps or not all(is_int(s) and s > 0 for s in steps):
            fields.fail(f"decoder steps must be a list of positive ints, got {steps!r}")
        levels = fields.get("min_sizes")
        if (
            not isinstance(levels, (list, tuple))
            or len(levels) != len(steps)
            or not all(
                isinstance(level, (list, tuple)) and level and all(_positive(v) for v in level) for level in levels
            )
        ):
            fields.fail(f"decoder min_sizes must be one list of positive numbers per step, got {levels!r}")
        return {
            "steps": tuple(steps),
            "min_sizes": tuple(tuple(level) for level in levels),
            "offset": fields.number("offset", 0.5),
            "score_threshold": fields.number("score_threshold", DEFAULT_SCORE_THRESHOLD),
            "min_face_px": fields.optional_integer("min_face_px"),
        }

    def to_entry(self) -> dict[str, Any]:
        """The manifest's form of this decoder (lists for tuples; min_face_px only when measured)."""
        entry: dict[str, Any] = {
            "kind": self.kind,
            "steps": list(self.steps),
            "min_sizes": [list(level) for level in self.min_sizes],
            "offset": self.offset,
            **self.own_entry(),
            "score_threshold": self.score_threshold,
        }
        if self.min_face_px is not None:
            entry["min_face_px"] = self.min_face_px
        return entry

    def own_entry(self) -> dict[str, Any]:
        """The family's own keys, in the manifest's form."""
        return {}

    def native_fields(self) -> dict[str, Any]:
        """The family's own fields of the native pipeline's ``fastfer._core.DetectorConfig``."""
        return {}

    # --- the outputs ------------------------------------------------------------------------------

    def roles(self) -> tuple[str, ...]:
        """The output roles the decoder reads, in the order of the native pipeline's output names."""
        raise NotImplementedError

    def output_shapes(self, batch: int, height: int, width: int, anchors: int) -> dict[str, tuple[int, int, int]]:
        """role -> the shape each output must have for a batch of tensors ``width`` x ``height``
        with ``anchors`` anchors."""
        raise NotImplementedError

    def per_image(self, raw: Outputs, index: int) -> dict[str, np.ndarray]:
        """The outputs of image ``index`` of the batch, by the names ``scores`` and ``decode`` read."""
        return {role: raw[role][index] for role in self.roles()}

    def scores(self, out: Outputs, kernels: Kernels) -> np.ndarray:
        """The face score of every anchor, (A,)."""
        raise NotImplementedError

    def decode(
        self, out: Outputs, picked: np.ndarray, priors: np.ndarray, inp: InputSpec, kernels: Kernels
    ) -> tuple[np.ndarray, np.ndarray]:
        """Boxes (K, 4) x1, y1, x2, y2 and landmarks (K, 5, 2) of the anchors ``picked`` (their
        priors ``priors``), as fractions of the tensor's width and height."""
        raise NotImplementedError


def _positive(value: object) -> bool:
    """A finite number > 0."""
    return isinstance(value, (int, float)) and is_number(value) and value > 0


def variances(fields: Fields) -> tuple[float, float]:
    """The [xy, wh] variances (both > 0) of a family decoded against SSD-style priors."""
    xy, wh = fields.numbers("variances", count=2)
    if not (xy > 0 and wh > 0):
        fields.fail(f"decoder variances must be > 0, got {[xy, wh]!r}")
    return xy, wh


def decode_prior_deltas(
    box_deltas: np.ndarray, landmark_deltas: np.ndarray, priors: np.ndarray, var: tuple[float, float], kernels: Kernels
) -> tuple[np.ndarray, np.ndarray]:
    """Boxes and 5 landmarks from per-anchor deltas (4 and 10 values) against SSD-style priors."""
    boxes = kernels.decode_boxes(box_deltas, priors, var)
    marks = kernels.decode_landmarks(landmark_deltas, priors, var[0])
    return boxes, marks.reshape(-1, 5, 2)


@dataclass(frozen=True)
class PriorDeltaDecoder(DetectorDecoder):
    """A family whose boxes and landmarks are deltas against SSD-style priors, scaled by its
    ``variances`` (RetinaFace, YuNet): the field, its manifest and native forms, and the decoding
    of the outputs its ``DELTAS`` roles name."""

    KEYS: ClassVar[tuple[str, ...]] = (*DetectorDecoder.KEYS, "variances")
    #: The roles (of ``per_image``'s outputs) holding the box deltas (4) and landmark deltas (10).
    DELTAS: ClassVar[tuple[str, str]]

    #: [xy, wh]: box centres and landmarks move by delta × variances[0] × the prior's size.
    variances: tuple[float, float]

    @classmethod
    def read(cls, fields: Fields, inp: InputSpec) -> dict[str, Any]:
        return {**super().read(fields, inp), "variances": variances(fields)}

    def own_entry(self) -> dict[str, Any]:
        return {"variances": list(self.variances)}

    def native_fields(self) -> dict[str, Any]:
        return {"variance_xy": self.variances[0], "variance_wh": self.variances[1]}

    def decode(
        self, out: Outputs, picked: np.ndarray, priors: np.ndarray, inp: InputSpec, kernels: Kernels
    ) -> tuple[np.ndarray, np.ndarray]:
        boxes, marks = self.DELTAS
        return decode_prior_deltas(out[boxes][picked], out[marks][picked], priors, self.variances, kernels)
