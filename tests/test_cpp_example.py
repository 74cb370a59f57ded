"""The C++ API from another CMake project, following examples/cpp/README.md as written: its shell
commands (build the core with plain CMake, `cmake --install` it, build the example against the
installed package with find_package(fastfer), convert the shipped photo, run the example) run in
a scratch folder that mirrors the clone, and the output the README shows is checked against what
the example prints and against Python's FER. Also builds the example in a parent project that
pulls fastfer in with add_subdirectory() (the fastfer::core alias)."""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from _child_env import build_tool_env

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "cpp"
README = EXAMPLE / "README.md"
MODELS = ROOT / "python" / "fastfer" / "models"
PHOTO = ROOT / "python" / "fastfer" / "data" / "astronaut.jpg"  # shipped: no ../shared needed
# The Python pipeline's face on this photo (x1, y1, x2, y2).
EXPECTED_BOX = (178, 60, 270, 181)
# What the README's commands read from the clone (mirrored by symbolic links, so what they write
# lands in the scratch folder, never in the checkout).
CLONE_ENTRIES = ("CMakeLists.txt", "cmake", "cpp", "tools", "examples", "python", "third_party")
OUTPUT_MARK = "@@ output of the last README command @@"  # echoed in single quotes: no quote in it


def _skip_reason():
    if os.environ.get("FASTFER_SKIP_CPP_BUILD_TESTS", "").strip() not in ("", "0"):
        return "FASTFER_SKIP_CPP_BUILD_TESTS is set"
    for tool in ("cmake", "bash"):
        if shutil.which(tool) is None:
            return f"{tool} not found"
    if not any(shutil.which(c) for c in (os.environ.get("CXX", ""), "c++", "g++", "clang++") if c):
        return "no C++ compiler (c++, g++, clang++ or $CXX) found"
    return None


_reason = _skip_reason()
# Extended suite (CONTRIBUTING.md): it builds and installs the C++ library and an example (about a minute).
pytestmark = [pytest.mark.extended, pytest.mark.skipif(_reason is not None, reason=_reason or "")]


def _run(cmd, **kwargs):
    proc = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, **kwargs)
    if proc.returncode != 0:
        command = " ".join(map(str, cmd))
        pytest.fail(f"{command} failed ({proc.returncode}):\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}")
    return proc


def _env():
    env = build_tool_env()
    # A clean plain-CMake build: nothing from a surrounding scikit-build or prefix path leaks in.
    for key in ("CMAKE_PREFIX_PATH", "SKBUILD", "CMAKE_ARGS"):
        env.pop(key, None)
    env.setdefault("CMAKE_BUILD_PARALLEL_LEVEL", "2")
    return env


def _executable(build_dir: Path) -> Path:
    for name in ("analyze_image", "analyze_image.exe"):
        found = sorted(build_dir.rglob(name))
        found = [p for p in found if p.is_file()]
        if found:
            return found[0]
    pytest.fail(f"no analyze_image built under {build_dir}")


def _readme_blocks():
    """The README's shell blocks (each a list of commands) and the output block after the last."""
    text = README.read_text()
    blocks = [(m.group(1), m.group(2), m.end()) for m in re.finditer(r"```(\w*)\n(.*?)```", text, flags=re.S)]
    shell = [[line for line in body.splitlines() if line.strip()] for lang, body, _ in blocks if lang == "sh"]
    last_sh = max(i for i, (lang, _, _) in enumerate(blocks) if lang == "sh")
    shown = blocks[last_sh + 1][1]
    return shell, shown


