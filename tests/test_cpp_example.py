"""The C++ API from another CMake project, following examples/cpp/README.md as written: its shell
commands (build the core with plain CMake, `cmake --install` it, build the example against the
installed package with find_package(fastfer), convert the shipped photo, run the example) run in
a scratch folder that mirrors the clone, and the output the README shows is checked against what
the example prints and against Python's FER. Also builds the example in a parent project that
pulls fastfer in with add_subdirectory() (the fastfer::core alias).

The example takes its models' settings from the shipped manifest.json (issue 21): it must find
what fastfer.FER finds with the same models, for every detector family, check each model file's
sha256 before it loads it, and refuse a broken entry with one line naming the key. It builds with
nlohmann/json and OpenSSL's libcrypto from the system (Debian's nlohmann-json3-dev and
libssl-dev, which .ci/run installs); without them every test here skips, saying which is missing."""

from __future__ import annotations

import copy
import functools
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from _child_env import build_tool_env
from _nested import replace_at

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
# What the example's CMakeLists.txt finds besides fastfer, and the Debian package of each: a CMake
# probe with the same find_package calls says which are missing.
DEPENDENCIES = {"nlohmann_json": "nlohmann-json3-dev", "libcrypto": "libssl-dev"}
DEPENDENCY_PROBE = """cmake_minimum_required(VERSION 3.18)
project(probe NONE)
find_package(nlohmann_json 3 QUIET)
find_package(OpenSSL QUIET COMPONENTS Crypto)
if(nlohmann_json_FOUND)
  message(STATUS "found: nlohmann_json")
endif()
if(OpenSSL_Crypto_FOUND)
  message(STATUS "found: libcrypto")
endif()
"""


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


