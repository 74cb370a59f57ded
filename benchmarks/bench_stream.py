"""FER.stream against the hand-written loop (cv2.VideoCapture + FER.analyze per frame) on a
640x480 video of real faces (1 to 3 in view: two crossing, one entering), 1 thread.

Rows: every=1 (decoding in its own thread, tracking and smoothing), every=3 with the default
between="reuse" (the tracks carry their last probabilities between detections), and every=3
with between="classify" (the classifier runs on the predicted boxes). Each reports frames per
second in extra_info; the summary gives each one's speed against the loop.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import cv2
import pytest

import fastfer

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from _moving_faces import crossing_scene, face_patches, render, write_video  # noqa: E402

GROUP = "FER.stream, 640x480 video, 60 frames, 1-3 faces, 1 thread"
W, H, SIDE, FRAMES = 640, 480, 150, 60


@pytest.fixture(scope="module")
def fer() -> fastfer.FER:
    return fastfer.FER(threads=1)


@pytest.fixture(scope="module")
def video(fer, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("bench_stream") / "faces_640x480.mp4"
    scene = crossing_scene(W, H, SIDE)[:3]
    write_video(path, render(scene, face_patches(fer, SIDE), W, H, FRAMES), fps=25)
    list(fer.stream(path))  # imports (scipy) and warm-up outside the timing
    return path


def run(benchmark, frames_of):
    seen = []

    def once():
        start = time.perf_counter()
        count = frames_of()
        seen.append(count / (time.perf_counter() - start))
        return count

    count = benchmark.pedantic(once, rounds=3, iterations=1, warmup_rounds=0)
    assert count == FRAMES
    benchmark.extra_info["frames_per_second_median"] = sorted(seen)[len(seen) // 2]


@pytest.mark.benchmark(group=GROUP)
def test_stream_videocapture_analyze_loop_baseline(benchmark, fer, video):
    def loop() -> int:
        capture, count = cv2.VideoCapture(str(video)), 0
        while True:
            ok, frame = capture.read()
            if not ok:
                break
            fer.analyze(frame)
            count += 1
        capture.release()
        return count

    run(benchmark, loop)


@pytest.mark.benchmark(group=GROUP)
@pytest.mark.parametrize("every,between", [(1, "reuse"), (3, "reuse"), (3, "classify")],
                         ids=["every1", "every3-reuse", "every3-classify"])
def test_stream(benchmark, fer, video, every, between):
    run(benchmark, lambda: sum(1 for _ in fer.stream(video, every=every, between=between)))
