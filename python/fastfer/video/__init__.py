"""Video: frames from files, cameras and iterables (:mod:`~fastfer.video.stream`), faces tracked
across frames (:mod:`~fastfer.video.tracking`), tracks ended at scene cuts
(:mod:`~fastfer.video.cuts`), expression probabilities smoothed per track
(:mod:`~fastfer.video.smoothing`) and per-track summaries (:mod:`~fastfer.video.summary`). It may
import ``core`` and everything below it, and ``scale``; never ``eval`` or ``cli``.
"""
