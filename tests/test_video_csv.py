"""``fastfer video --csv`` (issue 22, C3): one row per face per processed frame, a row with only
``frame`` and ``time`` for a frame without faces, the values of the ``--json`` log of the same
run (same frames, track ids, labels, boxes, probabilities) with ``--every`` and ``--workers``,
on both backends; a CSV that is the input is refused before anything is written. A short video
made of the shipped photo's face (no ../shared), the real command and models."""

from __future__ import annotations

import csv
import importlib.util
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import _moving_faces
import pytest
from _moving_faces import face_patches, render, write_video

import fastfer
from fastfer.cli import main
from fastfer.cli.video import CSV_COLUMNS
from fastfer.labels import LABELS

pd = pytest.importorskip("pandas")

W, H, SIDE = 320, 240, 72
BLANK, MOVING = 4, 12  # frames without a face, then frames with two moving faces
FRAMES = BLANK + MOVING
BACKENDS = [
    pytest.param(
        "native",
        marks=pytest.mark.skipif(
            importlib.util.find_spec("fastfer._core") is None, reason="the native module is not built"
        ),
    ),
    "python",
]


@pytest.fixture(scope="module")
def video(tmp_path_factory) -> Path:
    """Four frames of background, then two faces (the shipped photo's, one mirrored and tinted)
    moving towards each other without touching."""
    with pytest.MonkeyPatch.context() as patch:  # the shipped photo even where ../shared is present
        patch.setattr(_moving_faces, "PHOTOS", tmp_path_factory.mktemp("no_shared") / "absent")
        patches = face_patches(fastfer.FER(), SIDE, count=2)
    scene = [_moving_faces.Path(0, 10, 60, 90, 50), _moving_faces.Path(1, W - SIDE - 10, 80, 190, 90)]
    path = tmp_path_factory.mktemp("video_csv") / "two faces.mp4"
    frames = [*render([], patches, W, H, BLANK), *render(scene, patches, W, H, MOVING)]
    assert write_video(path, frames, fps=25) == FRAMES
    return path


def run_video(backend: str, *args) -> subprocess.CompletedProcess:
    env = {**os.environ, "FASTFER_BACKEND": backend}
    return subprocess.run(
        [sys.executable, "-m", "fastfer", "video", *map(str, args), "--no-progress"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )


def read_outputs(log: Path, table: Path) -> tuple:
    """(the log's frame lines, the CSV as pandas reads it, the CSV's raw rows)."""
    frames = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()[:-1]]
    with open(table, newline="", encoding="utf-8") as file:
        raw = list(csv.reader(file))
    return frames, pd.read_csv(table), raw


def check_against_the_log(frames: list, rows, raw: list) -> None:
    """Every frame of the log, in order, and only those; each face's row holds its values."""
    assert raw[0] == list(CSV_COLUMNS) and list(rows.columns) == list(CSV_COLUMNS)
    expected = [(f["frame"], f["time"], face) for f in frames for face in (f["faces"] or [None])]
    assert len(rows) == len(expected) == len(raw) - 1
    for (_, row), line, (index, time, face) in zip(rows.iterrows(), raw[1:], expected):
        assert row["frame"] == index and math.isclose(row["time"], time, abs_tol=1e-9)
        if face is None:  # no faces: a row with only frame and time
            assert line[2:] == [""] * (len(CSV_COLUMNS) - 2)
            continue
        assert (row["track_id"], row["label"], row["raw_label"]) == (face["track_id"], face["label"], face["raw_label"])
        assert [row[c] for c in ("x1", "y1", "x2", "y2")] == pytest.approx(face["box"], abs=1e-9)
        assert row["score"] == pytest.approx(face["score"], abs=1e-9)
        probs = [row[label] for label in LABELS]
        assert probs == pytest.approx([face["probs"][label] for label in LABELS], abs=1e-9)
        assert LABELS[max(range(len(LABELS)), key=probs.__getitem__)] == row["label"]
        assert sum(probs) == pytest.approx(1, abs=1e-3)


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_csv_holds_the_json_logs_frames_tracks_and_labels(backend, video, tmp_path):
    log, table = tmp_path / "faces.jsonl", tmp_path / "faces.csv"
    run = run_video(backend, video, "--json", log, "--csv", table)
    assert run.returncode == 0, run.stderr
    assert f"CSV written to {table}" in run.stdout
    frames, rows, raw = read_outputs(log, table)
    assert [f["frame"] for f in frames] == list(range(FRAMES))
    check_against_the_log(frames, rows, raw)
    faces = rows.dropna(subset=["track_id"])
    assert set(faces["frame"]) == set(range(BLANK, FRAMES)), "both faces seen from their first frame"
    assert faces["track_id"].nunique() == 2 and len(faces) == 2 * MOVING
    # The frames without a face: one row each, told apart from frames not processed.
    blank = rows[rows["track_id"].isna()]
    assert list(blank["frame"]) == list(range(BLANK))
    assert blank.drop(columns=["frame", "time"]).isna().all().all()
    assert blank["time"].tolist() == pytest.approx([i / 25 for i in range(BLANK)], abs=1e-3)


@pytest.mark.parametrize("backend", BACKENDS)
def test_every_k_and_workers_keep_the_csv_and_the_log_together(backend, video, tmp_path):
    tables = []
    for workers in ("1", "3"):
        log, table = tmp_path / f"faces-{workers}.jsonl", tmp_path / f"faces-{workers}.csv"
        run = run_video(
            backend, video, "--every", "3", "--workers", workers, "--max-frames", "14", "--json", log, "--csv", table
        )
        assert run.returncode == 0, run.stderr
        frames, rows, raw = read_outputs(log, table)
        assert [f["frame"] for f in frames] == list(range(14))
        assert any(not f["detected"] for f in frames) and any(f["faces"] for f in frames)
        check_against_the_log(frames, rows, raw)
        tables.append(table.read_bytes())
    assert tables[0] == tables[1], "the CSV does not depend on --workers"


def test_a_truncated_video_gives_the_csv_its_good_frames(video, tmp_path, capsys):
    full = tmp_path / "full.avi"
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(_moving_faces, "PHOTOS", tmp_path / "absent")
        patches = face_patches(fastfer.FER(), SIDE, count=1)
    write_video(full, render([_moving_faces.Path(0, 20, 40, 200, 60)], patches, W, H, 30), fps=25, fourcc="MJPG")
    cut = tmp_path / "cut.avi"
    cut.write_bytes(full.read_bytes()[: full.stat().st_size // 2])
    log, table = tmp_path / "cut.jsonl", tmp_path / "cut.csv"
    assert main(["video", str(cut), "--json", str(log), "--csv", str(table), "--no-progress"]) == 1
    assert "truncated" in capsys.readouterr().err
    frames, rows, raw = read_outputs(log, table)
    assert 5 <= len(frames) < 30
    check_against_the_log(frames, rows, raw)


def test_a_csv_that_is_the_input_is_refused_and_the_input_kept(video, tmp_path, capsys):
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(video.read_bytes())
    os.link(clip, tmp_path / "hard.csv")
    (tmp_path / "soft.csv").symlink_to(clip)
    for output in (clip, tmp_path / "hard.csv", tmp_path / "soft.csv"):
        assert main(["video", str(clip), "--csv", str(output), "--json", str(tmp_path / "log.jsonl")]) == 2
        captured = capsys.readouterr()
        lines = captured.err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"fastfer: error: --csv {output}: is the input"), lines
        assert captured.out == ""
        assert clip.read_bytes() == video.read_bytes()
        assert not (tmp_path / "log.jsonl").exists(), "refused before any output is opened"
