"""Scene cuts (issue 22 C1): a clip that cuts from one person to another at the same place gives
the second person a new track, with its own smoothed expression from its first frame, through
FER.stream, ``fastfer video`` and the server's stream; and fastfer.video.cuts on its own."""

from __future__ import annotations

import json
import time

import cv2
import numpy as np
import pytest
from _moving_faces import crossing_scene, face_patches, render, write_video
from _paths import PHOTOS, SHIPPED_PHOTO, needs_shared

import fastfer
from fastfer.cli import main
from fastfer.video.cuts import CutDetector
from fastfer.video.tracking import Tracker

W, H, SIDE = 320, 240, 90  # the frame, and the face's side in it
FIRST, SECOND = 10, 14  # frames of the two shots: the cut is before frame 10, not a multiple of 3


@pytest.fixture(scope="module")
def fer() -> fastfer.FER:
    return fastfer.FER()


def framed(image: np.ndarray, box, dx: float) -> np.ndarray:
    """A W×H frame of ``image`` scaled so that the face ``box`` is SIDE px, centred at
    (W/2 + dx, H/2), on a grey background where the photo does not reach."""
    x1, y1, x2, y2 = box
    s = SIDE / max(x2 - x1, y2 - y1)
    matrix = np.float32([[s, 0, W / 2 + dx - s * (x1 + x2) / 2], [0, s, H / 2 - s * (y1 + y2) / 2]])
    return cv2.warpAffine(image, matrix, (W, H), flags=cv2.INTER_AREA, borderValue=(110, 110, 110))


def shot(fer: fastfer.FER, image: np.ndarray, frames: int, start: float, seed: int) -> list:
    """One shot: the face drifting right 1 px a frame, with camera-like noise (3 grey levels)."""
    box = fer.detect(image)[0].box
    rng = np.random.default_rng(seed)
    return [
        np.clip(framed(image, box, start + t) + rng.normal(0, 3, (H, W, 3)), 0, 255).astype(np.uint8)
        for t in range(frames)
    ]


def other_person(image: np.ndarray) -> np.ndarray:
    """Without ../shared the shipped photo is the only face: mirrored (the flag and the shuttle
    change sides, the face stays at its place once framed) and recoloured (hue +120°), it makes a
    second shot whose whole picture differs, as at a cut, with a face the tracker alone matches
    to the first (IoU about 0.8)."""
    hsv = cv2.cvtColor(cv2.flip(image, 1), cv2.COLOR_BGR2HSV)
    hsv[..., 0] = (hsv[..., 0].astype(np.int16) + 60) % 180
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR)


def cut_clip(fer: fastfer.FER, path, first: np.ndarray, second: np.ndarray):
    """An mp4 of FIRST frames of ``first``'s face, then SECOND of ``second``'s at the same place."""
    frames = shot(fer, first, FIRST, -6, 1) + shot(fer, second, SECOND, -4, 2)
    assert write_video(path, frames, fps=25) == FIRST + SECOND
    return path


@pytest.fixture(scope="module")
def clip(fer, tmp_path_factory):
    photo = fastfer.load_image(SHIPPED_PHOTO)
    return cut_clip(fer, tmp_path_factory.mktemp("cuts") / "cut.mp4", photo, other_person(photo))


def track_ids(frames: list) -> list:
    return [[face.track_id for face in frame.faces] for frame in frames]


def test_a_new_person_after_a_cut_is_a_new_track_with_its_own_smoothing(fer, clip):
    frames = list(fer.stream(clip))
    assert track_ids(frames) == [[1]] * FIRST + [[2]] * SECOND
    first = frames[FIRST].faces[0]
    # Its smoothed probabilities are its own from its first frame: nothing of the first person.
    assert np.array_equal(first.probs, first.raw_probs) and first.label == first.raw_label
    assert [frame.cut for frame in frames] == [i == FIRST for i in range(FIRST + SECOND)]
    assert frames[FIRST].to_dict()["cut"] is True and frames[FIRST - 1].to_dict()["cut"] is False


def test_without_cuts_the_tracker_alone_carries_the_first_persons_track_across(fer, clip):
    """What the cut detection changes, and proof that the clip needs it: its two faces overlap
    enough for the tracker to match them, and the smoothing then lags into the second face."""
    frames = list(fer.stream(clip, cuts=False))
    assert track_ids(frames) == [[1]] * (FIRST + SECOND) and not any(frame.cut for frame in frames)
    first = frames[FIRST].faces[0]
    assert not np.allclose(first.probs, first.raw_probs)


def test_every_k_detects_at_the_cut_and_the_output_does_not_depend_on_workers(fer, clip):
    runs = [list(fer.stream(clip, every=3, workers=workers)) for workers in (1, 3)]
    for frames in runs:
        assert track_ids(frames) == [[1]] * FIRST + [[2]] * SECOND
        # Detections at 0, 3, 6, 9; at the cut (10) whatever k; then every 3rd frame from there.
        assert [frame.index for frame in frames if frame.detected] == [0, 3, 6, 9, 10, 13, 16, 19, 22]
        assert frames[FIRST].faces[0].detected
    assert [[f.to_dict() for f in frame.faces] for frame in runs[0]] == [
        [f.to_dict() for f in frame.faces] for frame in runs[1]
    ]


