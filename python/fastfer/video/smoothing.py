"""``fastfer.video.smoothing``: expression probabilities smoothed over time, one face (track) at a time.

Exponential smoothing: ``smoothed = alpha * new + (1 - alpha) * smoothed_before``. A track's
first probabilities are taken as they are (a new track starts afresh: nothing of another face
leaks into it), and a track's state is dropped when it ends.

The default ``alpha`` (:data:`DEFAULT_ALPHA`, 0.3) gives each new frame 30% of the weight: a
change of expression shows in the smoothed label within a few frames (about 0.1 s at 30 frames/s),
while single-frame flickers of the classifier on a blurred or turning face are mostly damped.
``alpha=1`` turns smoothing off.
"""

from __future__ import annotations

from typing import Iterable

import numpy as np

from .._args import number_in

DEFAULT_ALPHA = 0.3


def check_alpha(alpha) -> float:
    return number_in(alpha, "smoothing", 0, 1, lo_open=True, note=" (the weight of the newest frame; 1 = no smoothing)")


class TrackSmoother:
    """Per-track exponential smoothing of probability vectors."""

    def __init__(self, alpha: float = DEFAULT_ALPHA):
        self.alpha = check_alpha(alpha)
        self._state: dict = {}

    def update(self, track_id: int, probs) -> np.ndarray:
        """The smoothed probabilities of ``track_id`` after its new ``probs`` (sums to 1)."""
        probs = np.asarray(probs, np.float64)
        before = self._state.get(track_id)
        now = probs if before is None else self.alpha * probs + (1.0 - self.alpha) * before
        self._state[track_id] = now
        return now.astype(np.float32)

    def get(self, track_id: int):
        """The track's smoothed probabilities, or None when it has none yet."""
        state = self._state.get(track_id)
        return None if state is None else state.astype(np.float32)

    def keep_only(self, live_ids: Iterable[int]) -> None:
        """Forget the tracks that ended."""
        live = set(int(i) for i in live_ids)
        for ended in [i for i in self._state if i not in live]:
            del self._state[ended]
