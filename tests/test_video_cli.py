"""``fastfer video``: annotated video, JSON lines, per-track summary, exit statuses."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter

import cv2
import pytest
from _moving_faces import crossing_scene, face_patches, render, write_video

import fastfer
from fastfer.cli import main

W, H, SIDE, FRAMES = 320, 240, 72, 64


@pytest.fixture(scope="module")
def scene():
    fer = fastfer.FER()
    return crossing_scene(W, H, SIDE), face_patches(fer, SIDE)


@pytest.fixture(scope="module")
def video(scene, tmp_path_factory):
    path = tmp_path_factory.mktemp("video_cli") / "crossing.mp4"
    write_video(path, render(*scene, W, H, FRAMES), fps=25)
    return path


def read_back(path) -> tuple:
    """(frames decoded, (width, height)) of a video file, decoding every frame."""
    capture = cv2.VideoCapture(str(path))
    count, size = 0, None
    while True:
        ok, image = capture.read()
        if not ok:
            break
        count, size = count + 1, (image.shape[1], image.shape[0])
    capture.release()
    return count, size


def read_log(path) -> tuple:
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    return lines[:-1], lines[-1]


def test_annotated_video_json_log_and_summary(video, tmp_path, capsys):
    out, log = tmp_path / "annotated.mp4", tmp_path / "faces.jsonl"
    assert main(["video", str(video), "-o", str(out), "--json", str(log), "--no-progress"]) == 0
    assert read_back(out) == (FRAMES, (W, H))
    frames, last = read_log(log)
    assert [f["frame"] for f in frames] == list(range(FRAMES))
    assert last["ended"] == "complete" and last["frames"] == FRAMES and last["error"] is None
    labels: dict = {}
    for frame in frames:
        for face in frame["faces"]:
            assert set(face) >= {"track_id", "box", "label", "probs", "raw_label", "raw_probs"}
            labels.setdefault(face["track_id"], []).append((frame["frame"], face["label"]))
    summary = {t["track_id"]: t for t in last["summary"]}
    assert set(summary) == set(labels) and len(summary) >= 4
    for track_id, seen in labels.items():
        t = summary[track_id]
        assert (t["first_frame"], t["last_frame"], t["frames"]) == (seen[0][0], seen[-1][0], len(seen))
        assert abs(t["first_time"] - seen[0][0] / 25) < 1e-3
        counts = Counter(label for _, label in seen)
        assert counts[t["dominant"]] == max(counts.values())
        assert abs(sum(t["share"].values()) - 1) < 1e-3
    printed = capsys.readouterr().out
    assert f"{FRAMES} frames" in printed and "dominant" in printed
    assert all(f"\n{track_id:>5}  " in printed for track_id in summary)


def test_every_k_and_summary_only(video, capsys):
    assert main(["video", str(video), "--every", "3", "--max-frames", "10", "--no-progress"]) == 0
    assert "10 frames" in capsys.readouterr().out


def test_the_log_does_not_depend_on_the_number_of_workers(video, tmp_path):
    logs = []
    for workers in ("1", "3"):
        log = tmp_path / f"faces-{workers}.jsonl"
        assert main(["video", str(video), "--json", str(log), "--workers", workers, "--no-progress"]) == 0
        logs.append(read_log(log))
    assert logs[0] == logs[1] and len(logs[0][0]) == FRAMES
    with pytest.raises(SystemExit) as exited:
        main(["video", str(video), "--workers", "0"])
    assert exited.value.code == 2


def test_a_truncated_video_keeps_its_good_frames_and_exits_1(scene, tmp_path, capsys):
    full = tmp_path / "full.avi"
    write_video(full, render(*scene, W, H, 40), fps=25, fourcc="MJPG")
    cut = tmp_path / "cut.avi"
    cut.write_bytes(full.read_bytes()[: full.stat().st_size // 2])
    out, log = tmp_path / "cut_annotated.mp4", tmp_path / "cut.jsonl"
    assert main(["video", str(cut), "-o", str(out), "--json", str(log), "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert "truncated or corrupt" in err and "cut.avi" in err
    frames, last = read_log(log)
    assert last["ended"] == "truncated" and "truncated" in last["error"]
    assert 5 <= len(frames) == last["frames"] < 40
    assert read_back(out) == (len(frames), (W, H)), "the annotated video holds the good frames"


def test_ctrl_c_stops_cleanly_and_finalises_the_outputs(scene, tmp_path):
    long_video = tmp_path / "long.mp4"
    write_video(long_video, render(*scene, W, H, 400), fps=25)
    out, log = tmp_path / "interrupted.mp4", tmp_path / "interrupted.jsonl"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "fastfer",
            "video",
            str(long_video),
            "-o",
            str(out),
            "--json",
            str(log),
            "--no-progress",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and (not log.exists() or log.read_text().count("\n") < 5):
        time.sleep(0.1)
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    frames, last = read_log(log)
    assert last["ended"] == "interrupted" and 5 <= last["frames"] == len(frames) < 400
    assert read_back(out) == (len(frames), (W, H))
    assert "interrupted" in stderr and "tracks (interrupted)" in stdout


@pytest.mark.parametrize(
    "argv,message",
    [
        (["video"], "one of them"),
        (["video", "x.mp4", "--camera", "0"], "one of them"),
        (["video", "missing.mp4"], "no such video file"),
        (["video", "{video}", "-o", "out.gif"], "use one of"),
        (["video", "{video}", "--json", "no/such/folder/x.jsonl"], "no folder"),
        (["video", "{video}", "--smoothing", "0"], "smoothing"),
        (["video", "{not_video}"], "cannot open video"),
    ],
)
def test_usage_errors_exit_2_with_a_clear_message(video, tmp_path, capsys, monkeypatch, argv, message):
    monkeypatch.chdir(tmp_path)
    not_video = tmp_path / "notes.mp4"
    not_video.write_text("not a video")
    argv = [a.format(video=video, not_video=not_video) for a in argv]
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_a_missing_camera_is_a_clear_error(capsys):
    # This machine has no camera (the camera path itself is tested in test_stream with a live
    # iterable): opening one must fail with a message, not hang or crash.
    assert main(["video", "--camera", "9"]) == 2
    assert "camera #9" in capsys.readouterr().err
