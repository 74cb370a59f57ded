"""The C++ API from another CMake project: build the core with plain CMake, `cmake --install` it,
build examples/cpp against the installed package with find_package(fastfer), and run the example
(fastfer::Session + fastfer::Pipeline) on the astronaut photo. Also builds the example in a parent
project that pulls fastfer in with add_subdirectory() (the fastfer::core alias)."""

from __future__ import annotations

import functools
import glob
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from _paths import PHOTOS

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "cpp"
MODELS = ROOT / "python" / "fastfer" / "models"
PHOTO = PHOTOS / "astronaut.jpg"
# The Python pipeline's face on this photo (x1, y1, x2, y2).
EXPECTED_BOX = (178, 60, 270, 181)


def _skip_reason():
    if os.environ.get("FASTFER_SKIP_CPP_BUILD_TESTS", "").strip() not in ("", "0"):
        return "FASTFER_SKIP_CPP_BUILD_TESTS is set"
    if shutil.which("cmake") is None:
        return "cmake not found"
    if not any(shutil.which(c) for c in (os.environ.get("CXX", ""), "c++", "g++", "clang++") if c):
        return "no C++ compiler (c++, g++, clang++ or $CXX) found"
    ort_dir = os.environ.get("FASTFER_ORT_INCLUDE_DIR", "").strip() or str(ROOT / "third_party" / "onnxruntime" / "include")
    if not os.path.isfile(os.path.join(ort_dir, "onnxruntime_c_api.h")):
        return (f"no ONNX Runtime C API header in {ort_dir} (run tools/fetch_onnxruntime_headers.sh): "
                "fastfer::Session and fastfer::Pipeline are not built without it")
    cmake_lists = (ROOT / "CMakeLists.txt").read_text()
    if not (ROOT / "cpp" / "src" / "pipeline.cpp").is_file() or "cpp/src/pipeline.cpp" not in cmake_lists:
        return "fastfer::Pipeline is not built (cpp/src/pipeline.cpp missing or not in CMakeLists.txt)"
    return None


_reason = _skip_reason()
pytestmark = pytest.mark.skipif(_reason is not None, reason=_reason or "")


def _run(cmd, **kwargs):
    proc = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, **kwargs)
    if proc.returncode != 0:
        pytest.fail(f"{' '.join(map(str, cmd))} failed ({proc.returncode}):\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}")
    return proc


def _env():
    env = dict(os.environ)
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


@pytest.fixture(scope="module")
def ort_library():
    onnxruntime = pytest.importorskip("onnxruntime")
    found = sorted(glob.glob(os.path.join(os.path.dirname(onnxruntime.__file__), "capi", "libonnxruntime.so*")))
    if not found:
        pytest.skip("the installed onnxruntime package has no capi/libonnxruntime.so*")
    return found[0]


@pytest.fixture(scope="module")
def astronaut_ppm(tmp_path_factory):
    cv2 = pytest.importorskip("cv2")
    if not PHOTO.is_file():
        pytest.skip(f"{PHOTO} not found")
    image = cv2.imread(str(PHOTO))
    assert image is not None
    out = tmp_path_factory.mktemp("img") / "astronaut.ppm"
    assert cv2.imwrite(str(out), image)  # binary P6
    return out


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """The core built with plain CMake (Release) and installed into a prefix."""
    tmp = tmp_path_factory.mktemp("fastfer_cmake")
    build, prefix = tmp / "build", tmp / "prefix"
    env = _env()
    _run(["cmake", "-S", ROOT, "-B", build, "-DCMAKE_BUILD_TYPE=Release"], env=env)
    _run(["cmake", "--build", build, "-j2"], env=env)
    _run(["cmake", "--install", build, "--prefix", prefix], env=env)
    return prefix


@pytest.fixture(scope="module")
def example(installed, tmp_path_factory):
    """examples/cpp built against the installed package (find_package(fastfer))."""
    build = tmp_path_factory.mktemp("example_build")
    env = _env()
    _run(["cmake", "-S", EXAMPLE, "-B", build, "-DCMAKE_BUILD_TYPE=Release", f"-DCMAKE_PREFIX_PATH={installed}"], env=env)
    _run(["cmake", "--build", build, "-j2"], env=env)
    return _executable(build)


def _parse(stdout: str):
    faces = []
    for line in stdout.splitlines():
        fields = dict(item.split("=", 1) for item in line.split())
        faces.append({
            "box": tuple(float(v) for v in fields["box"].split(",")),
            "score": float(fields["score"]),
            "label": fields["label"],
            "prob": float(fields["prob"]),
        })
    return faces


@functools.lru_cache(maxsize=None)  # one FER for the three tests that compare with it
def _python_astronaut():
    """fastfer.FER's default models on the same photo: the example's hard-coded settings must give
    what the manifest gives Python."""
    import fastfer

    (face,) = fastfer.FER().analyze(PHOTO)
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
        f'add_subdirectory("{EXAMPLE.as_posix()}" example)\n')
    build = tmp_path / "build"
    env = _env()
    _run(["cmake", "-S", parent, "-B", build, "-DCMAKE_BUILD_TYPE=Release"], env=env)
    _run(["cmake", "--build", build, "-j2"], env=env)
    # No install rules under add_subdirectory() unless the parent asks for them.
    assert "fastferTargets" not in (build / "fastfer" / "cmake_install.cmake").read_text()
    proc = _run([_executable(build), MODELS, astronaut_ppm, ort_library], timeout=120)
    _check_astronaut(proc.stdout)

