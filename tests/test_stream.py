"""FER.stream on synthetic videos of real faces: tracking, smoothing, every=k, live sources,
truncated files and bad input."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
from _moving_faces import crossing_scene, face_patches, render, truth, write_video

import fastfer
from fastfer.video.stream import StreamFrame, TrackedFace

W, H, SIDE, FRAMES = 320, 240, 72, 64


@pytest.fixture(scope="module")
def fer() -> fastfer.FER:
    # Every face: the synthetic faces are about 40 px, the default min_face's boundary, and these
    # tests are about tracking, not about the input-size policy.
    return fastfer.FER(min_face=0)


@pytest.fixture(scope="module")
def scene(fer):
    return crossing_scene(W, H, SIDE), face_patches(fer, SIDE)


@pytest.fixture(scope="module")
def video(scene, tmp_path_factory):
    path = tmp_path_factory.mktemp("stream") / "crossing.mp4"
    assert write_video(path, render(*scene, W, H, FRAMES), fps=25) == FRAMES
    return path


@pytest.fixture(scope="module")
def streamed(fer, video) -> list:
    return list(fer.stream(video))


def matched_ids(frames: list, scene) -> dict:
    """{true face number: [track id of the tracked face on it, per frame it is wholly visible]}."""
    out: dict = {}
    for frame in frames:
        for number, (cx, cy) in truth(scene, frame.index, FRAMES, SIDE, W, H).items():
            near = [
                f
                for f in frame.faces
                if abs((f.box[0] + f.box[2]) / 2 - cx) < SIDE / 3 and abs((f.box[1] + f.box[3]) / 2 - cy) < SIDE / 3
            ]
            out.setdefault(number, []).append(near[0].track_id if len(near) == 1 else None)
    return out


def test_every_frame_comes_with_its_container_timestamp(streamed):
    assert [f.index for f in streamed] == list(range(FRAMES))
    assert all(isinstance(f, StreamFrame) and f.image.shape == (H, W, 3) for f in streamed)
    assert np.allclose([f.timestamp for f in streamed], np.arange(FRAMES) / 25, atol=1e-3)
    assert all(f.detected and f.dropped == () for f in streamed)


def test_each_face_keeps_one_track_id_and_ids_are_never_reused(streamed, scene):
    ids = matched_ids(streamed, scene[0])
    assert sorted(ids) == [0, 1, 2, 3], "all four faces are wholly visible at some point"
    one_id = {}
    for number, seen in ids.items():
        assert None not in seen, f"face {number} was not found (or found twice) on a frame"
        assert len(set(seen)) == 1, f"face {number} changed track: {seen}"
        one_id[number] = seen[0]
    assert len(set(one_id.values())) == 4, f"two faces share an id: {one_id}"
    # An id, once gone, never comes back, and every id is used on consecutive frames only.
    frames_of: dict = {}
    for frame in streamed:
        for face in frame.faces:
            frames_of.setdefault(face.track_id, []).append(frame.index)
    for track_id, where in frames_of.items():
        assert where == list(range(where[0], where[-1] + 1)), f"id {track_id} came back: {where}"


def test_faces_carry_smoothed_and_raw_probabilities(streamed):
    for frame in streamed:
        for face in frame.faces:
            assert isinstance(face, TrackedFace) and face.detected
            for probs in (face.probs, face.raw_probs):
                assert probs.shape == (7,) and abs(float(probs.sum()) - 1) < 1e-4
            assert face.label == fastfer.LABELS[int(np.argmax(face.probs))]
            assert face.raw_label == fastfer.LABELS[int(np.argmax(face.raw_probs))]
            d = face.to_dict()
            assert d["track_id"] == face.track_id and set(d["raw_probs"]) == set(fastfer.LABELS)
    first = {}
    for frame in streamed:  # a new track starts from its own probabilities
        for face in frame.faces:
            if face.track_id not in first:
                first[face.track_id] = face
                assert np.allclose(face.probs, face.raw_probs)


def label_changes(frames: list, attribute: str) -> int:
    last, changes = {}, 0
    for frame in frames:
        for face in frame.faces:
            label = getattr(face, attribute)
            changes += face.track_id in last and last[face.track_id] != label
            last[face.track_id] = label
    return changes


def test_smoothing_makes_labels_change_less_often_than_raw_on_a_noisy_video(fer, scene):
    frames = list(fer.stream(render(*scene, W, H, FRAMES, noise=28, seed=3)))
    raw, smoothed = label_changes(frames, "raw_label"), label_changes(frames, "label")
    assert raw >= 4, "the noise should make the classifier flicker"
    assert smoothed < raw / 2, (smoothed, raw)
    unsmoothed = list(fer.stream(render(*scene, W, H, FRAMES, noise=28, seed=3), smoothing=1))
    assert label_changes(unsmoothed, "label") == label_changes(unsmoothed, "raw_label")


@pytest.mark.parametrize("between", ["reuse", "classify"])
def test_every_k_carries_the_tracks_between_detections(fer, video, scene, between):
    frames = list(fer.stream(video, every=3, between=between))
    assert [f.detected for f in frames] == [i % 3 == 0 for i in range(FRAMES)]
    for number, seen in matched_ids(frames, scene[0]).items():
        assert None not in seen and len(set(seen)) == 1, f"face {number}: {seen}"
    last: dict = {}  # track id -> its face on the previous frame
    reclassified = 0
    for frame in frames:
        for face in frame.faces:
            assert face.detected == frame.detected
            x1, y1, x2, y2 = face.box
            assert 0 <= x1 < x2 <= W and 0 <= y1 < y2 <= H
            before = last.get(face.track_id)
            if not frame.detected and before is not None:
                same = np.array_equal(face.raw_probs, before.raw_probs)
                if between == "reuse":  # the last probabilities, not counted again in the smoothing
                    assert same and np.array_equal(face.probs, before.probs)
                reclassified += not same
            last[face.track_id] = face
    assert (reclassified > 0) == (between == "classify")


def frames_as_data(frames: list) -> list:
    return [
        (
            f.index,
            f.detected,
            f.dropped,
            [(t.track_id, t.box, t.label, t.raw_label, t.probs.tolist(), t.detected) for t in f.faces],
        )
        for f in frames
    ]


@pytest.mark.parametrize("every,between", [(1, "reuse"), (3, "classify")])
def test_workers_analyse_frames_ahead_with_the_same_output_as_one(fer, video, every, between):
    one = fer.stream(video, every=every, between=between, workers=1)
    assert one.workers == 1
    three = fer.stream(video, every=every, between=between, workers=3)
    assert frames_as_data(list(three)) == frames_as_data(list(one))
    with fer.stream(video) as default:  # usable cores over fer's threads
        assert default.workers >= 1


def slow_source(count: int, made: list):
    """A generator of frames that records how many it has handed out."""
    image = np.full((48, 64, 3), 100, np.uint8)
    for i in range(count):
        made.append(i)
        yield image


def test_a_slow_consumer_holds_back_a_file_like_source_without_losing_frames(fer):
    made: list = []
    stream = fer.stream(slow_source(40, made), queue_size=3)
    seen = []
    for frame in stream:
        time.sleep(0.005)
        seen.append(frame.index)
        # Waiting: the queue, the frames taken ahead for the workers, and one in the decoder's hand.
        assert len(made) <= len(seen) + 3 + stream.workers + 1, "the decoder ran ahead of the bounded queue"
    assert seen == list(range(40))


def test_a_live_source_drops_stale_frames_and_says_which(fer):
    made: list = []
    stream = fer.stream(slow_source(200, made), live=True)
    seen, dropped = [], []
    for frame in stream:
        time.sleep(0.02)  # a consumer far slower than the source
        seen.append(frame.index)
        dropped.extend(frame.dropped)
        assert all(i < frame.index for i in frame.dropped)
        assert frame.timestamp is not None
    assert dropped, "a slow consumer of a live source should drop frames"
    assert sorted(seen + dropped) == list(range(200)), "every frame is either yielded or reported"
    assert seen[-1] == 199, "the newest frame is never the one dropped"


def test_closing_early_stops_the_decoder(fer, video):
    before = threading.active_count()
    stream = fer.stream(video)
    for frame in stream:
        if frame.index == 2:
            break
    stream.close()
    assert threading.active_count() == before
    assert list(stream) == []
    with fer.stream(video) as again:
        assert next(again).index == 0
    assert threading.active_count() == before


def test_a_stream_dropped_without_close_stops_its_decoder(fer, video):
    before = threading.active_count()
    frame = next(iter(fer.stream(video)))  # one frame taken; the decoder has filled its queue and waits
    # Nothing holds the stream any more: it is collected, and its decoder stops.
    deadline = time.monotonic() + 5
    while threading.active_count() > before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert threading.active_count() == before and frame.index == 0


def test_a_truncated_video_gives_its_good_frames_then_a_clear_error(fer, scene, tmp_path):
    full = tmp_path / "full.avi"
    write_video(full, render(*scene, W, H, 40), fps=25, fourcc="MJPG")
    cut = tmp_path / "cut.avi"
    cut.write_bytes(full.read_bytes()[: full.stat().st_size // 2])
    got = []
    with pytest.raises(fastfer.VideoDecodeError, match="truncated or corrupt") as info:
        for frame in fer.stream(cut):
            got.append(frame.index)
    assert 5 <= len(got) < 40 and got == list(range(len(got)))
    assert info.value.frames_read == len(got) and "cut.avi" in str(info.value)


def test_urls_open_through_opencv_and_a_refused_stream_is_a_clear_error(fer, video):
    stream = fer.stream(video.resolve().as_uri())  # file:///...: the URL path, not the file path
    assert not stream.live and stream.frame_count == FRAMES
    assert [f.index for f in stream] == list(range(FRAMES))
    with pytest.raises(fastfer.VideoDecodeError, match="cannot open stream rtsp://"):
        fer.stream("rtsp://127.0.0.1:9/nothing-listens-here")


def test_bad_sources_and_options_are_refused(fer, tmp_path, video):
    with pytest.raises(FileNotFoundError):
        fer.stream(tmp_path / "missing.mp4")
    not_video = tmp_path / "notes.mp4"
    not_video.write_text("not a video")
    with pytest.raises(fastfer.VideoDecodeError, match="cannot open"):
        fer.stream(not_video)
    with pytest.raises(IsADirectoryError):
        fer.stream(tmp_path)
    for bad in (3.5, None, b"bytes", True):
        with pytest.raises(TypeError):
            fer.stream(bad)
    with pytest.raises(ValueError):
        fer.stream(np.zeros((48, 64, 3), np.uint8))  # one image, not frames
    with pytest.raises(ValueError):
        fer.stream(-1)
    for options in (
        {"every": 0},
        {"every": 1.5},
        {"smoothing": 0},
        {"between": "guess"},
        {"queue_size": 0},
        {"fps": -1},
        {"workers": 0},
        {"workers": 2.5},
    ):
        with pytest.raises(ValueError):
            fer.stream(video, **options)
    with pytest.raises(TypeError):
        fer.stream(video, live="yes")


def test_an_unreadable_item_of_an_iterable_ends_the_stream_after_the_good_ones(fer):
    items = [np.zeros((48, 64, 3), np.uint8)] * 3 + [b"not an image"]
    got = []
    with pytest.raises(fastfer.ImageDecodeError):
        for frame in fer.stream(items):
            got.append(frame.index)
    assert got == [0, 1, 2]


def test_compat_solvers_give_results_and_frames(fer, video):
    from fastfer.compat import CameraSolver, VideoSolver

    solver = VideoSolver(fer)
    solver.start(str(video))
    assert solver.video_fps == 25
    results, frame = solver.get_solved_frame()
    assert frame.shape == (H, W, 3) and len(results) == 3
    for face in results:
        assert fastfer.LABELS[face["result"]] == face["label"]
        assert len(face["vector"]) == 7 and face["probability"] == max(face["vector"])
        x, y, w, h = face["box"]
        assert w > 0 and h > 0 and face["track_id"] >= 1
    count = 1
    while solver.get_solved_frame()[1] is not None:
        count += 1
    assert count == FRAMES and solver.get_solved_frame() == ([], None)
    solver.close()
    assert solver.video_fps == 0

    camera = CameraSolver(fer)
    camera.start(iter([frame] * 5))  # this machine has no camera: a live iterable stands in
    results, image = camera.get_solved_frame()
    assert image is not None and len(results) == 3
    camera.close()
    with pytest.raises(RuntimeError):
        camera.get_solved_frame()
    with pytest.raises(TypeError):
        VideoSolver(fer, threads=2)
