"""RetinaFace: per anchor, box deltas (4), landmark deltas (10) and softmax scores (2, column 1 =
face), decoded against SSD-style priors. The native twin is cpp/src/detectors/retinaface.cpp."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from .base import Kernels, Outputs, PriorDeltaDecoder

_WIDTHS = {"boxes": 4, "landmarks": 10, "scores": 2}


@dataclass(frozen=True)
class RetinaFace(PriorDeltaDecoder):
    kind: ClassVar[str] = "retinaface"
    family: ClassVar[str] = "RetinaFace"
    DELTAS: ClassVar[tuple[str, str]] = ("boxes", "landmarks")

    def roles(self) -> tuple[str, ...]:
        return tuple(_WIDTHS)

    def output_shapes(self, batch: int, height: int, width: int, anchors: int) -> dict[str, tuple[int, int, int]]:
        return {role: (batch, anchors, w) for role, w in _WIDTHS.items()}

    def scores(self, out: Outputs, kernels: Kernels) -> np.ndarray:
        return out["scores"][:, 1]
