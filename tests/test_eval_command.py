"""`fastfer eval widerface` end to end, on a few images of the WIDER FACE dev sample."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from _paths import SHARED_DATA, needs_shared

WIDER = SHARED_DATA / "detection" / "wider_val_dev"
pytestmark = needs_shared(WIDER)


def small_copy(tmp_path: Path, count: int = 6) -> Path:
    images = sorted((WIDER / "images").glob("*/*.jpg"))[:: 320 // count][:count]
    for image in images:
        dest = tmp_path / "images" / image.parent.name
        dest.mkdir(parents=True, exist_ok=True)
        shutil.copy(image, dest / image.name)
    os.symlink(WIDER / "ground_truth", tmp_path / "ground_truth")
    return tmp_path


def test_eval_widerface_prints_json_and_writes_the_pr_curves(tmp_path):
    data = small_copy(tmp_path / "data")
    png = tmp_path / "pr.png"
    out = subprocess.run(
        [sys.executable, "-m", "fastfer", "eval", "widerface", str(data), "--json", "--png", str(png)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == 0, out.stderr
    ap = json.loads(out.stdout)
    assert set(ap) == {"easy", "medium", "hard"}
    assert all(0.0 <= v <= 1.0 for v in ap.values())
    assert ap["easy"] > 0.5  # RetinaFace finds most easy faces even on six images
    assert png.stat().st_size > 10_000


def test_eval_widerface_table_and_a_missing_folder(tmp_path):
    data = small_copy(tmp_path / "data", count=2)
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "fastfer",
            "eval",
            "widerface",
            str(data),
            "--detector",
            "blazeface_short",
            "--png",
            str(tmp_path / "pr.png"),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == 0, out.stderr
    assert "easy" in out.stdout and "hard" in out.stdout and "blazeface_short" in out.stdout
    bad = subprocess.run(
        [sys.executable, "-m", "fastfer", "eval", "widerface", str(tmp_path / "nowhere")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert bad.returncode != 0 and "nowhere" in bad.stderr