def run_video_command(clip, tmp_path, capsys, *options: str) -> tuple:
    """``fastfer video CLIP --json LOG``: (the per-frame lines, the summary line, stdout)."""
    log = tmp_path / "faces.jsonl"
    assert main(["video", str(clip), "--json", str(log), "--no-progress", *options]) == 0
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    return lines[:-1], lines[-1], capsys.readouterr().out


def test_the_video_command_counts_two_people(clip, tmp_path, capsys):
    frames, last, printed = run_video_command(clip, tmp_path, capsys)
    assert [(t["track_id"], t["first_frame"], t["last_frame"]) for t in last["summary"]] == [
        (1, 0, FIRST - 1),
        (2, FIRST, FIRST + SECOND - 1),
    ]
    assert last["cuts"] == [FIRST] and [f["cut"] for f in frames].count(True) == 1
    assert f"{FIRST + SECOND} frames, 2 tracks (complete)" in printed
    assert f"scene cuts (every track ended) before frame {FIRST}\n" in printed
    _, without, printed = run_video_command(clip, tmp_path, capsys, "--no-cuts")
    assert len(without["summary"]) == 1 and without["cuts"] == [] and "scene cut" not in printed


def test_the_servers_stream_starts_a_new_track_at_the_cut(fer, clip):
    from fastfer.serve.stream import StreamSession

    capture, replies = cv2.VideoCapture(str(clip)), []
    session = StreamSession(fer)
    try:
        while True:
            ok, image = capture.read()
            if not ok:
                break
            replies.append(session.analyze(cv2.imencode(".png", image)[1].tobytes(), time.perf_counter()))
    finally:
        session.close()
        capture.release()
    assert [[face["track_id"] for face in reply["faces"]] for reply in replies] == [[1]] * FIRST + [[2]] * SECOND
    assert [reply["cut"] for reply in replies] == [i == FIRST for i in range(FIRST + SECOND)]


@needs_shared(PHOTOS / "angry_man.jpg", PHOTOS / "tom_cruise_smiling.jpg")
def test_an_angry_man_then_a_smiling_one_are_two_people_each_with_his_expression(fer, tmp_path, capsys):
    """The issue's clip with two real people: before, one track, angry 51%, happy 49%, and the
    smoothed label still angry on the smiling man's first frames."""
    angry, smiling = (fastfer.load_image(PHOTOS / name) for name in ("angry_man.jpg", "tom_cruise_smiling.jpg"))
    clip = cut_clip(fer, tmp_path / "two_people.mp4", angry, smiling)
    frames, last, _ = run_video_command(clip, tmp_path, capsys)
    assert [(t["track_id"], t["dominant"], t["share"][t["dominant"]]) for t in last["summary"]] == [
        (1, "angry", 1.0),
        (2, "happy", 1.0),
    ]
    assert [face["label"] for face in frames[FIRST]["faces"]] == ["happy"]


# --- fastfer.video.cuts and Tracker.end_all on their own ---------------------------------------


def cuts_in(frames) -> list:
    detector = CutDetector()
    return [i for i, frame in enumerate(frames) if detector.update(frame)]


def test_moving_faces_noise_and_exposure_are_no_cut(fer):
    scene = crossing_scene(W, H, 72), face_patches(fer, 72)
    assert cuts_in(render(*scene, W, H, 64)) == []
    assert cuts_in(render(*scene, W, H, 64, noise=28, seed=3)) == []
    # A brightness ramp of ×0.6 to ×1.4 with a 12% flicker, and a one-frame ×2.2 flash, on a
    # shot of the photo: the correlation ignores gain and offset. (A frame burnt mostly white
    # loses its picture and is a cut: docs/video.md.)
    frames = shot(fer, fastfer.load_image(SHIPPED_PHOTO), 40, -20, 3)
    exposed = [f * (0.6 + 0.02 * t) * (1 + 0.12 * (-1) ** t) for t, f in enumerate(frames)]
    exposed[20] = exposed[20] * 2.2
    assert cuts_in(np.clip(f, 0, 255).astype(np.uint8) for f in exposed) == []


def test_flat_frames_and_new_sizes(fer):
    photo = fastfer.load_image(SHIPPED_PHOTO)
    other = other_person(photo)
    black, grey = np.zeros_like(photo), np.full_like(photo, 128)
    # A black frame inside a shot is no cut, nor are flat frames after flat ones; a black frame
    # between two shots is compared with the picture before it: the second shot is a cut.
    assert cuts_in([photo, black, photo, grey, black, photo]) == []
    assert cuts_in([photo, photo, black, black, other, other]) == [4]
    assert cuts_in([black, black, photo]) == []  # the first picture: nothing before it
    smaller = cv2.resize(photo, (256, 256), interpolation=cv2.INTER_AREA)
    assert cuts_in([photo, smaller, smaller, photo]) == [1, 3]  # boxes of another frame size


def test_bad_thresholds_and_options_are_refused(fer, clip):
    for threshold in (-1, 1, 1.5, True, "0.7", None):
        with pytest.raises(ValueError):
            CutDetector(threshold)
    for cuts in (0.7, 1, None, "yes"):
        with pytest.raises(TypeError):
            fer.stream(clip, cuts=cuts)


def test_end_all_ends_every_track_and_ids_go_on_counting():
    tracker = Tracker()
    assert list(tracker.update([[0, 0, 50, 50], [100, 0, 150, 50]])) == [1, 2]
    tracker.end_all()
    assert list(tracker.ids) == [] and list(tracker.advance()[0]) == []
    assert list(tracker.update([[0, 0, 50, 50]])) == [3], "the same place after a cut: a new id"
