"""tools/measure_fer2013_framing.py on a small sample: the detector's boxes on staged FER2013 faces
must give the framing that the FER2013 classifiers' manifest crop uses (a square about 1.03× the
box's long side, centred on it)."""

import importlib.util
import json
from pathlib import Path

import pytest
from _paths import SHARED_DATA, needs_shared

from fastfer import models

NPZ = SHARED_DATA / "fer2013.npz"
TOOL = Path(__file__).resolve().parents[1] / "tools" / "measure_fer2013_framing.py"
pytestmark = needs_shared(NPZ)


@pytest.fixture(scope="module")
def measured(tmp_path_factory):
    spec = importlib.util.spec_from_file_location("measure_fer2013_framing", TOOL)
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    out = tmp_path_factory.mktemp("framing") / "framing.json"
    assert tool.main(["--data", str(NPZ), "--fit", "120", "--check", "60", "--json", str(out)]) == 0
    return json.loads(out.read_text())


def test_the_detector_finds_the_staged_faces(measured):
    assert measured["fit"]["detected"] >= 0.95 * measured["fit"]["faces"]
    assert measured["check"]["detected"] >= 0.95 * measured["check"]["faces"]


def test_the_fer2013_frame_is_the_box_grown_by_the_manifest_margin(measured):
    side, (dx, dy) = measured["box"]["side"], measured["box"]["shift"]
    assert abs(dx) <= 0.03 and abs(dy) <= 0.03  # centred on the box
    for name in ("fernet", "mini_xception"):
        crop = models.spec(name).crop
        assert crop.square is True
        assert abs((1 + 2 * crop.margin) - side) <= 0.04, (name, crop.margin, side)


def test_the_mean_landmarks_sit_where_a_face_has_them(measured):
    (lx, ly), (rx, ry), (nx, ny), (mlx, mly), (mrx, mry) = measured["template"]
    assert lx < nx < rx and mlx < mrx  # left/right order
    assert max(ly, ry) < ny < min(mly, mry)  # eyes above the nose above the mouth
    assert abs((lx + rx) / 2 - 0.5) < 0.05  # the frame is centred on the eyes
