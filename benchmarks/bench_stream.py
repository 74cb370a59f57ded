"""FER.stream against the hand-written loop (cv2.VideoCapture + FER.analyze per frame) on a
640x480 video of real faces (1 to 3 in view: two crossing, one entering), 1 thread.

Rows: every=1 (decoding in its own thread, tracking and smoothing), every=3 with the default
between="reuse" (the tracks carry their last probabilities between detections), and every=3
with between="classify" (the classifier runs on the predicted boxes); each with the default
``workers`` (detection frames analysed at once over the one FER: the usable cores, 2 here) and
the first two also with workers=1. Every model runs on one ONNX Runtime thread, as in the loop.
Each row also runs the loop before each of its rounds (untimed by pytest-benchmark, timed here), so that its extra_info
``ratio_vs_loop_interleaved`` (median of loop time / stream time, round by round) compares the
two under the same machine load; the summary's ratio compares against the baseline row.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import cv2
import pytest

import fastfer

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from _moving_faces import crossing_scene, face_patches, render, write_video

GROUP = "FER.stream, 640x480 video, 40 frames, 1-3 faces, 1 thread"
W, H, SIDE, FRAMES = 640, 480, 150, 40


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


def loop_over(fer, video) -> int:
    """The hand-written way: read a frame, analyse it."""
    capture, count = cv2.VideoCapture(str(video)), 0
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        fer.analyze(frame)
        count += 1
    capture.release()
    return count


def run(benchmark, frames_of, loop=None):
    seen, loop_times, times = [], [], []

    def loop_first():
        start = time.perf_counter()
        assert loop() == FRAMES
        loop_times.append(time.perf_counter() - start)

    def once():
        start = time.perf_counter()
        count = frames_of()
        times.append(time.perf_counter() - start)
        seen.append(count / times[-1])
        return count

    count = benchmark.pedantic(once, setup=loop_first if loop else None, rounds=3, iterations=1)
    assert count == FRAMES
    benchmark.extra_info["frames_per_second_median"] = sorted(seen)[len(seen) // 2]
    if loop:
        ratios = sorted(a / b for a, b in zip(loop_times, times))
        benchmark.extra_info["ratio_vs_loop_interleaved"] = ratios[len(ratios) // 2]


@pytest.mark.benchmark(group=GROUP)
def test_stream_videocapture_analyze_loop_baseline(benchmark, fer, video):
    run(benchmark, lambda: loop_over(fer, video))


@pytest.mark.benchmark(group=GROUP)
@pytest.mark.parametrize(
    "every,between,workers",
    [(1, "reuse", None), (1, "reuse", 1), (3, "reuse", None), (3, "reuse", 1), (3, "classify", None)],
    ids=["every1", "every1-workers1", "every3-reuse", "every3-reuse-workers1", "every3-classify"],
)
def test_stream(benchmark, fer, video, every, between, workers):
    with fer.stream(video, workers=workers) as probe:  # opened only to read its worker count
        benchmark.extra_info["workers"] = probe.workers
    run(
        benchmark,
        lambda: sum(1 for _ in fer.stream(video, every=every, between=between, workers=workers)),
        loop=lambda: loop_over(fer, video),
    )
