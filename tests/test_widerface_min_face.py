"""``widerface.evaluate(..., min_face=N)``: faces under N pixels scored as ignore boxes."""

from __future__ import annotations

import numpy as np
import pytest

from fastfer.eval import widerface

# One image: a 50x60 face (long side 60), a 20x24 face (long side 24), both counted in every setting.
TRUTH = {
    "e/a.jpg": {
        "boxes": np.array([[10.0, 10.0, 50.0, 60.0], [200.0, 200.0, 20.0, 24.0]]),
        "easy": np.array([0, 1]),
        "medium": np.array([0, 1]),
        "hard": np.array([0, 1]),
    }
}
# Best first: the small face, a false alarm far from both, the big face.
BOXES = np.array([[200.0, 200.0, 220.0, 224.0], [400.0, 400.0, 450.0, 450.0], [10.0, 10.0, 60.0, 70.0]])
SCORES = np.array([0.9, 0.85, 0.8])


def test_official_protocol_counts_every_face():
    result = widerface.evaluate({"e/a.jpg": (BOXES, SCORES)}, TRUTH)
    assert result["num_faces"]["hard"] == 2 and result["min_face"] == 0
    # Both faces found, one false alarm among three proposals.
    assert result["recall"]["hard"][-1] == 1.0
    assert result["precision"]["hard"][-1] == pytest.approx(2 / 3)


def test_faces_under_min_face_become_ignore_boxes():
    result = widerface.evaluate({"e/a.jpg": (BOXES, SCORES)}, TRUTH, min_face=32)
    assert result["num_faces"]["hard"] == 1
    # The detection of the small face is no proposal (like one on an official ignore box): one true
    # positive, one false alarm.
    assert result["recall"]["hard"][-1] == 1.0
    assert result["precision"]["hard"][-1] == pytest.approx(1 / 2)
    # The boundary: a face exactly N pixels long still counts.
    assert widerface.evaluate({"e/a.jpg": (BOXES, SCORES)}, TRUTH, min_face=24)["num_faces"]["hard"] == 2


def test_min_face_leaves_the_ground_truth_untouched():
    before = {k: v.copy() for k, v in TRUTH["e/a.jpg"].items()}
    widerface.evaluate({"e/a.jpg": (BOXES, SCORES)}, TRUTH, min_face=32)
    for k, v in before.items():
        np.testing.assert_array_equal(TRUTH["e/a.jpg"][k], v)


@pytest.mark.parametrize("value", [-1, 1.5, True, "32"])
def test_min_face_must_be_a_non_negative_int(value):
    with pytest.raises(ValueError, match="min_face"):
        widerface.evaluate({"e/a.jpg": (BOXES, SCORES)}, TRUTH, min_face=value)


def test_table_says_which_protocol():
    result = widerface.evaluate({"e/a.jpg": (BOXES, SCORES)}, TRUTH, min_face=32)
    assert "faces under 32 px ignored" in widerface.format_table(result)
    assert "ignored" not in widerface.format_table(widerface.evaluate({"e/a.jpg": (BOXES, SCORES)}, TRUTH))
