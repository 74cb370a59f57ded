"""fastfer.video.tracking (Kalman + Hungarian on IoU) and fastfer.video.smoothing, on box sequences."""

from __future__ import annotations

import numpy as np
import pytest

from fastfer.video.smoothing import DEFAULT_ALPHA, TrackSmoother
from fastfer.video.tracking import Tracker, iou


def box(cx, cy, side=60.0):
    return [cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2]


def test_iou_of_known_boxes():
    a = np.array([[0, 0, 10, 10], [0, 0, 10, 10]], float)
    b = np.array([[5, 0, 15, 10], [20, 20, 30, 30], [0, 0, 10, 10]], float)
    expected = np.array([[50 / 150, 0, 1], [50 / 150, 0, 1]])
    assert np.allclose(iou(a, b), expected)
    assert iou(a, np.zeros((0, 4))).shape == (2, 0)


def test_a_moving_face_keeps_its_id_and_the_filter_learns_its_velocity():
    tracker = Tracker()
    ids = [int(tracker.update([box(50 + 8 * t, 100)])[0]) for t in range(20)]
    assert ids == [1] * 20
    # With detection off, the motion model carries the box on at 8 px per frame.
    carried_ids, carried = tracker.advance()
    assert list(carried_ids) == [1]
    centre = (carried[0, 0] + carried[0, 2]) / 2
    assert abs(centre - (50 + 8 * 20)) < 2.0


def test_crossing_faces_keep_their_ids():
    """Two faces on crossing paths, overlapping in the middle: matched on their predicted
    boxes, each stays on its own track."""
    tracker = Tracker()
    for t in range(40):
        a, b = box(40 + 10 * t, 100), box(430 - 10 * t, 130)  # they meet at t ≈ 19.5
        ids = tracker.update([a, b])
        assert list(ids) == [1, 2], f"frame {t}: {list(ids)}"


def test_a_track_survives_missed_detections_then_ends_and_ids_are_not_reused():
    tracker = Tracker(max_missed=3)
    for t in range(5):
        assert list(tracker.update([box(100 + 5 * t, 100)])) == [1]
    for _ in range(5, 8):  # three detection frames without it: still alive
        assert list(tracker.update(np.zeros((0, 4)))) == []
        assert list(tracker.ids) == [1]
    assert list(tracker.update([box(100 + 5 * 8, 100)])) == [1], "found again where predicted"
    for _ in range(4):  # four misses: the track ends
        tracker.update([])
    assert list(tracker.ids) == []
    assert list(tracker.update([box(140, 100)])) == [2], "a new track, never id 1 again"


def test_advance_shows_only_tracks_seen_at_the_last_detection():
    tracker = Tracker()
    tracker.update([box(100, 100), box(300, 100)])
    tracker.update([box(100, 100)])  # the second one missed once
    ids, boxes = tracker.advance(frames=2)
    assert list(ids) == [1] and boxes.shape == (1, 4)
    assert set(tracker.ids) == {1, 2}


def test_new_faces_get_new_ids_in_detection_order():
    tracker = Tracker()
    assert list(tracker.update([box(100, 100)])) == [1]
    assert list(tracker.update([box(400, 300), box(101, 100), box(250, 50)])) == [2, 1, 3]


@pytest.mark.parametrize("bad", [np.zeros((2, 3)), [[0, 0, 10]], [[10, 0, 0, 10]], [[0, 0, np.nan, 10]]])
def test_bad_boxes_are_refused(bad):
    with pytest.raises(ValueError):
        Tracker().update(bad)


@pytest.mark.parametrize(
    "kwargs",
    [{"iou_threshold": 0}, {"iou_threshold": 1.5}, {"max_missed": -1}, {"max_missed": 1.5}, {"iou_threshold": True}],
)
def test_bad_options_are_refused(kwargs):
    with pytest.raises(ValueError):
        Tracker(**kwargs)


def test_bad_frame_gap_is_refused():
    with pytest.raises(ValueError):
        Tracker().advance(frames=0)


def test_smoothing_is_exponential_per_track_and_restarts_for_a_new_track():
    smoother = TrackSmoother(0.5)
    first = np.array([1, 0, 0, 0, 0, 0, 0], float)
    second = np.array([0, 0, 0, 1, 0, 0, 0], float)
    assert np.allclose(smoother.update(1, first), first)  # a new track starts from its own probs
    assert np.allclose(smoother.update(1, second), 0.5 * first + 0.5 * second)
    assert np.allclose(smoother.update(2, second), second)  # track 2 owes nothing to track 1
    smoother.keep_only([2])
    assert smoother.get(1) is None and np.allclose(smoother.get(2), second)
    assert TrackSmoother().alpha == DEFAULT_ALPHA


@pytest.mark.parametrize("alpha", [0, -0.1, 1.1, "0.3", None, True])
def test_bad_smoothing_factor_is_refused(alpha):
    with pytest.raises(ValueError):
        TrackSmoother(alpha)
