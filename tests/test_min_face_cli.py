"""The min_face policy on the command line: ``--min-face`` on analyze and on eval widerface."""

from __future__ import annotations

import json
import subprocess
import sys

from _paths import SHARED_DATA, SHIPPED_PHOTO, needs_shared
from test_eval_command import small_copy

WIDER = SHARED_DATA / "detection" / "wider_val_dev"


def fastfer(*args, timeout=600):
    return subprocess.run(
        [sys.executable, "-m", "fastfer", *map(str, args)], capture_output=True, text=True, timeout=timeout
    )


def test_analyze_min_face_drops_faces_under_it():
    # The astronaut's face box is about 110 px long.
    found = fastfer("analyze", "--json", "--min-face", 60, SHIPPED_PHOTO)
    assert found.returncode == 0, found.stderr
    assert [f["label"] for f in json.loads(found.stdout)["faces"]] == ["happy"]
    none = fastfer("analyze", "--json", "--min-face", 200, SHIPPED_PHOTO)
    assert none.returncode == 0, none.stderr
    assert json.loads(none.stdout)["faces"] == []


def test_analyze_refuses_a_negative_min_face():
    out = fastfer("analyze", "--min-face", -1, SHIPPED_PHOTO)
    assert out.returncode == 2 and "--min-face" in out.stderr


@needs_shared(WIDER)
def test_eval_widerface_min_face_reports_both_protocols(tmp_path):
    data = small_copy(tmp_path / "data", count=4)
    out = fastfer(
        "eval", "widerface", data, "--detector", "yunet", "--min-face", 40, "--json", "--png", tmp_path / "pr.png"
    )
    assert out.returncode == 0, out.stderr
    ap = json.loads(out.stdout)
    assert set(ap) == {"easy", "medium", "hard", "official"}
    assert set(ap["official"]) == {"easy", "medium", "hard"}
    # Ignoring the faces the policy does not look for can only leave fewer missed faces in hard.
    assert ap["hard"] >= ap["official"]["hard"]
    table = fastfer("eval", "widerface", data, "--detector", "yunet", "--min-face", 40, "--png", tmp_path / "pr.png")
    assert table.returncode == 0 and "faces under 40 px ignored" in table.stdout
    assert "official protocol" in table.stdout
