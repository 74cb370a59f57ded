"""The package as a whole: metadata, capabilities, backend choice, the command, README and CI."""

from __future__ import annotations

import importlib.metadata
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from _paths import SHIPPED_PHOTO

import fastfer
from fastfer import backend

ROOT = Path(__file__).resolve().parents[1]
PHOTO = SHIPPED_PHOTO  # a photo is all the info command needs
FORCED_PYTHON = os.environ.get("FASTFER_BACKEND", "").strip().lower() == "python"


def run_python(code: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env={**os.environ, **env}, timeout=120
    )


def test_labels_are_the_fer2013_order():
    assert fastfer.LABELS == ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")


def test_versions_agree():
    assert fastfer.__version__ == importlib.metadata.version("fastfer")
    if backend.native is not None:
        assert backend.native.__version__ == fastfer.__version__


def test_capabilities_report_the_backend_in_use():
    caps = fastfer.capabilities()
    assert caps["version"] == fastfer.__version__
    if FORCED_PYTHON:
        assert caps["backend"] == "python" and caps["simd"] is None
        assert "FASTFER_BACKEND=python" in caps["native_error"]
    else:
        # A source install must build the native module; silently falling back would hide it.
        assert caps["backend"] == "native", caps["native_error"]
        assert caps["simd"] in caps["simd_available"]
        assert caps["simd_available"][0] == "scalar"
        assert caps["native_error"] is None


def test_kernels_come_from_the_active_backend():
    from fastfer.backend import kernels

    assert kernels.nms is backend.active.nms
    assert kernels.detector_input is backend.active.detector_input


@pytest.mark.skipif(FORCED_PYTHON, reason="checks the native module's SIMD choice")
def test_fastfer_simd_environment_variable_forces_a_path():
    out = run_python("import fastfer, json; print(json.dumps(fastfer.capabilities()))", FASTFER_SIMD="scalar")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["simd"] == "scalar"


def test_forcing_the_python_backend():
    out = run_python("import fastfer; print(fastfer.capabilities()['backend'])", FASTFER_BACKEND="python")
    assert out.returncode == 0 and out.stdout.strip() == "python", out.stderr


def test_an_unknown_backend_name_is_refused_clearly():
    out = run_python("import fastfer; fastfer.capabilities()", FASTFER_BACKEND="gpu")
    assert out.returncode != 0
    assert "BackendError" in out.stderr and "FASTFER_BACKEND" in out.stderr


def test_info_command_reads_a_photo():
    out = subprocess.run(
        [sys.executable, "-m", "fastfer", "info", str(PHOTO)], capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout[: out.stdout.rindex("}") + 1])["backend"] in ("native", "python")
    # the exact tensor is the default detector's business (tests/test_first_contact.py checks it
    # against Detector's own preprocessing); here: the photo was read and described
    assert "512x512 BGR -> detector input (1, " in out.stdout


def test_info_command_fails_on_an_unreadable_file_and_names_it(tmp_path):
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    out = subprocess.run(
        [sys.executable, "-m", "fastfer", "info", str(bad)], capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 1
    assert "broken.jpg" in out.stderr


def test_readme_starts_with_the_two_commands_and_ci_runs_the_test_one():
    readme = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```sh\n(.*?)\n```", readme, flags=re.S)
    install, tests = blocks[0].strip(), blocks[1].strip()
    assert "pip install ." in install and "fastfer" in install.split("&&")[-1]
    assert "pytest" in tests
    # .ci/run takes the test command from the README through tools/readme_command.py and runs it
    # in a clone with nothing beside it.
    printed = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "readme_command.py"), "test"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout.strip()
    assert printed == tests
    ci = (ROOT / ".ci" / "run").read_text()
    assert "test_command=$(python3 tools/readme_command.py test)" in ci
    assert 'env -u FASTFER_SHARED bash -c "$test_command"' in ci


def test_build_files_stay_portable():
    # No flag tuned to the build machine: SIMD paths are chosen at run time instead.
    tuned = re.compile(r"-m(arch|tune|cpu)=" + "native")
    for path in [ROOT / "CMakeLists.txt", ROOT / "pyproject.toml"]:
        assert not tuned.search(path.read_text()), path