@pytest.fixture(scope="module")
def readme_steps(tmp_path_factory):
    """Runs examples/cpp/README.md's commands as written, from a folder that looks like the clone
    (its own $HOME for the install prefix, this Python first on PATH); returns what they made."""
    (build_lib, run_example), shown = _readme_blocks()
    clone = tmp_path_factory.mktemp("clone")
    for name in CLONE_ENTRIES:
        if (ROOT / name).exists():
            (clone / name).symlink_to(ROOT / name)
    env = _env()
    env["HOME"] = str(clone / "home")
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "")

    def bash(commands):
        script = "set -euo pipefail\n" + "\n".join(commands[:-1]) + f"\necho '{OUTPUT_MARK}'\n" + commands[-1] + "\n"
        proc = subprocess.run(["bash", "-c", script], cwd=clone, env=env, capture_output=True, text=True, timeout=1800)
        if proc.returncode != 0:
            pytest.fail(
                f"README step failed ({proc.returncode}):\n{script}\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
            )
        return proc.stdout

    before = bash(build_lib)
    prefix = clone / "home" / ".local" / "fastfer"
    configs = list(prefix.rglob("fastferConfig.cmake"))
    if configs and "set(fastfer_HAVE_ORT OFF)" in configs[0].read_text():
        line = next((out for out in before.splitlines() if "fastfer: native ONNX Runtime session" in out), "")
        pytest.skip(f"fastfer::Session/Pipeline not built here: {line.strip() or 'no ONNX Runtime C API header'}")
    output = bash(run_example).split(OUTPUT_MARK, 1)[1].strip()
    return {
        "prefix": prefix,
        "example": _executable(clone / "build-example"),
        "ppm": clone / "astronaut.ppm",
        "output": output,
        "shown": shown,
    }


@pytest.fixture(scope="module")
def installed(readme_steps):
    return readme_steps["prefix"]


@pytest.fixture(scope="module")
def example(readme_steps):
    return readme_steps["example"]


@pytest.fixture(scope="module")
def astronaut_ppm(readme_steps):
    return readme_steps["ppm"]


@pytest.fixture(scope="module")
def ort_library():
    from fastfer.backend.runtime import onnxruntime_library

    found = onnxruntime_library()
    if found is None:
        pytest.skip("the installed onnxruntime package has no libonnxruntime")
    return found


def _parse(stdout: str):
    faces = []
    for line in stdout.splitlines():
        fields = dict(item.split("=", 1) for item in line.split())
        faces.append(
            {
                "box": tuple(float(v) for v in fields["box"].split(",")),
                "score": float(fields["score"]),
                "label": fields["label"],
                "prob": float(fields["prob"]),
            }
        )
    return faces


@functools.lru_cache(maxsize=None)  # one FER for the three tests that compare with it
def _python_astronaut():
    """fastfer.FER with the example's models and settings on the same photo: its hard-coded
    settings must give what the manifest gives Python. (The example runs the float32 models on the
    whole image, as FER(min_face=0) does; FER()'s defaults also follow the CPU and min_face=40.)"""
    import fastfer

    (face,) = fastfer.FER("retinaface_mbv2", "fernet", min_face=0).analyze(PHOTO)
    return face


def _check_astronaut(stdout: str):
    faces = _parse(stdout)
    assert len(faces) == 1, stdout
    face = faces[0]
    assert face["label"] == "happy", stdout
    assert 0.5 <= face["score"] <= 1.0 and 0.0 < face["prob"] <= 1.0, stdout
    for got, want in zip(face["box"], EXPECTED_BOX):
        assert abs(got - want) <= 3, (face["box"], EXPECTED_BOX)
    reference = _python_astronaut()
    assert face["label"] == reference.label
    assert abs(face["prob"] - float(reference.probs.max())) <= 2e-3, (face["prob"], reference.probs.max())


def test_the_readme_steps_print_what_the_readme_shows(readme_steps):
    _check_astronaut(readme_steps["output"])  # the example as the README runs it
    (got,), (shown,) = _parse(readme_steps["output"]), _parse(readme_steps["shown"])
    assert got["label"] == shown["label"], (readme_steps["output"], readme_steps["shown"])
    assert max(abs(a - b) for a, b in zip(got["box"], shown["box"])) <= 1.0, (got, shown)
    assert abs(got["score"] - shown["score"]) <= 1e-3 and abs(got["prob"] - shown["prob"]) <= 2e-3, (got, shown)


def test_install_layout(installed):
    for header in ("session.h", "pipeline.h", "image.h", "detector_input.h", "face_input.h"):
        assert (installed / "include" / "fastfer" / header).is_file(), header
    libs = [p for p in installed.rglob("libfastfer_core.a")]
    assert libs, "libfastfer_core.a not installed"
    configs = list(installed.rglob("fastferConfig.cmake"))
    assert len(configs) == 1
    cmake_dir = configs[0].parent
    for name in ("fastferConfigVersion.cmake", "fastferTargets.cmake"):
        assert (cmake_dir / name).is_file(), name
    text = configs[0].read_text()
    assert "set(fastfer_HAVE_ORT ON)" in text


