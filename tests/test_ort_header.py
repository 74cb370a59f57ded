"""How the build gets ONNX Runtime's C API header (cmake/FastferOnnxRuntimeHeader.cmake): a folder
given explicitly, the system, Debian's package through apt-get, or the pinned download checked by
sha256; and the one line it prints when there is none. Each test runs CMake's configure step only,
on a copy of the build files without third_party/, so what the checkout already fetched cannot
answer for the step under test."""

from __future__ import annotations

import hashlib
import io
import os
import re
import shutil
import subprocess
import tarfile
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from _child_env import build_tool_env

ROOT = Path(__file__).resolve().parents[1]
MODULE = ROOT / "cmake" / "FastferOnnxRuntimeHeader.cmake"

pytestmark = pytest.mark.skipif(
    shutil.which("cmake") is None or not any(shutil.which(c) for c in ("c++", "g++", "clang++")),
    reason="cmake or a C++ compiler not found",
)

HEADER_LINE = re.compile(r"^(?:-- )?fastfer: native ONNX Runtime session (ON|OFF)\b.*$", re.M)


@pytest.fixture(scope="module")
def source(tmp_path_factory) -> Path:
    """The files CMake's configure step reads, without third_party/."""
    dest = tmp_path_factory.mktemp("src")
    for name in ("cpp", "cmake", "tools"):
        shutil.copytree(ROOT / name, dest / name)
    shutil.copy(ROOT / "CMakeLists.txt", dest)
    (dest / "python" / "fastfer").mkdir(parents=True)
    shutil.copy(ROOT / "python" / "fastfer" / "_version.py", dest / "python" / "fastfer")
    return dest


