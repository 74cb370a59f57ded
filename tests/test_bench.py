"""fastfer.core.timing (the per-stage split) and fastfer bench (its JSON report and table, the Pareto
plot): structure and consistency of real measurements, never their speed."""

from __future__ import annotations

import json
import shutil

import cv2
import numpy as np
import pytest
from _paths import SHIPPED_PHOTO

import fastfer
from fastfer.cli import main
from fastfer.core.timing import STAGES, StageTimes, analyze_timed
from fastfer.eval import bench


@pytest.mark.parametrize("inference", ["auto", "python"])
def test_analyze_timed_gives_analyzes_faces_and_a_consistent_split(inference):
    fer = fastfer.FER("blazeface_short", threads=1, inference=inference)
    faces, times = analyze_timed(fer, str(SHIPPED_PHOTO))
    expected = fer.analyze(str(SHIPPED_PHOTO))
    assert [f.box for f in faces] == [f.box for f in expected] and [f.label for f in faces] == ["happy"]
    np.testing.assert_allclose([f.probs for f in faces], [f.probs for f in expected], atol=1e-6)
    parts = times.to_dict()
    assert set(parts) == {*STAGES, "other", "total"}
    assert all(v >= 0 for v in parts.values()) and times.detector > 0 and times.classifier > 0
    assert times.decode > 0  # a JPEG was decoded
    # The stages and the remainder make up the whole call.
    assert sum(parts[s] for s in (*STAGES, "other")) == pytest.approx(times.total, rel=1e-6, abs=1e-6)
    assert 0.0 <= times.outside_inference <= 1.0


def test_analyze_timed_refuses_what_is_not_a_fer():
    with pytest.raises(TypeError, match="fastfer.FER"):
        analyze_timed(object(), str(SHIPPED_PHOTO))
    assert isinstance(analyze_timed(fastfer.FER("blazeface_short"), np.zeros((32, 32, 3), np.uint8))[1], StageTimes)


@pytest.fixture(scope="module")
def one_photo(tmp_path_factory):
    folder = tmp_path_factory.mktemp("photos")
    shutil.copy(SHIPPED_PHOTO, folder / "astronaut.jpg")  # one of bench.FEW_FACES
    return folder


def test_bench_json_report_is_complete_and_consistent(one_photo, capsys):
    code = main(
        [
            "bench",
            "--detectors",
            "blazeface_short",
            "--min-face",
            "0",
            "--scenes",
            "640x480,crowd",
            "--repeat",
            "2",
            "--photos",
            str(one_photo),
            "--json",
        ]
    )
    assert code == 0
    report = json.loads(capsys.readouterr().out)
    assert report["machine"]["cores"] >= 1 and report["repeat"] == 2 and report["warmup_passes"] == 1
    # the figures depend on the CPU's int8 dot product, so the report says whether it has one
    assert report["machine"]["precision"] == fastfer.models.PRECISION
    assert isinstance(report["machine"]["int8_dot_product"], bool)
    assert report["scenes"]["640x480"] == {"size": [640, 480], "images": 1, "sources": ["astronaut.jpg"]}
    assert report["scenes"]["crowd"]["sources"] == ["4x3 grid of astronaut.jpg"]  # no crowd photo there
    precisions = {r["precision"] for r in report["results"]}
    assert "fp32" in precisions and ("int8" in precisions) == ("fernet_int8" in fastfer.models.available())
    assert len(report["results"]) == 2 * len(precisions)
    for r in report["results"]:
        assert set(r) >= {"detector", "classifier", "precision", "min_face", "scene", *bench.MODES}
        a = r["analyze"]
        lat = a["latency_ms"]
        assert lat["samples"] >= bench.MIN_LATENCY_SAMPLES and (lat["p99"] is None) == (lat["samples"] < 100)
        p99 = lat["max"] if lat["p99"] is None else lat["p99"]
        assert 0 < lat["min"] <= lat["p10"] <= lat["p50"] <= lat["p90"] <= p99 <= lat["max"]
        assert lat["min"] <= lat["mean"] <= lat["max"]
        for mode in bench.MODES:
            rate = r[mode]["images_per_s"]
            assert 0 < rate["min"] <= rate["median"] <= rate["max"]
        assert 0.0 <= a["outside_inference_share"] <= 1.0
        assert a["stages_ms"]["detector"] > 0 and a["stages_ms"]["classifier"] > 0
        # No stage's median can exceed the slowest whole call.
        assert all(0 <= v <= lat["max"] * 1.0001 for v in a["stages_ms"].values())
        fer = fastfer.FER(r["detector"], r["classifier"], min_face=r["min_face"])
        expected = [len(fer.analyze(image)) for image in bench.scene_images(r["scene"], one_photo)[0]]
        assert a["faces_per_image"] == pytest.approx(np.mean(expected))
    assert [r["analyze"]["faces_per_image"] for r in report["results"] if r["scene"] == "640x480"][0] == 1


def test_bench_table_and_usage_errors(one_photo, capsys):
    assert (
        main(["bench", "--detectors", "blazeface_short", "--precision", "fp32", "--quick", "--photos", str(one_photo)])
        == 0
    )
    out = capsys.readouterr().out
    assert "blazeface_short" in out and "640x480" in out and "img/s" in out
    for argv, message in [
        (["--scenes", "4k"], "unknown scene"),
        (["--detectors", "nope"], "no model named"),
        (["--detectors", "fernet"], "not a detector"),
        (["--photos", str(one_photo / "missing")], "not a folder"),
    ]:
        assert main(["bench", "--photos", str(one_photo), *argv]) == 2
        assert message in capsys.readouterr().err


def test_pareto_plot_is_a_png_of_every_setting(tmp_path):
    rows = []
    for i, name in enumerate(["a", "b"]):  # the report's shape, as bench.pareto builds it
        ap = {"easy": 0.9 - 0.1 * i, "medium": 0.8, "hard": 0.5 + 0.1 * i}
        rows.append(
            {
                "detector": name,
                "classifier": "fernet",
                "precision": "fp32",
                "min_face": 0,
                "ap": {"official": ap, "min_face": ap, "min_face_eval": 32, "images": 3},
                "ms_640x480": 5.0 * (i + 1),
                "ms_1920x1080": 20.0 * (i + 1),
            }
        )
    report = {"machine": bench.machine(), "repeat": 1, "wider_images": 3, "rows": rows}
    bench.write_pareto_png(report, tmp_path / "p.png")
    image = cv2.imread(str(tmp_path / "p.png"))
    assert image.shape == (640, 960, 3) and (image != 255).any()
    table = bench.format_pareto(report)
    assert table.splitlines()[2].startswith("a ") and "b " in table.splitlines()[3]
    with pytest.raises(ValueError, match="no settings"):
        bench.write_pareto_png({**report, "rows": []}, tmp_path / "q.png")
