"""``fastfer.video.tracking``: which face of this frame is which face of the previous ones.

SORT's recipe (Bewley et al. 2016), written for fastfer's boxes:

* each track has a constant-velocity Kalman filter over its box centre and size
  (cx, cy, w, h and their velocities), with noise proportional to the box size (as ByteTrack
  does), so that a 30 px face and a 300 px face are followed alike;
* each frame the tracks are predicted forward, then matched to the detections by the Hungarian
  algorithm on IoU (``scipy.optimize.linear_sum_assignment``); pairs under ``iou_threshold``
  do not match;
* a matched track is corrected by its detection; an unmatched detection starts a new track with
  a new id (ids count up from 1 and are never reused); a track missing from ``max_missed``
  detection frames in a row is ended.

Between detections (``FER.stream(every=k)``), :meth:`Tracker.advance` carries the tracks by their
motion model alone. At a scene cut (:mod:`fastfer.video.cuts`), :meth:`Tracker.end_all` ends them
all.
"""

from __future__ import annotations

from typing import Optional

import numpy as np
from scipy.optimize import linear_sum_assignment

from .._args import int_in, number_in, positive_int

# Kalman noise, as fractions of the box's mean side: how far a measured box may be off (R), and
# how much position and velocity may change per frame beyond the constant-velocity model (Q).
_MEASURE_STD = 1 / 20
_POSITION_STD = 1 / 20
_VELOCITY_STD = 1 / 160
_F = np.eye(8)
_F[:4, 4:] = np.eye(4)  # position += velocity, one frame at a time
_H = np.eye(4, 8)


def _as_boxes(boxes) -> np.ndarray:
    array = np.asarray(boxes, np.float64)
    if array.size == 0:
        return np.zeros((0, 4))
    if array.ndim != 2 or array.shape[1] != 4:
        raise ValueError(f"boxes must be N×4 (x1, y1, x2, y2), got shape {array.shape}")
    if not np.isfinite(array).all():
        raise ValueError("boxes must be finite")
    if (array[:, 2] <= array[:, 0]).any() or (array[:, 3] <= array[:, 1]).any():
        raise ValueError("boxes need x2 > x1 and y2 > y1")
    return array


def iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU (len(a), len(b)) of two sets of x1, y1, x2, y2 boxes."""
    a, b = np.asarray(a, np.float64).reshape(-1, 4), np.asarray(b, np.float64).reshape(-1, 4)
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(rb - lt, 0, None), axis=2)
    area_a = np.prod(a[:, 2:] - a[:, :2], axis=1)
    area_b = np.prod(b[:, 2:] - b[:, :2], axis=1)
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)


def _to_state(boxes: np.ndarray) -> np.ndarray:
    """x1, y1, x2, y2 -> cx, cy, w, h."""
    return np.concatenate([(boxes[:, :2] + boxes[:, 2:]) / 2, boxes[:, 2:] - boxes[:, :2]], axis=1)


def _to_boxes(state: np.ndarray) -> np.ndarray:
    centre, size = state[:, :2], np.maximum(state[:, 2:4], 1.0)  # a shrinking track stays a box
    return np.concatenate([centre - size / 2, centre + size / 2], axis=1)


class Tracker:
    """Tracks of face boxes across the frames of one video; one call per frame.

    Args:
        iou_threshold: the least IoU between a track's predicted box and a detection for them to
            match (default 0.3, SORT's).
        max_missed: a track survives this many detection frames in a row without a match
            (default 5), carried by its motion model; then it ends, and the face gets a new id
            if it comes back.
    Not thread-safe: one tracker per stream.
    """

    def __init__(self, *, iou_threshold: float = 0.3, max_missed: int = 5):
        self.iou_threshold = number_in(iou_threshold, "iou_threshold", 0, 1, lo_open=True)
        self.max_missed = int_in(max_missed, "max_missed", 0)
        self._next_id = 1
        self._ids = np.zeros(0, np.int64)
        self._x = np.zeros((0, 8))  # Kalman state per track
        self._p = np.zeros((0, 8, 8))  # its covariance
        self._missed = np.zeros(0, np.int64)

    @property
    def ids(self) -> np.ndarray:
        """Ids of the live tracks (including those missing from the last detections)."""
        return self._ids.copy()

    def _predict(self, frames: int) -> None:
        frames = positive_int(frames, "frames")
        for _ in range(min(frames, 100) if len(self._ids) else 0):
            self._predict_one()

    def _predict_one(self) -> None:
        size = np.maximum(self._x[:, 2:4].mean(axis=1), 1.0)
        std = np.concatenate(
            [np.repeat(size[:, None] * _POSITION_STD, 4, axis=1), np.repeat(size[:, None] * _VELOCITY_STD, 4, axis=1)],
            axis=1,
        )
        self._x = self._x @ _F.T
        self._p = _F @ self._p @ _F.T + np.einsum("ni,ij->nij", std**2, np.eye(8))

    def _correct(self, rows: np.ndarray, measured: np.ndarray) -> None:
        x, p = self._x[rows], self._p[rows]
        size = np.maximum(measured[:, 2:4].mean(axis=1), 1.0)
        r = np.einsum("n,ij->nij", (size * _MEASURE_STD) ** 2, np.eye(4))
        s = _H @ p @ _H.T + r
        gain = p @ _H.T @ np.linalg.inv(s)
        residual = measured - x @ _H.T
        self._x[rows] = x + np.einsum("nij,nj->ni", gain, residual)
        self._p[rows] = (np.eye(8) - gain @ _H) @ p

    def _start(self, measured: np.ndarray) -> np.ndarray:
        n = len(measured)
        ids = np.arange(self._next_id, self._next_id + n, dtype=np.int64)
        self._next_id += n
        x = np.concatenate([measured, np.zeros((n, 4))], axis=1)
        size = np.maximum(measured[:, 2:4].mean(axis=1), 1.0)
        # A new track's velocity is unknown: wide, so that its first matches set it.
        std = np.concatenate(
            [
                np.repeat(size[:, None] * 2 * _MEASURE_STD, 4, axis=1),
                np.repeat(size[:, None] * 10 * _VELOCITY_STD, 4, axis=1),
            ],
            axis=1,
        )
        self._ids = np.concatenate([self._ids, ids])
        self._x = np.concatenate([self._x, x])
        self._p = np.concatenate([self._p, np.einsum("ni,ij->nij", std**2, np.eye(8))])
        self._missed = np.concatenate([self._missed, np.zeros(n, np.int64)])
        return ids

    def update(self, boxes, frames: int = 1) -> np.ndarray:
        """One frame with detections ``boxes`` (N, 4) x1, y1, x2, y2, ``frames`` frames after
        the previous call (more than 1 when frames were skipped): returns the track id of each
        box, in order (a new id for a face not seen before)."""
        boxes = _as_boxes(boxes)
        self._predict(frames)
        measured = _to_state(boxes)
        out = np.zeros(len(boxes), np.int64)
        matched_rows, matched_dets = np.zeros(0, np.int64), np.zeros(0, np.int64)
        if len(self._ids) and len(boxes):
            overlap = iou(_to_boxes(self._x), boxes)
            rows, cols = linear_sum_assignment(-overlap)
            keep = overlap[rows, cols] >= self.iou_threshold
            matched_rows, matched_dets = rows[keep], cols[keep]
        if len(matched_rows):
            self._correct(matched_rows, measured[matched_dets])
            out[matched_dets] = self._ids[matched_rows]
        unmatched = np.ones(len(self._ids), bool)
        unmatched[matched_rows] = False
        self._missed[unmatched] += 1
        self._missed[matched_rows] = 0
        alive = self._missed <= self.max_missed
        self._ids, self._x, self._p, self._missed = (
            self._ids[alive],
            self._x[alive],
            self._p[alive],
            self._missed[alive],
        )
        new = np.ones(len(boxes), bool)
        new[matched_dets] = False
        if new.any():
            out[new] = self._start(measured[new])
        return out

    def end_all(self) -> None:
        """End every track (a scene cut: the faces after it are others, whatever their place);
        ids go on counting from where they were, never reused."""
        self._ids, self._missed = self._ids[:0], self._missed[:0]
        self._x, self._p = self._x[:0], self._p[:0]

    def advance(self, frames: int = 1) -> tuple:
        """One frame without detection, ``frames`` after the previous call: the tracks move by
        their motion model. Returns (ids, boxes (N, 4)) of the tracks matched at the last
        detection frame, where they are predicted to be now."""
        self._predict(frames)
        seen = self._missed == 0
        return self._ids[seen].copy(), _to_boxes(self._x[seen])

    def boxes(self, ids: Optional[np.ndarray] = None) -> np.ndarray:
        """Current (filtered or predicted) boxes of the live tracks, or of ``ids``."""
        if ids is None:
            return _to_boxes(self._x)
        rows = [int(np.flatnonzero(self._ids == i)[0]) for i in ids]
        return _to_boxes(self._x[rows])
