"""What a new user meets first (issue 10, items 3–6): single crops and single paths are never
misread, the command line reports missing paths like unreadable files, explains itself in one
line, reaches FER's options, reads standard input, writes CSV, and evaluates numbered folders.
The real models run on real files throughout."""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

import fastfer
from fastfer.cli import main
from fastfer.cli.common import EXAMPLE
from fastfer.eval import fer2013

EXPECTED_COLUMNS = 26  # source, face, box (4), score, landmarks (10), label, 7 probabilities, error


def fastfer_cli(*args, env=None, stdin=None, cwd=None) -> subprocess.CompletedProcess:
    full_env = dict(os.environ, **(env or {}))
    return subprocess.run(
        [sys.executable, "-m", "fastfer", *map(str, args)],
        capture_output=True,
        env=full_env,
        input=stdin,
        cwd=cwd,
        timeout=600,
    )


@pytest.fixture(scope="module")
def fer():
    return fastfer.FER()


@pytest.fixture(scope="module")
def astronaut_face():
    image = cv2.imread(str(EXAMPLE))
    return image, fastfer.FER().analyze(image)[0]


# --- item 3: the API never reinterprets what it is given ----------------------------------------


def test_one_bgr_crop_is_classified_as_one_face(fer, astronaut_face):
    image, face = astronaut_face
    x1, y1, x2, y2 = (int(round(v)) for v in face.box)
    crop = image[y1:y2, x1:x2]
    one = fer.classify(crop)
    assert one.shape == (1, 7)
    np.testing.assert_allclose(one[0], fer.classify([crop])[0], atol=1e-6)
    assert fastfer.LABELS[int(one[0].argmax())] == "happy"
    grey = fer.classify(cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY))
    assert grey.shape == (1, 7)
    assert fer.classify(np.stack([crop, crop])).shape == (2, 7)


def test_a_bgra_crop_is_refused_with_how_to_pass_it(fer, astronaut_face):
    image, _ = astronaut_face
    with pytest.raises(ValueError, match="BGRA"):
        fer.classify(cv2.cvtColor(image[:60, :60], cv2.COLOR_BGR2BGRA))


@pytest.mark.parametrize("single", [str(EXAMPLE), EXAMPLE, str(EXAMPLE).encode()])
def test_analyze_batch_refuses_one_path_and_says_to_pass_a_list(fer, single):
    with pytest.raises(TypeError, match=r"list of images.*\[image\]"):
        fer.analyze_batch(single)


def test_analyze_batch_reports_progress(fer):
    image = cv2.imread(str(EXAMPLE))
    calls = []
    results = fer.analyze_batch([image] * 10, progress=lambda done, total: calls.append((done, total)))
    assert len(results) == 10 and all(r == results[0] for r in results)
    assert calls[0] == (0, 10) and calls[-1] == (10, 10)
    assert [d for d, _ in calls] == sorted(d for d, _ in calls)


# --- item 5: results as tables ----------------------------------------------------------------


def test_to_frame_has_one_row_per_face_and_one_per_unreadable_image(fer, tmp_path):
    pd = pytest.importorskip("pandas")
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"\xff\xd8 not really a jpeg")
    image = cv2.imread(str(EXAMPLE))
    results = fer.analyze_batch([image, bad, np.full((64, 64, 3), 128, np.uint8)])
    frame = fastfer.to_frame(results)
    assert isinstance(frame, pd.DataFrame) and frame.shape[1] == EXPECTED_COLUMNS
    assert list(frame["source"]) == [0, 1]  # the astronaut's face, the broken file; no row for no face
    face = results[0][0]
    row = frame.iloc[0]
    assert row["label"] == face.label == "happy"
    np.testing.assert_allclose(row[list(fastfer.LABELS)].to_numpy(float), face.probs, atol=1e-6)
    np.testing.assert_allclose(row[["x1", "y1", "x2", "y2"]].to_numpy(float), face.box, atol=1e-4)
    assert "broken.jpg" in frame.iloc[1]["error"]
    one_image = fastfer.to_frame(results[0])
    assert len(one_image) == 1 and one_image.iloc[0]["source"] is None
    with pytest.raises(TypeError):
        fastfer.to_frame("photo.jpg")


