"""BlazeFace (MediaPipe's face detector): per anchor, 16 regressors in input pixels (box centre
offset, box size, then 6 keypoints: eyes, nose tip, mouth centre, ears) and one score logit; fixed
input size. The native twin is cpp/src/detectors/blazeface.cpp.

BlazeFace predicts the mouth centre only: its corners are placed on the line through the centre
parallel to the eyes, 0.415 × the eye distance either side (the proportions of the standard
5-point face template).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from .._fields import Fields
from .base import DetectorDecoder, Kernels, Outputs

if TYPE_CHECKING:
    from ..schema import InputSpec

_WIDTHS = {"regressors": 16, "scores": 1}
#: Half the mouth width, as a fraction of the eye distance.
MOUTH_HALF_WIDTH = 0.415


@dataclass(frozen=True)
class BlazeFace(DetectorDecoder):
    kind: ClassVar[str] = "blazeface"
    family: ClassVar[str] = "BlazeFace"
    estimated_mouth_corners: ClassVar[bool] = True

    @classmethod
    def read(cls, fields: Fields, inp: InputSpec) -> dict[str, Any]:
        if inp.size == "dynamic":
            fields.fail("a blazeface detector needs a fixed input size [width, height]")
        return super().read(fields, inp)

    def roles(self) -> tuple[str, ...]:
        return tuple(_WIDTHS)

    def output_shapes(self, batch: int, height: int, width: int, anchors: int) -> dict[str, tuple[int, int, int]]:
        return {role: (batch, anchors, w) for role, w in _WIDTHS.items()}

    def scores(self, out: Outputs, kernels: Kernels) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-np.clip(out["scores"][:, 0], -80.0, 80.0)))

    def decode(
        self, out: Outputs, picked: np.ndarray, priors: np.ndarray, inp: InputSpec, kernels: Kernels
    ) -> tuple[np.ndarray, np.ndarray]:
        # The regressors are in input pixels; the anchors all have size 1 (normalised), so no
        # anchor-size factor appears.
        size = float(inp.size[0])
        pairs = out["regressors"][picked][:, :16].reshape(-1, 8, 2) / size
        centre = priors[:, :2] + pairs[:, 0]
        half = np.maximum(pairs[:, 1] / 2, 0.0)  # a negative size from a junk anchor: empty box
        boxes = np.hstack([centre - half, centre + half]).astype(np.float32)
        points = priors[:, None, :2] + pairs[:, 2:]
        eyes = points[:, :2]
        left_first = eyes[:, 0, 0] <= eyes[:, 1, 0]
        left = np.where(left_first[:, None], eyes[:, 0], eyes[:, 1])
        right = np.where(left_first[:, None], eyes[:, 1], eyes[:, 0])
        half_mouth = MOUTH_HALF_WIDTH * (right - left)
        mouth = points[:, 3]
        marks = np.stack([left, right, points[:, 2], mouth - half_mouth, mouth + half_mouth], axis=1)
        return boxes, marks.astype(np.float32)
