"""What analysis returns: one :class:`Face` per face found."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np

from ..labels import LABELS


def frozen_float32(array: np.ndarray) -> np.ndarray:
    """A read-only float32 copy of ``array``: what a Face holds, so that no caller can change it."""
    array = np.array(array, dtype=np.float32, copy=True)
    array.flags.writeable = False
    return array


@dataclass(frozen=True, eq=False)
class Face:
    """One face: ``box`` (x1, y1, x2, y2) in image pixels, detector ``score``, ``landmarks``
    (5, 2) (left eye, right eye, nose, left and right mouth corner), and, after
    classification, ``label`` (one of fastfer.LABELS) and ``probs`` (7,) summing to 1; both are
    None from detection alone. Arrays are read-only float32."""

    box: tuple
    score: float
    landmarks: np.ndarray
    label: Optional[str] = None
    probs: Optional[np.ndarray] = None

    @staticmethod
    def build(box, score, landmarks, probs=None) -> "Face":
        probs = None if probs is None else frozen_float32(probs)
        label = None if probs is None else LABELS[int(np.argmax(probs))]
        return Face(tuple(float(v) for v in box), float(score), frozen_float32(landmarks), label, probs)

    @staticmethod
    def from_arrays(
        boxes: np.ndarray, scores: np.ndarray, landmarks: np.ndarray, probs: Optional[np.ndarray] = None
    ) -> list:
        """The faces of whole float32 arrays ((N, 4), (N,), (N, 5, 2), (N, 7) or None), built
        with whole-array operations. The arrays become read-only and each face's landmarks and
        probabilities are views of them, so pass arrays nothing else holds (``build`` copies)."""
        count = len(scores)
        if count == 0:
            return []
        boxes, scores = boxes.tolist(), scores.tolist()
        landmarks.flags.writeable = False
        if probs is None:
            return [Face(tuple(boxes[i]), scores[i], landmarks[i]) for i in range(count)]
        probs.flags.writeable = False
        labels = [LABELS[k] for k in probs.argmax(axis=1).tolist()]
        return [Face(tuple(boxes[i]), scores[i], landmarks[i], labels[i], probs[i]) for i in range(count)]

    def to_dict(self) -> dict:
        """Plain JSON-able values (probabilities keyed by label)."""
        return {
            "box": [round(v, 2) for v in self.box],
            "score": round(self.score, 5),
            "landmarks": [[round(float(x), 2), round(float(y), 2)] for x, y in self.landmarks],
            "label": self.label,
            "probs": None if self.probs is None else {k: round(float(p), 5) for k, p in zip(LABELS, self.probs)},
        }

    def __eq__(self, other) -> bool:
        if not isinstance(other, Face):
            return NotImplemented
        same = lambda a, b: (a is None and b is None) or (a is not None and b is not None and np.array_equal(a, b))  # noqa: E731
        return (
            self.box == other.box
            and self.score == other.score
            and self.label == other.label
            and same(self.landmarks, other.landmarks)
            and same(self.probs, other.probs)
        )

    __hash__ = None  # type: ignore[assignment]  # holds arrays: unhashable