def test_analyze_csv_writes_the_rows_of_to_frame(tmp_path):
    out = tmp_path / "faces.csv"
    run = fastfer_cli("analyze", EXAMPLE, tmp_path / "missing.jpg", "--csv", out)
    assert run.returncode == 1, run.stderr
    rows = list(csv.DictReader(out.read_text().splitlines()))
    assert len(rows) == 1 and rows[0]["label"] == "happy"
    assert rows[0]["source"] == str(EXAMPLE)
    assert abs(sum(float(rows[0][label]) for label in fastfer.LABELS) - 1) < 1e-4
    assert len(rows[0]) == EXPECTED_COLUMNS


# --- item 4: the command line ------------------------------------------------------------------


def test_a_missing_path_is_reported_and_the_rest_analysed(tmp_path):
    run = fastfer_cli("analyze", tmp_path / "typo.jpg", EXAMPLE, "--json")
    assert run.returncode == 1
    assert b"typo.jpg: error: no such file or folder" in run.stderr
    records = [json.loads(line) for line in run.stdout.splitlines()]
    assert [Path(r["path"]).name for r in records] == ["typo.jpg", "astronaut.jpg"]
    assert "error" in records[0] and records[1]["faces"][0]["label"] == "happy"


def test_a_folder_with_images_only_in_sub_folders_suggests_r(tmp_path, capsys):
    (tmp_path / "day1").mkdir()
    shutil.copy(EXAMPLE, tmp_path / "day1" / "a.jpg")
    assert main(["analyze", str(tmp_path)]) == 2
    assert "add -r" in capsys.readouterr().err
    assert main(["analyze", "-r", str(tmp_path)]) == 0


def test_draw_onto_an_existing_file_is_one_clear_line(tmp_path, capsys):
    target = tmp_path / "out.png"
    target.write_bytes(b"x")
    assert main(["analyze", str(EXAMPLE), "--draw", str(target)]) == 2
    err = capsys.readouterr().err
    assert err.strip() == f"fastfer: error: --draw {target}: exists and is not a folder"


@pytest.mark.parametrize(
    "variable, value", [("FASTFER_MAX_PIXELS", "lots"), ("FASTFER_BACKEND", "gpu"), ("FASTFER_PRECISION", "int4")]
)
def test_bad_environment_values_are_one_line_not_a_traceback(variable, value):
    run = fastfer_cli("models", env={variable: value})
    assert run.returncode == 2
    lines = run.stderr.decode().strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("fastfer: error:") and variable in lines[0]


def test_the_pixel_cap_message_says_how_to_raise_it_and_max_pixels_does(tmp_path):
    run = fastfer_cli("analyze", EXAMPLE, env={"FASTFER_MAX_PIXELS": "10000"})
    assert run.returncode == 1
    assert b"--max-pixels" in run.stderr and b"FASTFER_MAX_PIXELS" in run.stderr
    run = fastfer_cli("analyze", EXAMPLE, "--max-pixels", "1000000", env={"FASTFER_MAX_PIXELS": "10000"})
    assert run.returncode == 0 and b"happy" in run.stdout


def test_fer_options_reach_the_command_line(capsys):
    assert main(["analyze", str(EXAMPLE), "--json", "--score-threshold", "0.9999999"]) == 0
    strict = json.loads(capsys.readouterr().out)
    assert strict["faces"] == []  # the astronaut's face scores below this
    assert main(["analyze", str(EXAMPLE), "--json", "--max-side", "200", "--max-faces", "1"]) == 0
    small = json.loads(capsys.readouterr().out)
    assert len(small["faces"]) == 1 and small["faces"][0]["label"] == "happy"
    with pytest.raises(SystemExit) as stop:
        main(["analyze", str(EXAMPLE), "--max-side", "0"])
    assert stop.value.code == 2