@pytest.fixture(scope="module", autouse=True)
def example_dependencies(tmp_path_factory):
    """Skips the module, naming the packages to install, where CMake finds no nlohmann/json 3 or
    no libcrypto (the example's configure step would stop there). Run when the tests run, not at
    collection: the default suite collects this module too, and needs no cmake run."""
    folder = tmp_path_factory.mktemp("probe")
    (folder / "CMakeLists.txt").write_text(DEPENDENCY_PROBE)
    proc = subprocess.run(
        ["cmake", "-S", str(folder), "-B", str(folder / "build")],
        env=_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    found = set(re.findall(r"found: (\w+)", proc.stdout))
    missing = [name for name in DEPENDENCIES if name not in found]
    if missing:
        packages = " ".join(DEPENDENCIES[name] for name in missing)
        pytest.skip(
            f"the C++ example needs {' and '.join(missing)}, which CMake did not find "
            f"(Debian: apt-get install -y {packages})"
        )


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
    """fastfer.FER with the example's default models and settings on the same photo: the settings
    it reads from the manifest must give what the manifest gives Python. (By default the example
    runs the float32 models on the whole image, as FER(min_face=0) does; FER()'s defaults also
    follow the CPU and min_face=40: test_example_agrees_with_fer runs it with those.)"""
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
    shutil.copy(MODELS / "manifest.json", models)
    (models / "retinaface_mbv2.onnx").symlink_to(MODELS / "retinaface_mbv2.onnx")
    os.mkfifo(models / "fernet.onnx")
    assert "fernet.onnx: is a FIFO, not a regular file" in run(models, astronaut_ppm)


def _faces_of(fer_faces):
    return [
        {"box": tuple(float(v) for v in f.box), "score": float(f.score), "label": f.label, "prob": float(f.probs.max())}
        for f in fer_faces
    ]


# The example prints boxes to 0.1 px and scores and probabilities to 1e-4. On the shipped photo,
# FER on either backend differs from it by that rounding alone in every case below (measured: at
# most 0.05 px, 5e-5). 0.5 px, 1e-3 and 2e-3 leave room for other CPUs' SIMD paths (the Python
# backend's numpy and OpenCV against the C++ kernels), while a setting read wrong shows: fernet's
# crop without its margin moves the probability by 0.02.
BOX_TOLERANCE_PX, SCORE_TOLERANCE, PROB_TOLERANCE = 0.5, 1e-3, 2e-3


def _assert_same_faces(got, want):
    assert len(got) == len(want), (got, want)
    for g, w in zip(got, want):
        assert g["label"] == w["label"], (g, w)
        assert max(abs(a - b) for a, b in zip(g["box"], w["box"])) <= BOX_TOLERANCE_PX, (g, w)
        assert abs(g["score"] - w["score"]) <= SCORE_TOLERANCE, (g, w)
        assert abs(g["prob"] - w["prob"]) <= PROB_TOLERANCE, (g, w)


def _defaults():
    from fastfer.models import DEFAULT_CLASSIFIER, DEFAULT_DETECTOR, DEFAULT_MIN_FACE

    return DEFAULT_DETECTOR, DEFAULT_CLASSIFIER, DEFAULT_MIN_FACE


@pytest.mark.parametrize(
    "detector, classifier, min_face",
    [
        ("yunet", "fernet", 0),  # YuNet: per-step output names
        ("blazeface_short", "fernet", 0),  # BlazeFace: fixed 128x128 letterboxed input, no variances
        ("retinaface_mbv2_int8", "fernet_int8", 0),
        ("blazeface_full", "mini_xception", 0),  # another classifier: 64x64 input
        pytest.param(None, None, None, id="FER()"),  # as it is: the CPU's default models, min_face=40
    ],
)
def test_example_agrees_with_fer(example, astronaut_ppm, ort_library, detector, classifier, min_face):
    """Any model of the manifest: the example, given its names, finds the faces and labels that
    fastfer.FER finds with them on the same photo."""
    import fastfer

    if detector is None:
        detector, classifier, min_face = _defaults()
        want = _faces_of(fastfer.FER().analyze(PHOTO))
    else:
        want = _faces_of(fastfer.FER(detector, classifier, min_face=min_face).analyze(PHOTO))
    options = ["--detector", detector, f"--classifier={classifier}", "--min-face", str(min_face)]
    # The manifest given as a file works as the folder does (its model files lie beside it).
    proc = _run([example, *options, MODELS / "manifest.json", astronaut_ppm, ort_library], timeout=120)
    assert want, "FER finds the astronaut's face with every shipped model"
    _assert_same_faces(_parse(proc.stdout), want)
    assert f"with {detector} + {classifier}" in proc.stderr, proc.stderr


def _models_copy(tmp_path: Path) -> Path:
    """The shipped manifest and model files in a folder of their own, to be broken there."""
    models = tmp_path / "models"
    models.mkdir()
    for path in [MODELS / "manifest.json", *MODELS.glob("*.onnx")]:
        shutil.copy(path, models)
    return models


def _refused(example, models, image, ort_library, *options) -> str:
    """Runs the example expecting a refusal: exit 1, no face printed, one line on stderr."""
    proc = subprocess.run(
        [str(example), *options, str(models), str(image), ort_library], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 1 and proc.stdout == "", (proc.returncode, proc.stdout, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    return lines[0]


def test_example_refuses_model_files_that_differ_from_the_manifest(example, astronaut_ppm, ort_library, tmp_path):
    models = _models_copy(tmp_path)
    fernet = models / "fernet.onnx"
    data = bytearray(fernet.read_bytes())
    data[len(data) // 2] ^= 0xFF  # same size, one byte changed
    fernet.write_bytes(bytes(data))
    line = _refused(example, models, astronaut_ppm, ort_library)
    assert 'model "fernet"' in line and "sha256" in line and "does not match the manifest's" in line, line
    manifest = json.loads((MODELS / "manifest.json").read_text())
    assert manifest["models"]["fernet"]["sha256"] in line
    yunet = models / "yunet.onnx"  # a detector's file cut short: its size already differs
    yunet.write_bytes(yunet.read_bytes()[:1000])
    line = _refused(example, models, astronaut_ppm, ort_library, "--detector", "yunet", "--classifier", "fernet_int8")
    assert 'model "yunet"' in line and "is 1000 bytes, the manifest records" in line, line
    # The other entries of the same copy still load: only the files that changed are refused.
    proc = _run([example, "--classifier", "fernet_int8", models, astronaut_ppm, ort_library], timeout=120)
    assert [face["label"] for face in _parse(proc.stdout)] == ["happy"], proc.stdout


def _set(entry_keys, value):
    """A change to the manifest: the value at models.<keys> replaced (None: the key removed)."""
    return lambda models: replace_at(models, entry_keys, value, remove=value is None)


YUNET = ["--detector", "yunet"]


@pytest.mark.parametrize(
    "change, options, named",
    [
        (_set(["yunet", "decoder", "steps"], None), YUNET, "models.yunet.decoder: missing key 'steps'"),
        (_set(["yunet", "decoder", "steps"], "8"), YUNET, "models.yunet.decoder.steps: expected a list"),
        (_set(["yunet", "decoder", "steps", 1], 16.5), YUNET, "models.yunet.decoder.steps[1]: "),
        (_set(["yunet", "outputs", "kps_16"], None), YUNET, "models.yunet.outputs: missing key 'kps_16'"),
        (_set(["yunet", "decoder", "kind"], "ssd"), YUNET, 'unknown detector kind "ssd"'),
        (_set(["blazeface_short", "input", "size"], [128]), ["--detector", "blazeface_short"], "input.size: must be"),
        (_set(["retinaface_mbv2", "input", "layout"], "chw"), [], "models.retinaface_mbv2.input.layout: must be"),
        (_set(["retinaface_mbv2", "decoder", "variances"], [0.1]), [], "models.retinaface_mbv2.decoder.variances"),
        (_set(["fernet", "labels", 2], 3), [], "models.fernet.labels[2]: expected a string, got number 3"),
        (_set(["fernet", "crop", "square"], "yes"), [], "models.fernet.crop.square: expected true or false"),
        (_set(["fernet", "decoder"], {"activation": 1}), [], "models.fernet.decoder.activation: expected a string"),
        (_set(["fernet", "input", "mean"], [1, 2]), [], "models.fernet.input.mean: expected 1 value, got 2"),
        (_set(["fernet", "sha256"], "abc"), [], "models.fernet.sha256: must be 64 hex digits"),
        (_set(["fernet", "file"], "../fernet.onnx"), [], "models.fernet.file: must be a file name"),
        (_set(["fernet", "task"], None), [], "models.fernet: missing key 'task'"),
        (lambda models: None, ["--detector", "fernet"], 'models.fernet.task: "fernet" is a classifier, not a detector'),
        (lambda models: None, ["--classifier", "nope"], 'no model "nope" (its classifiers: '),
    ],
)
def test_example_refuses_broken_manifest_entries(example, astronaut_ppm, ort_library, tmp_path, change, options, named):
    """A missing key or a value of the wrong type or range stops the example before any model
    loads, with one line that names the file and the key."""
    manifest = json.loads((MODELS / "manifest.json").read_text())
    broken = copy.deepcopy(manifest)
    change(broken["models"])
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps(broken))
    line = _refused(example, path, astronaut_ppm, ort_library, *options)
    assert f"{path}: " in line and named in line, line


def test_example_refuses_manifests_that_are_not_one(example, astronaut_ppm, ort_library, tmp_path):
    path = tmp_path / "manifest.json"
    path.write_text('{"format": 1, "models": {')
    assert "not valid JSON" in _refused(example, path, astronaut_ppm, ort_library)
    path.write_text('{"format": 2, "models": {}}')
    assert f"{path}: format: this program reads format 1" in _refused(example, path, astronaut_ppm, ort_library)
    path.write_text("[]")
    assert "expected an object, got array" in _refused(example, path, astronaut_ppm, ort_library)
    empty = tmp_path / "empty"  # a folder without manifest.json
    empty.mkdir()
    assert f"cannot open {empty}/manifest.json" in _refused(example, empty, astronaut_ppm, ort_library)


def test_example_options(example):
    help_run = subprocess.run([str(example), "--help"], capture_output=True, text=True, timeout=60)
    assert help_run.returncode == 0 and "--detector" in help_run.stdout and "--min-face" in help_run.stdout
    for bad in (
        ["--colour", "x", "m", "i.ppm"],
        ["--min-face", "-1", "m", "i.ppm"],
        ["--min-face=ten", "m", "i.ppm"],
        ["m", "i.ppm", "--detector"],
    ):
        proc = subprocess.run([str(example), *bad], capture_output=True, text=True, timeout=60)
        assert proc.returncode == 2 and "usage:" in proc.stderr, (bad, proc.stderr)
        assert proc.stderr.startswith("error: "), (bad, proc.stderr)
