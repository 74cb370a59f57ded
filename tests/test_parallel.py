"""Every core of one machine: ``FER.analyze_many`` / ``fastfer.scale.parallel.analyze_many`` give, in
input order, exactly what one ``FER.analyze`` per image gives, unreadable inputs included."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys

import pytest
from _many_images import WIDER_DEV, photos, serial_results, wider_dev_images, write_corrupt
from _paths import needs_shared

import fastfer
from fastfer.scale import parallel


def assert_same_results(got: list, expected: list) -> None:
    assert len(got) == len(expected)
    for k, (a, b) in enumerate(zip(got, expected)):
        if isinstance(b, Exception):
            assert type(a) is type(b) and str(a) == str(b), (k, a, b)
        else:
            assert a == b, k  # Face equality: boxes, scores, landmarks and probabilities exactly


@pytest.fixture(scope="module")
def fer() -> fastfer.FER:
    return fastfer.FER()


@pytest.fixture(scope="module")
def mixed_inputs(tmp_path_factory) -> list:
    """Photos, an unreadable file and a missing one, in an order that is not sorted."""
    folder = tmp_path_factory.mktemp("mixed")
    shipped, *others = photos()
    return [*others, write_corrupt(folder), shipped, folder / "missing.jpg"]


def test_threads_give_the_serial_results_in_input_order_with_errors_in_their_slots(fer, mixed_inputs):
    got = list(fer.analyze_many(mixed_inputs, workers=2))
    assert_same_results(got, serial_results(mixed_inputs))
    assert isinstance(got[-1], FileNotFoundError) and isinstance(got[-3], fastfer.ImageDecodeError)
    assert "corrupt.jpg" in str(got[-3])
    assert got[-2] and got[-2][0].label is not None  # the shipped photo's face, classified


@needs_shared(WIDER_DEV)
def test_threads_on_wider_dev_images_equal_serial_analyze(fer):
    paths = wider_dev_images(48)
    assert_same_results(list(fer.analyze_many(paths, workers=2)), serial_results(paths))


def test_processes_give_the_serial_results_too(mixed_inputs):
    got = list(parallel.analyze_many(mixed_inputs, workers=2, mode="process"))
    assert_same_results(got, serial_results(mixed_inputs))
    face = got[-2][0]
    assert not face.probs.flags.writeable and not face.landmarks.flags.writeable  # Faces as built here


def test_workers_use_the_fer_options(mixed_inputs):
    picky = fastfer.FER(score_threshold=0.9, max_faces=1)
    inputs = [p for p in mixed_inputs if p.exists() and p.name != "corrupt.jpg"]
    got = list(picky.analyze_many(inputs, workers=2))
    assert got == [picky.analyze(p) for p in inputs]
    assert all(len(faces) <= 1 and all(f.score >= 0.9 for f in faces) for faces in got)


def test_one_worker_uses_the_callers_fer_and_results_are_lazy(fer):
    photo = photos()[0]
    endless = itertools.repeat(photo)  # never ends: only what is asked for is run
    first = list(itertools.islice(fer.analyze_many(endless, workers=1), 2))
    assert first == [fer.analyze(photo)] * 2
    many = fer.analyze_many(itertools.repeat(photo), workers=2)
    assert next(many) == first[0]
    many.close()  # stops the workers; the endless input is not drained


@pytest.mark.parametrize("workers", [0, -1, 1.5, "2", True])
def test_bad_worker_counts_are_refused_before_any_work(fer, workers):
    with pytest.raises(ValueError, match="workers must be a positive int"):
        fer.analyze_many([photos()[0]], workers=workers)


def test_bad_mode_and_single_path_are_refused(fer):
    with pytest.raises(ValueError, match="mode must be one of"):
        fer.analyze_many([photos()[0]], mode="fibers")
    for one_image in (str(photos()[0]), photos()[0], photos()[0].read_bytes(), fastfer.load_image(photos()[0])):
        with pytest.raises(TypeError, match="iterable of images"):
            fer.analyze_many(one_image)


@pytest.mark.parametrize("mode", parallel.MODES)
def test_a_worker_fer_that_cannot_be_built_raises_its_error(mode):
    results = parallel.analyze_many([photos()[0]], workers=2, mode=mode, detector="no_such_model")
    with pytest.raises(fastfer.ModelNotFoundError, match="no_such_model"):
        next(results)


def test_usable_cores_is_the_affinity_mask():
    assert 1 <= parallel.usable_cores() <= (os.cpu_count() or 1)
    assert parallel.check_workers(None) == parallel.usable_cores()


def fastfer_cli(*args) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "fastfer", *map(str, args)], capture_output=True, text=True, timeout=600
    )


def test_cli_workers_print_what_one_process_prints(mixed_inputs, tmp_path):
    """Same stdout (JSON lines in input order), same stderr (the unreadable and missing inputs,
    named), same exit status, same CSV and drawings, with 2 workers as with 1."""
    runs = {}
    for workers in (1, 2):
        out = tmp_path / f"w{workers}"
        runs[workers] = fastfer_cli(
            "analyze", *mixed_inputs, "--json", "--workers", workers, "--csv", f"{out}.csv", "--draw", out
        )
        assert runs[workers].returncode == 1, runs[workers].stderr
        runs[workers].stdout = runs[workers].stdout.replace(str(out), "OUT")  # the drawings' folder
    assert runs[2].stdout == runs[1].stdout and runs[2].stderr == runs[1].stderr
    assert "corrupt.jpg" in runs[2].stderr and "missing.jpg" in runs[2].stderr
    assert (tmp_path / "w2.csv").read_text() == (tmp_path / "w1.csv").read_text()
    drawn = sorted(p.name for p in (tmp_path / "w1").iterdir())
    assert drawn and drawn == sorted(p.name for p in (tmp_path / "w2").iterdir())
    for name in drawn:
        assert (tmp_path / "w1" / name).read_bytes() == (tmp_path / "w2" / name).read_bytes()


def test_cli_workers_with_batches_or_parquet_without_ray_are_usage_errors(mixed_inputs):
    out = fastfer_cli("analyze", mixed_inputs[0], "--workers", 2, "--batch-size", 4)
    assert out.returncode == 2 and "--batch-size is for one worker" in out.stderr
    out = fastfer_cli("analyze", mixed_inputs[0], "--parquet", "out/")
    assert out.returncode == 2 and "--parquet is written by --ray runs" in out.stderr
    out = fastfer_cli("analyze", mixed_inputs[0], "--workers", 0)
    assert out.returncode == 2 and "--workers" in out.stderr
