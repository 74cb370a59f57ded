"""The command line at first contact (issue 22, items B6, B7 and C3): an output that is an input
is refused before anything is written, ``--csv`` takes every file name the other outputs take and
writes a row for an image without faces, errors are one line of fastfer's own (no usage block, no
OpenCV or FFmpeg lines), ``--ray`` without Ray says how to install it, "no faces" recalls
``--min-face``, ``fastfer models`` cuts between words, and ``bench --quick`` reports no
percentile from too few latencies. Real files, the real shipped models, no mocks."""

from __future__ import annotations

import csv
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from fastfer import models
from fastfer.cli import main
from fastfer.cli.common import EXAMPLE
from fastfer.eval import bench


def fastfer_cli(*args, cwd=None) -> subprocess.CompletedProcess:
    """``python -m fastfer ARGS``; arguments may be bytes (file names that are not UTF-8)."""
    argv = [a if isinstance(a, bytes) else str(a) for a in args]
    return subprocess.run([sys.executable, "-m", "fastfer", *argv], capture_output=True, cwd=cwd, timeout=600)


def err_lines(run: subprocess.CompletedProcess) -> list:
    return run.stderr.decode(errors="replace").strip().splitlines()


def small_faces_photo(path: Path, scale: float = 0.25) -> Path:
    """The shipped photo shrunk so that its face (about 110 px) is under the default --min-face."""
    image = cv2.imread(str(EXAMPLE))
    cv2.imwrite(str(path), cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA))
    return path


def small_video(path: Path, frames: int = 6) -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (160, 120))
    for i in range(frames):
        writer.write(np.full((120, 160, 3), 20 * i, np.uint8))
    writer.release()
    return path


# ------------------------------------------------------------------ B6: outputs that are inputs


