"""Builds fastfer's native module with AddressSanitizer + UndefinedBehaviorSanitizer, apart from the
installed one, and says how to run Python on it.

    python tests/fuzz/sanitize.py          # build (or bring up to date), print the folder

The build lives in ``build/sanitize`` (ignored by git): CMake with ``-DFASTFER_SANITIZE=
address,undefined``, the module ``_core`` and the static core library (which the PPM harness of
the fuzzer links). ``build/sanitize/site/fastfer`` is the package as the checkout has it (each
file a symbolic link, so edits show) with the sanitized ``_core`` inside; :func:`environment`
puts that folder first on the path and preloads libasan and libstdc++ (Python itself is not
instrumented, so the ASan runtime must be loaded before anything else). The installed package and the shared virtual
environment are never touched.

Used by tests/test_sanitizers.py (the test suite under the sanitizers) and tests/fuzz/run.py.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path
from typing import Optional

ROOT = Path(__file__).resolve().parents[2]
BUILD = ROOT / "build" / "sanitize"
SITE = BUILD / "site"
SANITIZERS = "address,undefined"
# ASan: no leak report (CPython and ONNX Runtime keep memory until exit on purpose); stop at the
# first error. UBSan: a stack trace, and an error ends the process (-fno-sanitize-recover too).
ASAN_OPTIONS = "detect_leaks=0:halt_on_error=1:abort_on_error=0:allocator_may_return_null=1"
UBSAN_OPTIONS = "print_stacktrace=1:halt_on_error=1"


def _compiler() -> Optional[str]:
    return shutil.which(os.environ.get("CXX", "g++")) or shutil.which("c++")


def runtime_library(name: str) -> Optional[str]:
    """The compiler's shared sanitizer runtime (libasan.so / libubsan.so), or None."""
    cxx = _compiler()
    if cxx is None:
        return None
    try:
        path = subprocess.run(
            [cxx, f"-print-file-name={name}"], capture_output=True, text=True, timeout=60
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return os.path.realpath(path) if path and os.path.isabs(path) and os.path.exists(path) else None


def unavailable() -> Optional[str]:
    """Why a sanitized build cannot be made here (None when it can)."""
    if not sys.platform.startswith("linux"):
        return "sanitized builds are set up for Linux only"
    if _compiler() is None:
        return "no C++ compiler (g++) on PATH"
    for lib in ("libasan.so", "libubsan.so", "libstdc++.so"):
        if runtime_library(lib) is None:
            return f"the compiler has no {lib} (install libasan/libubsan, e.g. Debian's g++)"
    for tool in ("cmake", "ninja"):
        if shutil.which(tool) is None:
            return f"{tool} is not on PATH (pip install {tool})"
    try:
        import pybind11  # noqa: F401
    except ImportError:
        return "pybind11 is not installed (pip install pybind11)"
    return None


def _module_file() -> Path:
    return BUILD / f"_core{sysconfig.get_config_var('EXT_SUFFIX')}"


def build(jobs: int = 2) -> Path:
    """Configures and builds (incrementally) the sanitized module and core library; stages the
    package. Returns SITE. Several processes may call it: a file lock serialises them."""
    reason = unavailable()
    if reason:
        raise RuntimeError(f"cannot build with sanitizers: {reason}")
    import pybind11

    BUILD.mkdir(parents=True, exist_ok=True)
    with open(BUILD / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        version = next(
            line.split('"')[1]
            for line in (ROOT / "python" / "fastfer" / "_version.py").read_text().splitlines()
            if line.startswith("__version__")
        )
        if not (BUILD / "CMakeCache.txt").exists():
            _run(
                [
                    "cmake",
                    "-S",
                    str(ROOT),
                    "-B",
                    str(BUILD),
                    "-G",
                    "Ninja",
                    "-DCMAKE_BUILD_TYPE=RelWithDebInfo",
                    f"-DFASTFER_SANITIZE={SANITIZERS}",
                    "-DSKBUILD=ON",
                    f"-DSKBUILD_PROJECT_VERSION={version}",
                    f"-DPython_EXECUTABLE={sys.executable}",
                    f"-Dpybind11_DIR={pybind11.get_cmake_dir()}",
                    f"-DCMAKE_LIBRARY_OUTPUT_DIRECTORY={BUILD}",
                ]
            )
        _run(["cmake", "--build", str(BUILD), "--target", "_core", "fastfer_core", "-j", str(jobs)])
        _stage()
    return SITE


def _run(command: list) -> None:
    out = subprocess.run(command, capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(f"{' '.join(command[:3])} failed:\n{out.stdout[-4000:]}\n{out.stderr[-4000:]}")


def _stage() -> None:
    """SITE/fastfer: a link to each entry of python/fastfer, and the sanitized _core."""
    package = SITE / "fastfer"
    package.mkdir(parents=True, exist_ok=True)
    source = ROOT / "python" / "fastfer"
    for old in package.iterdir():
        if old.is_symlink() or old.is_file():
            old.unlink()
    for entry in source.iterdir():
        if entry.name.startswith("_core") or entry.name == "__pycache__":
            continue
        (package / entry.name).symlink_to(entry)
    module = _module_file()
    if not module.exists():
        raise RuntimeError(f"the sanitized build made no {module.name} in {BUILD}")
    shutil.copy2(module, package / module.name)


def core_library() -> Path:
    """The sanitized static core library (for harnesses that link the C++ API)."""
    return BUILD / "libfastfer_core.a"


def environment(base: Optional[dict] = None) -> dict:
    """Environment for a Python process that imports the sanitized fastfer: SITE first on the
    path (ahead of an installed or editable fastfer; see python_command), libasan preloaded."""
    env = dict(os.environ if base is None else base)
    # libstdc++ too: ASan finds the real __cxa_throw when it starts, and Python does not load
    # libstdc++ by itself, so without it the first C++ exception aborts in ASan's interceptor.
    preload = [runtime_library("libasan.so"), runtime_library("libstdc++.so"), env.get("LD_PRELOAD")]
    env["LD_PRELOAD"] = ":".join(filter(None, preload))
    env["ASAN_OPTIONS"] = ASAN_OPTIONS
    env["UBSAN_OPTIONS"] = UBSAN_OPTIONS
    env["FASTFER_SANITIZED"] = SANITIZERS
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(SITE), env.get("PYTHONPATH")]))
    return env


def python_command() -> list:
    """The interpreter, without site's .pth hooks (an editable install redirects ``import
    fastfer`` to the checkout whatever the path says) but with the environment's packages."""
    purelib, platlib = sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]
    prelude = (
        f"import sys; sys.path[:0] = [{str(SITE)!r}]; "
        f"sys.path += [p for p in ({purelib!r}, {platlib!r}) if p not in sys.path]; "
    )
    return [sys.executable, "-S", "-c", prelude]


def check_imported(env: dict) -> str:
    """Imports fastfer in the sanitized set-up; returns where _core came from (raises if it is
    not the sanitized one)."""
    code = python_command()
    code[-1] += "import fastfer._core as c, fastfer; print(c.__file__)"
    out = subprocess.run(code, env=env, capture_output=True, text=True, timeout=300)
    if out.returncode != 0 or not out.stdout.strip().startswith(str(SITE)):
        raise RuntimeError(f"the sanitized fastfer did not import: {out.stdout}\n{out.stderr[-3000:]}")
    return out.stdout.strip()


if __name__ == "__main__":
    print(build())
    print(check_imported(environment()))
