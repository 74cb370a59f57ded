"""The ``fastfer`` command end to end: ``analyze``, ``models`` and ``demo``, run as
``python -m fastfer`` in a subprocess with the real shipped models on real photos."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from _paths import PHOTOS

import fastfer
from fastfer import models
from fastfer.cli.common import EXAMPLE

ROOT = Path(__file__).resolve().parents[1]
# Every model the package's manifest lists (at least the ones that have always shipped).
SHIPPED_MODELS = set(json.loads((ROOT / "python" / "fastfer" / "models" / "manifest.json").read_text())["models"])
assert {"retinaface_mbv2", "blazeface_short", "blazeface_full", "mini_xception", "fernet"} <= SHIPPED_MODELS
needs_photos = pytest.mark.skipif(
    not (PHOTOS / "two_people.jpg").exists(), reason="../shared/data/photos is not beside the checkout"
)


def fastfer_cli(*args, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "fastfer", *map(str, args)], capture_output=True, text=True, cwd=cwd, timeout=600
    )


def json_lines(out: subprocess.CompletedProcess) -> dict:
    """{file name: record} from ``--json`` output, checking one valid JSON object per line."""
    records = [json.loads(line) for line in out.stdout.splitlines()]
    names = [Path(r["path"]).name for r in records]
    assert len(set(names)) == len(names), names
    return dict(zip(names, records))


@pytest.fixture(scope="module")
def photos(tmp_path_factory) -> Path:
    """A folder with two known photos, a blank image (no faces) and a file that is no image."""
    if not (PHOTOS / "two_people.jpg").exists():
        pytest.skip("../shared/data/photos is not beside the checkout")
    folder = tmp_path_factory.mktemp("photos")
    for name in ("astronaut.jpg", "two_people.jpg"):
        shutil.copy(PHOTOS / name, folder / name)
    cv2.imwrite(str(folder / "blank.png"), np.full((120, 160, 3), 128, np.uint8))
    (folder / "notes.txt").write_text("not an image: a folder's non-image files are skipped\n")
    return folder


@needs_photos
def test_analyze_folder_json_gives_one_line_per_image_with_the_known_faces(tmp_path):
    for name in ("astronaut.jpg", "two_people.jpg", "bald_guys_collage.jpg"):  # the collage, once
        shutil.copy(PHOTOS / name, tmp_path / name)
    (tmp_path / "README.txt").write_text("skipped")
    out = fastfer_cli("analyze", tmp_path, "--json")
    assert out.returncode == 0, out.stderr
    results = json_lines(out)
    assert set(results) == {"astronaut.jpg", "two_people.jpg", "bald_guys_collage.jpg"}
    astronaut = results["astronaut.jpg"]["faces"]
    assert len(astronaut) == 1 and astronaut[0]["label"] == "happy"
    assert len(results["two_people.jpg"]["faces"]) == 2
    assert len(results["bald_guys_collage.jpg"]["faces"]) == 24
    for record in results.values():
        assert set(record) == {"path", "faces"}
        for face in record["faces"]:
            assert set(face) == {"box", "score", "landmarks", "label", "probs"}
            assert len(face["box"]) == 4 and len(face["landmarks"]) == 5
            assert list(face["probs"]) == list(fastfer.LABELS)
            assert sum(face["probs"].values()) == pytest.approx(1.0, abs=1e-3)
            assert face["label"] == max(face["probs"], key=face["probs"].get)


def test_analyze_table_and_faceless_images(photos):
    out = fastfer_cli("analyze", photos)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert f"{photos / 'astronaut.jpg'}: 1 face" in lines
    assert f"{photos / 'two_people.jpg'}: 2 faces" in lines
    assert f"{photos / 'blank.png'}: no faces" in lines
    assert "notes.txt" not in out.stdout
    header = lines.index(f"{photos / 'astronaut.jpg'}: 1 face") + 1
    assert lines[header].split()[:2] == ["face", "box"]
    row = lines[header + 1].split()
    assert row[0] == "1" and "happy" in row


def test_analyze_in_batches_keeps_the_input_order(photos):
    single = json_lines(fastfer_cli("analyze", photos, "--json"))
    out = fastfer_cli("analyze", photos, "--json", "--batch-size", "3")
    assert out.returncode == 0, out.stderr
    batched = json_lines(out)
    assert list(batched) == list(single) == ["astronaut.jpg", "blank.png", "two_people.jpg"]
    for name in single:
        assert [f["label"] for f in batched[name]["faces"]] == [f["label"] for f in single[name]["faces"]]


def test_a_corrupt_file_fails_alone_and_is_named(photos, tmp_path):
    for name in ("astronaut.jpg", "two_people.jpg"):
        shutil.copy(photos / name, tmp_path / name)
    (tmp_path / "broken.jpg").write_bytes((PHOTOS / "astronaut.jpg").read_bytes()[:600])
    out = fastfer_cli("analyze", tmp_path, "--json")
    assert out.returncode == 1
    assert "broken.jpg" in out.stderr and "error" in out.stderr
    results = json_lines(out)
    assert list(results) == ["astronaut.jpg", "broken.jpg", "two_people.jpg"]
    assert set(results["broken.jpg"]) == {"path", "error"} and results["broken.jpg"]["error"]
    assert len(results["astronaut.jpg"]["faces"]) == 1 and len(results["two_people.jpg"]["faces"]) == 2

    table = fastfer_cli("analyze", tmp_path / "broken.jpg", tmp_path / "two_people.jpg")
    assert table.returncode == 1
    assert f"{tmp_path / 'two_people.jpg'}: 2 faces" in table.stdout
    assert "broken.jpg" in table.stderr and "broken.jpg" not in table.stdout


def test_draw_writes_decodable_pngs_without_name_clashes(photos, tmp_path):
    other = tmp_path / "other"
    other.mkdir()
    shutil.copy(photos / "astronaut.jpg", other / "astronaut.jpg")
    outdir = tmp_path / "out" / "drawn"  # created, parents included
    out = fastfer_cli(
        "analyze", photos / "astronaut.jpg", other / "astronaut.jpg", photos / "two_people.jpg", "--draw", outdir
    )
    assert out.returncode == 0, out.stderr
    assert sorted(p.name for p in outdir.iterdir()) == ["astronaut.png", "astronaut_2.png", "two_people.png"]
    for name, source in [("astronaut.png", "astronaut.jpg"), ("two_people.png", "two_people.jpg")]:
        drawn = cv2.imread(str(outdir / name), cv2.IMREAD_COLOR)
        original = cv2.imread(str(photos / source), cv2.IMREAD_COLOR)
        assert drawn is not None and drawn.shape == original.shape
        assert not np.array_equal(drawn, original)  # the faces are drawn on it
    assert str(outdir / "astronaut_2.png") in out.stdout


def test_globs_are_expanded_by_the_command(photos, tmp_path):
    out = fastfer_cli("analyze", "--json", str(photos / "*.jpg"))  # no shell: fastfer expands it
    assert out.returncode == 0, out.stderr
    assert list(json_lines(out)) == ["astronaut.jpg", "two_people.jpg"]

    nested = tmp_path / "a" / "b"
    nested.mkdir(parents=True)
    shutil.copy(photos / "blank.png", nested / "deep.png")
    assert fastfer_cli("analyze", tmp_path).returncode == 2  # folders are not searched by default
    deep = fastfer_cli("analyze", "--json", "--recursive", str(tmp_path / "**" / "*.png"))
    assert deep.returncode == 0, deep.stderr
    assert list(json_lines(deep)) == ["deep.png"]
    assert list(json_lines(fastfer_cli("analyze", "--json", "-r", tmp_path))) == ["deep.png"]


def test_example_analyses_the_shipped_photo():
    assert EXAMPLE.is_file()
    if (PHOTOS / "astronaut.jpg").exists():  # the shipped photo is the team's, byte for byte
        assert EXAMPLE.read_bytes() == (PHOTOS / "astronaut.jpg").read_bytes()
    out = fastfer_cli("analyze", "--example", "--json")
    assert out.returncode == 0, out.stderr
    (record,) = [json.loads(line) for line in out.stdout.splitlines()]
    assert Path(record["path"]) == EXAMPLE
    assert [face["label"] for face in record["faces"]] == ["happy"]


def test_a_progress_bar_when_asked():
    out = fastfer_cli("analyze", "--example", "--progress")
    assert out.returncode == 0, out.stderr
    assert "analyze 1/1 [100%]" in out.stderr
    assert "analyze" not in fastfer_cli("analyze", "--example").stderr  # stderr is not a terminal


def test_models_lists_the_shipped_models():
    out = fastfer_cli("models")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].split()[:3] == ["name", "task", "size"]
    rows = {line.split()[0]: line.split() for line in lines[1:] if line.strip()}
    assert SHIPPED_MODELS <= set(rows)
    assert rows["mini_xception"][1] == "classifier" and rows["retinaface_mbv2"][1] == "detector"
    assert "64x64 gray" in next(line for line in lines if line.startswith("mini_xception"))
    assert "48x48 gray" in next(line for line in lines if line.startswith("fernet"))

    as_json = fastfer_cli("models", "--json")
    assert as_json.returncode == 0, as_json.stderr
    specs = {s["name"]: s for s in json.loads(as_json.stdout)}
    assert set(specs) == SHIPPED_MODELS
    assert specs["mini_xception"]["labels"] == list(fastfer.LABELS)
    assert specs["retinaface_mbv2"] == models.spec("retinaface_mbv2").to_dict()


def test_demo_writes_the_annotated_photo_in_the_current_folder(tmp_path):
    out = fastfer_cli("demo", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    written = tmp_path / "astronaut.png"
    assert f"annotated image written to {written}" in out.stdout
    assert "1 face" in out.stdout and "happy" in out.stdout
    image = cv2.imread(str(written), cv2.IMREAD_COLOR)
    assert image is not None and image.shape == (512, 512, 3)


def test_an_unknown_or_misplaced_model_is_a_usage_error():
    out = fastfer_cli("analyze", "--example", "--detector", "no_such_model")
    assert out.returncode == 2
    assert "fastfer: error:" in out.stderr and "no_such_model" in out.stderr
    assert "retinaface_mbv2" in out.stderr  # the known names are listed
    assert "Traceback" not in out.stderr and out.stdout == ""
    wrong_task = fastfer_cli("analyze", "--example", "--classifier", "retinaface_mbv2")
    assert wrong_task.returncode == 2 and "not a classifier" in wrong_task.stderr


def test_no_inputs_is_a_usage_error_and_a_missing_path_is_like_an_unreadable_file(tmp_path):
    (tmp_path / "notes.txt").write_text("no images here")
    usage = {(): "--example", (tmp_path,): "no images"}
    for args, message in usage.items():
        out = fastfer_cli("analyze", *args)
        assert out.returncode == 2, (args, out.stderr)
        assert out.stderr.startswith("fastfer: error:") and message in out.stderr, out.stderr
        assert "Traceback" not in out.stderr
    # Issue 10: a path that does not exist is reported like an unreadable file (exit 1).
    missing = {
        (tmp_path / "missing.jpg",): "missing.jpg: error: no such file or folder",
        (str(tmp_path / "*.jpg"),): "*.jpg: error: no files match",
    }
    for args, message in missing.items():
        out = fastfer_cli("analyze", *args)
        assert out.returncode == 1, (args, out.stderr)
        assert message in out.stderr and "Traceback" not in out.stderr, out.stderr
