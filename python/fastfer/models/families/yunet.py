"""YuNet (libfacedetection): cls, obj, bbox and kps heads once per step, anchor-free. Its boxes and
landmarks are RetinaFace's decoding with one prior per cell (size = step, offset 0: the manifest's
min_sizes and offset) and variances (1, 1); only the score is its own, sqrt(cls × obj). The native
twin is cpp/src/detectors/yunet.cpp."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from .._fields import Fields
from .base import Kernels, Outputs, PriorDeltaDecoder

if TYPE_CHECKING:
    from ..schema import InputSpec

#: Each head's width per cell, in the order of the native pipeline's output names.
_HEADS = {"cls": 1, "obj": 1, "bbox": 4, "kps": 10}


@dataclass(frozen=True)
class YuNet(PriorDeltaDecoder):
    kind: ClassVar[str] = "yunet"
    family: ClassVar[str] = "YuNet"
    DELTAS: ClassVar[tuple[str, str]] = ("bbox", "kps")

    @classmethod
    def read(cls, fields: Fields, inp: InputSpec) -> dict[str, Any]:
        """Also the rules of its heads: one prior per cell (one anchor size per step), and a
        dynamic input padded to a multiple of every step, so each head has (H / step) x (W / step)
        cells exactly."""
        read = super().read(fields, inp)
        if any(len(level) != 1 for level in read["min_sizes"]):
            fields.fail("a yunet decoder has one anchor size per step (min_sizes [[8], [16], [32]])")
        if inp.size != "dynamic" or any(inp.pad_multiple % step for step in read["steps"]):
            fields.fail("a yunet detector needs a dynamic input size padded to a multiple of every step")
        return read

    def roles(self) -> tuple[str, ...]:
        """One output per head and step: cls_8, cls_16, ..., kps_32."""
        return tuple(f"{head}_{step}" for head in _HEADS for step in self.steps)

    def output_shapes(self, batch: int, height: int, width: int, anchors: int) -> dict[str, tuple[int, int, int]]:
        return {
            f"{head}_{step}": (batch, (height // step) * (width // step), w)
            for head, w in _HEADS.items()
            for step in self.steps
        }

    def per_image(self, raw: Outputs, index: int) -> dict[str, np.ndarray]:
        """Each head's per-step outputs, concatenated in anchor order (step, row, column)."""
        return {head: np.concatenate([raw[f"{head}_{step}"][index] for step in self.steps]) for head in _HEADS}

    def scores(self, out: Outputs, kernels: Kernels) -> np.ndarray:
        return kernels.yunet_scores(out["cls"], out["obj"])
