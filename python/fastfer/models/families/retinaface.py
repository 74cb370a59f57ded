"""RetinaFace: per anchor, box deltas (4), landmark deltas (10) and softmax scores (2, column 1 =
face), decoded against SSD-style priors. The native twin is cpp/src/detectors/retinaface.cpp."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from .._fields import Fields
from .base import DetectorDecoder, Kernels, Outputs, decode_prior_deltas, variances

if TYPE_CHECKING:
    from ..schema import InputSpec

_WIDTHS = {"boxes": 4, "landmarks": 10, "scores": 2}


@dataclass(frozen=True)
class RetinaFace(DetectorDecoder):
    kind: ClassVar[str] = "retinaface"
    family: ClassVar[str] = "RetinaFace"
    KEYS: ClassVar[tuple[str, ...]] = (*DetectorDecoder.KEYS, "variances")

    #: [xy, wh]: box centres and landmarks move by delta × variances[0] × the prior's size.
    variances: tuple[float, float]

    @classmethod
    def read(cls, fields: Fields, inp: InputSpec) -> dict[str, Any]:
        return {**super().read(fields, inp), "variances": variances(fields)}

    def own_entry(self) -> dict[str, Any]:
        return {"variances": list(self.variances)}

    def native_fields(self) -> dict[str, Any]:
        return {"variance_xy": self.variances[0], "variance_wh": self.variances[1]}

    def roles(self) -> tuple[str, ...]:
        return tuple(_WIDTHS)

    def output_shapes(self, batch: int, height: int, width: int, anchors: int) -> dict[str, tuple[int, int, int]]:
        return {role: (batch, anchors, w) for role, w in _WIDTHS.items()}

    def scores(self, out: Outputs, kernels: Kernels) -> np.ndarray:
        return out["scores"][:, 1]

    def decode(
        self, out: Outputs, picked: np.ndarray, priors: np.ndarray, inp: InputSpec, kernels: Kernels
    ) -> tuple[np.ndarray, np.ndarray]:
        return decode_prior_deltas(out["boxes"][picked], out["landmarks"][picked], priors, self.variances, kernels)