def configure(source: Path, build: Path, *defines: str, path_prefix: str = "") -> tuple:
    """Runs cmake's configure step; returns (ON/OFF, the fastfer line, all output)."""
    env = {
        k: v
        for k, v in build_tool_env().items()
        if k not in ("FASTFER_ORT_INCLUDE_DIR", "FASTFER_ORT_FETCH", "CMAKE_ARGS", "SKBUILD", "CONDA_PREFIX")
    }
    if path_prefix:
        env["PATH"] = path_prefix + os.pathsep + env.get("PATH", "")
    proc = subprocess.run(
        ["cmake", "-S", str(source), "-B", str(build), *defines], capture_output=True, text=True, env=env, timeout=600
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output
    lines = HEADER_LINE.findall(output)
    assert len(lines) == 1, output  # one line, ON or OFF, whatever happened
    (line,) = [m.group(0) for m in HEADER_LINE.finditer(output)]
    return lines[0], line, output


def fake_header(folder: Path, api_version: int) -> Path:
    """Configure only reads the header's version line (nothing is compiled here)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "onnxruntime_c_api.h").write_text(f"#pragma once\n#define ORT_API_VERSION {api_version}\n")
    return folder


def ar_archive(members: dict) -> bytes:
    """A Unix ar archive, the container format of a .deb."""
    out = io.BytesIO()
    out.write(b"!<arch>\n")
    for name, data in members.items():
        out.write(f"{name:<16}{0:<12}{0:<6}{0:<6}{'100644':<8}{len(data):<10}`\n".encode())
        out.write(data + (b"\n" if len(data) % 2 else b""))
    return out.getvalue()


def tar_xz(files: dict) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:xz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def fake_deb(path: Path, header: bytes) -> str:
    """A .deb laid out like Debian's libonnxruntime-dev; returns its sha256."""
    data = tar_xz(
        {
            "./usr/include/onnxruntime/onnxruntime_c_api.h": header,
            "./usr/share/doc/libonnxruntime-dev/copyright": b"MIT, as Debian records it\n",
        }
    )
    path.write_bytes(
        ar_archive(
            {"debian-binary": b"2.0\n", "control.tar.xz": tar_xz({"./control": b"Package: x\n"}), "data.tar.xz": data}
        )
    )
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_folder_given_explicitly_is_used(source, tmp_path):
    given = fake_header(tmp_path / "ort", 21)
    state, line, _ = configure(source, tmp_path / "b", f"-DFASTFER_ORT_INCLUDE_DIR={given}")
    assert state == "ON" and str(given) in line and "ORT_API_VERSION 21" in line


def test_a_given_folder_without_the_header_is_reported_not_replaced(source, tmp_path):
    (tmp_path / "empty").mkdir()
    state, line, _ = configure(
        source,
        tmp_path / "b",
        f"-DFASTFER_ORT_INCLUDE_DIR={tmp_path / 'empty'}",
        "-DFASTFER_ORT_FETCH=download",
        "-DFASTFER_ORT_DEB_URL=file:///nonexistent.deb",
    )
    assert state == "OFF"
    assert f"no onnxruntime_c_api.h in {tmp_path / 'empty'}" in line and "FASTFER_ORT_INCLUDE_DIR" in line
    assert "download" not in line  # nothing else was tried


def test_a_header_older_than_the_c_api_fastfer_uses_is_refused(source, tmp_path):
    old = fake_header(tmp_path / "old", 20)
    state, line, _ = configure(source, tmp_path / "b", f"-DFASTFER_ORT_INCLUDE_DIR={old}")
    assert state == "OFF" and "ORT_API_VERSION 20" in line and ">= 21" in line


def test_without_fetching_the_build_says_in_one_line_why_it_has_no_header(source, tmp_path):
    state, line, output = configure(source, tmp_path / "b", "-DFASTFER_ORT_FETCH=OFF")
    if state == "ON":
        pytest.skip(f"this machine has the header in its include folders: {line}")
    assert "onnxruntime's Python API" in line and "FASTFER_ORT_FETCH" in line and "FASTFER_ORT_INCLUDE_DIR" in line
    assert "CMake Error" not in output


def test_the_download_step_unpacks_the_deb_after_checking_its_sha256(source, tmp_path):
    header = b"#pragma once\n#define ORT_API_VERSION 21\n/* from the pinned .deb */\n"
    deb = tmp_path / "libonnxruntime-dev.deb"
    sha256 = fake_deb(deb, header)
    build = tmp_path / "b"
    state, line, _ = configure(
        source,
        build,
        "-DFASTFER_ORT_FETCH=download",
        f"-DFASTFER_ORT_DEB_URL={deb.as_uri()}",
        f"-DFASTFER_ORT_DEB_SHA256={sha256}",
    )
    if "the system" in line:
        pytest.skip(f"this machine has the header in its include folders: {line}")
    assert state == "ON" and "sha256 checked" in line, line
    fetched = build / "onnxruntime-header"
    assert (fetched / "include" / "onnxruntime_c_api.h").read_bytes() == header
    assert (fetched / "COPYRIGHT.debian").is_file()
    # A second configure uses what the first fetched, without downloading again.
    deb.unlink()
    state, line, _ = configure(source, build)
    assert state == "ON" and "fetched earlier" in line


def test_a_download_whose_sha256_differs_is_refused(source, tmp_path):
    deb = tmp_path / "libonnxruntime-dev.deb"
    sha256 = fake_deb(deb, b"#define ORT_API_VERSION 21\n")
    wrong = "0" * 64
    state, line, _ = configure(
        source,
        tmp_path / "b",
        "-DFASTFER_ORT_FETCH=download",
        f"-DFASTFER_ORT_DEB_URL={deb.as_uri()}",
        f"-DFASTFER_ORT_DEB_SHA256={wrong}",
    )
    if "the system" in line:
        pytest.skip(f"this machine has the header in its include folders: {line}")
    assert state == "OFF" and f"sha256 {sha256}, expected {wrong}" in line
    assert not (tmp_path / "b" / "onnxruntime-header" / "include").exists()


@pytest.mark.skipif(shutil.which("bash") is None or shutil.which("dpkg") is None, reason="needs bash and dpkg")
def test_a_failing_apt_get_is_reported_with_its_own_message(source, tmp_path):
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "apt-get").write_text("#!/bin/sh\necho 'E: Could not resolve deb.debian.org' >&2\nexit 100\n")
    (fake / "apt-get").chmod(0o755)
    state, line, _ = configure(source, tmp_path / "b", "-DFASTFER_ORT_FETCH=apt", path_prefix=str(fake))
    if "the system" in line:
        pytest.skip(f"this machine has the header in its include folders: {line}")
    assert state == "OFF" and "apt-get" in line and "Could not resolve deb.debian.org" in line


def test_the_pinned_url_serves_the_pinned_deb():
    text = MODULE.read_text()
    url = re.search(r'set\(FASTFER_ORT_DEB_URL\s+"([^"]+)"', text).group(1)
    sha256 = re.search(r'set\(FASTFER_ORT_DEB_SHA256 "([0-9a-f]{64})"', text).group(1)
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            data = response.read()
    except (urllib.error.URLError, OSError) as error:
        pytest.skip(f"cannot reach {url}: {error}")
    assert hashlib.sha256(data).hexdigest() == sha256


def test_the_fetch_script_refuses_an_unknown_argument():
    if shutil.which("bash") is None:
        pytest.skip("needs bash")
    proc = subprocess.run(
        ["bash", str(ROOT / "tools" / "fetch_onnxruntime_headers.sh"), "--bogus"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2 and "--bogus" in proc.stderr