def test_a_csv_that_is_an_input_is_refused_and_the_input_kept(tmp_path):
    photo = tmp_path / "same.jpg"
    photo.write_bytes(EXAMPLE.read_bytes())
    os.link(photo, tmp_path / "hard.jpg")
    (tmp_path / "soft.csv").symlink_to(photo)
    for output in (photo, tmp_path / "hard.jpg", tmp_path / "soft.csv", Path("same.jpg")):
        run = fastfer_cli("analyze", "same.jpg", "--csv", output, cwd=tmp_path)
        assert run.returncode == 2, run.stderr
        lines = err_lines(run)
        assert len(lines) == 1 and lines[0].startswith("fastfer: error: --csv") and "input" in lines[0], lines
        assert run.stdout == b""
        assert photo.read_bytes() == EXAMPLE.read_bytes()  # untouched
    # a CSV beside it, and one that exists (overwritten, as documented), are fine
    (tmp_path / "old.csv").write_text("old\n")
    run = fastfer_cli("analyze", "same.jpg", "--csv", "old.csv", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert (tmp_path / "old.csv").read_text().startswith("source,face,")


def test_drawing_over_an_input_png_is_refused(tmp_path):
    folder = tmp_path / "shots"
    folder.mkdir()
    small_faces_photo(folder / "a.png", scale=1.0)
    before = (folder / "a.png").read_bytes()
    run = fastfer_cli("analyze", folder, "--draw", folder)
    assert run.returncode == 2 and run.stdout == b""
    lines = err_lines(run)
    assert len(lines) == 1 and lines[0].startswith("fastfer: error: --draw") and "a.png" in lines[0], lines
    assert (folder / "a.png").read_bytes() == before
    # a JPEG input in the folder is no drawing's name: drawn beside it
    jpeg = tmp_path / "jpegs"
    jpeg.mkdir()
    (jpeg / "b.jpg").write_bytes(EXAMPLE.read_bytes())
    assert fastfer_cli("analyze", jpeg, "--draw", jpeg).returncode == 0
    assert (jpeg / "b.png").is_file() and (jpeg / "b.jpg").read_bytes() == EXAMPLE.read_bytes()


def test_analyze_help_says_outputs_are_overwritten(capsys):
    with pytest.raises(SystemExit):
        main(["analyze", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "overwritten" in text and "one that is an input is refused" in text


def test_a_video_output_that_is_its_input_is_refused_and_the_video_kept(tmp_path):
    clip = small_video(tmp_path / "same.avi")
    before = clip.read_bytes()
    for option in ("-o", "--json"):
        run = fastfer_cli("video", clip, option, clip)
        assert run.returncode == 2, run.stderr
        lines = err_lines(run)
        assert len(lines) == 1 and lines[0].startswith(f"fastfer: error: {option}") and "input" in lines[0], lines
        assert clip.read_bytes() == before


# ------------------------------------------------------------------ B7: names that are not UTF-8


def test_csv_takes_a_file_name_that_is_not_utf8_as_the_json_lines_do(tmp_path):
    raw = os.fsencode(tmp_path) + b"/caf\xe9.jpg"
    try:
        with open(raw, "wb") as f:
            f.write(EXAMPLE.read_bytes())
    except OSError:
        pytest.skip("this file system refuses names that are not UTF-8")
    (tmp_path / "later.jpg").write_bytes(EXAMPLE.read_bytes())
    out = tmp_path / "faces.csv"
    run = fastfer_cli("analyze", raw, tmp_path / "later.jpg", "--csv", out, "--json", "--workers", "1")
    assert run.returncode == 0, run.stderr
    records = [json.loads(line) for line in run.stdout.splitlines()]
    assert [len(r["faces"]) for r in records] == [1, 1]  # the later input was analysed too
    with open(out, newline="", encoding="utf-8") as f:  # valid UTF-8 throughout
        rows = list(csv.DictReader(f))
    assert [row["label"] for row in rows] == ["happy", "happy"]
    # the name as the JSON line writes it: its undecodable byte as the escape \udce9
    json_text = json.dumps(records[0]["path"])[1:-1]
    assert rows[0]["source"] == json_text and rows[0]["source"].endswith("caf\\udce9.jpg")
    assert rows[1]["source"] == str(tmp_path / "later.jpg")


# ------------------------------------------------------------------ C3: the command line


@pytest.mark.parametrize(
    "args",
    [
        ["analyze", "--threads", "0", str(EXAMPLE)],
        ["analyze", "--min-face", "-1", str(EXAMPLE)],
        ["analyze", "--max-faces", "many", str(EXAMPLE)],
        ["video", "--every", "0", "x.mp4"],
        ["analyse", str(EXAMPLE)],
    ],
)
def test_an_option_out_of_range_is_one_line_without_the_usage(args):
    run = fastfer_cli(*args)
    assert run.returncode == 2
    lines = err_lines(run)
    assert len(lines) == 1, lines
    assert re.match(r"fastfer( \w+)?: error: ", lines[0]) and "--help" in lines[0]
    assert "usage:" not in lines[0]


def test_help_still_prints_the_usage(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["analyze", "--help"])
    assert exit_.value.code == 0 and "usage: fastfer analyze" in capsys.readouterr().out


def test_opencv_and_ffmpeg_print_nothing_of_their_own(tmp_path):
    writer = cv2.VideoWriter(str(tmp_path / "whole.mp4"), cv2.VideoWriter_fourcc(*"mp4v"), 10, (160, 120))
    for i in range(10):
        writer.write(np.full((120, 160, 3), 20 * i, np.uint8))
    writer.release()
    data = (tmp_path / "whole.mp4").read_bytes()
    (tmp_path / "cut.mp4").write_bytes(data[: len(data) // 2])  # no moov atom: FFmpeg complains
    for args in (["video", tmp_path / "cut.mp4"], ["video", "--camera", "57"]):
        run = fastfer_cli(*args)
        assert run.returncode == 2
        lines = err_lines(run)
        assert len(lines) == 1 and lines[0].startswith("fastfer: error: cannot open"), lines


def test_ray_that_is_not_installed_says_how_to_install_it(tmp_path):
    # Ray is made unimportable in this one process, as in an installation without the extra.
    code = (
        "import sys; sys.modules['ray'] = None\n"
        "from fastfer.cli import main\n"
        f"sys.exit(main(['analyze', '--ray', {str(EXAMPLE)!r}, '--parquet', {str(tmp_path / 'out')!r}]))"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=600)
    assert run.returncode == 2
    lines = err_lines(run)
    assert len(lines) == 1 and 'pip install "fastfer[ray]"' in lines[0], lines


def test_csv_has_a_row_for_an_image_without_faces(tmp_path):
    blank = tmp_path / "blank.png"
    cv2.imwrite(str(blank), np.full((120, 160, 3), 128, np.uint8))
    (tmp_path / "broken.jpg").write_bytes(EXAMPLE.read_bytes()[:200])
    out = tmp_path / "faces.csv"
    for workers in ("1", "2"):  # one process, and the worker threads
        run = fastfer_cli("analyze", EXAMPLE, blank, tmp_path / "broken.jpg", "--csv", out, "--workers", workers)
        assert run.returncode == 1, run.stderr
        with open(out, newline="", encoding="utf-8") as f:
            rows = {Path(row["source"]).name: row for row in csv.DictReader(f)}
        assert set(rows) == {"astronaut.jpg", "blank.png", "broken.jpg"}
        assert rows["astronaut.jpg"]["face"] == "0" and rows["astronaut.jpg"]["label"] == "happy"
        empty = rows["blank.png"]  # processed, no face: every other column empty
        assert [k for k, v in empty.items() if v] == ["source"]
        assert rows["broken.jpg"]["error"] and not rows["broken.jpg"]["face"]  # not analysed


def test_no_faces_recalls_once_that_small_faces_are_not_looked_for(tmp_path):
    one, two = small_faces_photo(tmp_path / "one.png"), small_faces_photo(tmp_path / "two.png")
    run = fastfer_cli("analyze", one, two, "--json")
    assert run.returncode == 0, run.stderr
    assert [json.loads(line)["faces"] for line in run.stdout.splitlines()] == [[], []]
    notes = [line for line in err_lines(run) if "--min-face" in line]
    default = models.DEFAULT_MIN_FACE
    assert len(notes) == 1 and f"under {default} px" in notes[0] and "2 images" in notes[0], err_lines(run)
    found = fastfer_cli("analyze", one, two, "--json", "--min-face", "0")
    assert [len(json.loads(line)["faces"]) for line in found.stdout.splitlines()] == [1, 1]
    assert found.stderr == b""
    assert fastfer_cli("analyze", EXAMPLE).stderr == b""  # faces found: nothing to recall


def test_models_descriptions_are_cut_between_words_with_an_ellipsis():
    run = fastfer_cli("models")
    assert run.returncode == 0
    lines = run.stdout.decode().splitlines()
    start = lines[0].index("description")
    # The shipped models (the child lists those; this process may hold models other tests registered).
    specs = {name: models.spec(name) for name in json.loads(models.MANIFEST.read_text())["models"]}
    shown = {line.split()[0]: line[start:] for line in lines[1 : 1 + len(specs)]}
    assert set(shown) == set(specs)
    for name, text in shown.items():
        full = " ".join(specs[name].description.split()).rstrip(".")
        if text != full:
            assert text.endswith("...") and len(text) < len(full), (name, text)
            text = text[:-3]
        assert text.count("(") == text.count(")"), (name, text)
        words = set(re.split(r"[\s,;:.()]+", full))
        assert set(re.split(r"[\s,;:.()]+", text)) <= words, (name, text)  # whole words only


def test_bench_quick_reports_no_percentile_from_too_few_latencies(tmp_path, capsys):
    # An empty --photos folder: the shipped photo alone, as without ../shared.
    args = ["bench", "--quick", "--detectors", "blazeface_short", "--precision", "fp32", "--min-face", "0"]
    args += ["--photos", str(tmp_path)]
    assert main([*args, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["scenes"]["640x480"]["images"] == 1 and report["repeat"] == 2
    latency = report["results"][0]["analyze"]["latency_ms"]
    assert latency["samples"] >= bench.MIN_LATENCY_SAMPLES
    for q, needed in bench.PERCENTILE_SAMPLES.items():
        assert (latency[f"p{q}"] is None) == (latency["samples"] < needed), latency
    assert latency["min"] <= latency["p50"] <= latency["max"]
    assert main(args) == 0
    row = [line for line in capsys.readouterr().out.splitlines() if line.startswith("blazeface_short")]
    assert len(row) == 1 and row[0].split()[7] == "-"  # p99: not from 20 latencies