def test_dash_reads_one_image_from_standard_input():
    run = fastfer_cli("analyze", "-", "--json", stdin=EXAMPLE.read_bytes())
    assert run.returncode == 0, run.stderr
    record = json.loads(run.stdout)
    assert record["path"] == "-" and record["faces"][0]["label"] == "happy"
    empty = fastfer_cli("analyze", "-", stdin=b"")
    assert empty.returncode == 1 and b"standard input" in empty.stderr


def test_models_names_the_real_defaults(capsys):
    assert main(["models"]) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    from fastfer.models import DEFAULT_CLASSIFIER, DEFAULT_DETECTOR

    assert f"{DEFAULT_DETECTOR} (detector)" in last and f"{DEFAULT_CLASSIFIER} (classifier)" in last
    # the precision follows the CPU (fastfer.models.cpu): fernet in int8 with VNNI, else in float32
    assert DEFAULT_CLASSIFIER == {"int8": "fernet_int8", "fp32": "fernet"}[fastfer.models.PRECISION]


def test_info_describes_what_analyze_would_do_and_exits_like_it(tmp_path, capsys):
    fer = fastfer.FER(max_side=320)
    image = cv2.imread(str(EXAMPLE))
    tensor, scale = fer.detector.input_tensor(image)
    assert main(["info", str(EXAMPLE), "--max-side", "320"]) == 0
    out = capsys.readouterr().out
    assert f"detector input {tuple(tensor.shape)} (scale {scale:.4f})" in out
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    assert main(["info", str(bad)]) == 1
    assert main(["info", str(tmp_path / "none.png")]) == 1


def test_the_top_level_help_has_no_markup(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    assert ":data:" not in out and "``" not in out and "analyze" in out and "info" in out


# --- item 6: numbered evaluation folders --------------------------------------------------------


@pytest.mark.parametrize("order", ["fer2013", "rafdb", "affectnet"])
def test_eval_folder_reads_numbered_folders_in_each_order(tmp_path, order, capsys):
    names = fer2013.ORDERS[order]
    happy, neutral = names.index("happy"), names.index("neutral")
    image = cv2.imread(str(EXAMPLE))
    face = fastfer.FER().analyze(image)[0]
    x1, y1, x2, y2 = (int(round(v)) for v in face.box)
    for number in (happy, neutral):
        (tmp_path / str(number)).mkdir()
    cv2.imwrite(str(tmp_path / str(happy) / "smile.png"), image[y1:y2, x1:x2])
    cv2.imwrite(str(tmp_path / str(neutral) / "blank.png"), np.full((48, 48, 3), 128, np.uint8))
    files, labels, skipped = fer2013.read_folder(tmp_path, order)
    truth = {Path(f).name: fastfer.LABELS[label] for f, label in zip(files, labels)}
    assert truth == {"smile.png": "happy", "blank.png": "neutral"} and not skipped
    code = main(["eval", "folder", str(tmp_path), "--order", order, "--json", "--png", str(tmp_path / "c.png")])
    assert code == 0
    result = json.loads(capsys.readouterr().out)
    assert result["n"] == 2 and result["per_class"]["happy"]["recall"] == 1.0


def test_one_based_numbering_is_read_as_such(tmp_path):
    for number in range(1, 8):  # RAF-DB's own 1..7
        (tmp_path / str(number)).mkdir()
        cv2.imwrite(str(tmp_path / str(number) / "x.png"), np.zeros((8, 8), np.uint8))
    files, labels, _ = fer2013.read_folder(tmp_path, "rafdb")
    assert [fastfer.LABELS[label] for label in labels] == [
        "surprise",
        "fear",
        "disgust",
        "happy",
        "sad",
        "angry",
        "neutral",
    ]


def test_a_video_given_to_analyze_points_to_fastfer_video(tmp_path):
    clip = tmp_path / "clip.mp4"
    writer = cv2.VideoWriter(str(clip), cv2.VideoWriter_fourcc(*"mp4v"), 10, (64, 48))
    for _ in range(3):
        writer.write(np.full((48, 64, 3), 90, np.uint8))
    writer.release()
    run = fastfer_cli("analyze", clip)
    assert run.returncode == 1
    assert f"use `fastfer video {clip}`".encode() in run.stderr
