"""Per-track summary of a stream: when each face was seen and how it looked.

``summary = TrackSummary(); for frame in fer.stream(...): summary.add(frame)``, then
``summary.tracks()``: per track, in id order, its first and last frame and time, how many frames
it was in, its dominant expression (the smoothed label it had most often) and the share of its
frames in each expression; ``summary.cuts``: the frames that came right after a scene cut.
"""

from __future__ import annotations

from collections import Counter
from typing import Optional

from ..labels import LABELS


class TrackSummary:
    """Accumulates :class:`fastfer.video.stream.StreamFrame` s; ``fps`` gives times to frames without a
    timestamp (index / fps)."""

    def __init__(self, fps: Optional[float] = None):
        self.fps = fps
        self.frames = 0
        self.cuts: list = []  # indices of the frames after a scene cut (every track ended there)
        self._tracks: dict = {}

    def _time(self, frame) -> Optional[float]:
        if frame.timestamp is not None:
            return float(frame.timestamp)
        return frame.index / self.fps if self.fps else None

    def add(self, frame) -> None:
        self.frames += 1
        if frame.cut:
            self.cuts.append(frame.index)
        when = self._time(frame)
        for face in frame.faces:
            track = self._tracks.get(face.track_id)
            if track is None:
                track = self._tracks[face.track_id] = {
                    "first_frame": frame.index,
                    "first_time": when,
                    "labels": Counter(),
                }
            track["last_frame"], track["last_time"] = frame.index, when
            track["labels"][face.label] += 1

    def tracks(self) -> list:
        """One dict per track (JSON-able): ``track_id``, ``first_frame``, ``last_frame``,
        ``first_time``, ``last_time`` (seconds, or None), ``frames``, ``dominant`` and ``share``
        ({label: fraction of the track's frames}, all 7 labels)."""
        out = []
        for track_id in sorted(self._tracks):
            t = self._tracks[track_id]
            count = sum(t["labels"].values())
            # The most frequent label; ties go to the earlier label of fastfer.LABELS.
            dominant = max(LABELS, key=lambda label: (t["labels"][label], -LABELS.index(label)))
            rounded = lambda v: None if v is None else round(v, 3)  # noqa: E731
            out.append(
                {
                    "track_id": track_id,
                    "first_frame": t["first_frame"],
                    "last_frame": t["last_frame"],
                    "first_time": rounded(t["first_time"]),
                    "last_time": rounded(t["last_time"]),
                    "frames": count,
                    "dominant": dominant,
                    "share": {label: round(t["labels"][label] / count, 4) for label in LABELS},
                }
            )
        return out

    def table(self) -> str:
        """The summary as text, one line per track."""
        rows = [f"{'track':>5}  {'first':>8}  {'last':>8}  {'frames':>6}  {'dominant':<9} share"]
        for t in self.tracks():
            when = lambda v: "-" if v is None else f"{v:.2f}s"  # noqa: E731
            shares = ", ".join(
                f"{label} {share:.0%}"
                for label, share in sorted(t["share"].items(), key=lambda kv: -kv[1])
                if share > 0
            )
            rows.append(
                f"{t['track_id']:>5}  {when(t['first_time']):>8}  {when(t['last_time']):>8}  "
                f"{t['frames']:>6}  {t['dominant']:<9} {shares}"
            )
        return "\n".join(rows)