def test_example_on_astronaut(example, astronaut_ppm, ort_library):
    proc = _run([example, MODELS, astronaut_ppm, ort_library], timeout=120)
    _check_astronaut(proc.stdout)


def test_example_library_from_environment(example, astronaut_ppm, ort_library):
    env = dict(os.environ, FASTFER_ONNXRUNTIME_LIBRARY=ort_library)
    proc = _run([example, MODELS, astronaut_ppm], env=env, timeout=120)
    _check_astronaut(proc.stdout)


def test_example_errors(example, tmp_path, ort_library):
    usage = subprocess.run([str(example)], capture_output=True, text=True)
    assert usage.returncode == 2 and "usage:" in usage.stderr
    env = {k: v for k, v in os.environ.items() if k != "FASTFER_ONNXRUNTIME_LIBRARY"}
    nolib = subprocess.run([str(example), str(MODELS), "x.ppm"], capture_output=True, text=True, env=env)
    assert nolib.returncode == 2 and "FASTFER_ONNXRUNTIME_LIBRARY" in nolib.stderr
    bad = tmp_path / "bad.ppm"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n")
    proc = subprocess.run([str(example), str(MODELS), str(bad), ort_library], capture_output=True, text=True)
    assert proc.returncode == 1 and "P6" in proc.stderr, proc.stderr


def test_add_subdirectory(tmp_path, astronaut_ppm, ort_library):
    """A parent project using add_subdirectory(fastfer) + the fastfer::core alias."""
    parent = tmp_path / "parent"
    parent.mkdir()
    (parent / "CMakeLists.txt").write_text(
        "cmake_minimum_required(VERSION 3.18)\n"
        "project(parent LANGUAGES CXX)\n"
        f'add_subdirectory("{ROOT.as_posix()}" fastfer)\n'
        f'add_subdirectory("{EXAMPLE.as_posix()}" example)\n'
    )
    build = tmp_path / "build"
    env = _env()
    _run(["cmake", "-S", parent, "-B", build, "-DCMAKE_BUILD_TYPE=Release"], env=env, timeout=600)
    _run(["cmake", "--build", build, "-j2"], env=env, timeout=1800)
    # No install rules under add_subdirectory() unless the parent asks for them.
    assert "fastferTargets" not in (build / "fastfer" / "cmake_install.cmake").read_text()
    proc = _run([_executable(build), MODELS, astronaut_ppm, ort_library], timeout=120)
    _check_astronaut(proc.stdout)


def test_example_refuses_hostile_paths_without_reading_them(example, astronaut_ppm, ort_library, tmp_path):
    """Issue 13: the example reads regular files only, up to a size limit, and holds images to a
    pixel cap: devices, FIFOs, huge sparse files and oversized headers fail fast with a message."""

    def run(models_dir, image):
        proc = subprocess.run(
            [str(example), str(models_dir), str(image), ort_library], capture_output=True, text=True, timeout=120
        )
        assert proc.returncode == 1, (proc.returncode, proc.stdout, proc.stderr)
        return proc.stderr

    fifo = tmp_path / "pipe.ppm"
    os.mkfifo(fifo)
    assert "is a FIFO, not a regular file" in run(MODELS, fifo)
    if os.path.exists("/dev/zero"):
        assert "is a character device, not a regular file" in run(MODELS, "/dev/zero")
    sparse = tmp_path / "huge.ppm"
    with open(sparse, "wb") as file:
        file.write(b"P6\n1 1\n255\n")
        file.truncate(8 << 30)  # no blocks written
    assert "more than the limit" in run(MODELS, sparse)
    oversized = tmp_path / "oversized.ppm"
    oversized.write_bytes(b"P6\n20000 20000\n255\n" + bytes(64))
    assert "more than the cap of 100000000 pixels" in run(MODELS, oversized)
    models = tmp_path / "models"  # the classifier's model file replaced by a FIFO
    models.mkdir()
    (models / "retinaface_mbv2.onnx").symlink_to(MODELS / "retinaface_mbv2.onnx")
    os.mkfifo(models / "fernet.onnx")
    assert "fernet.onnx: is a FIFO, not a regular file" in run(models, astronaut_ppm)
