"""The bounded fuzz round of CI (issue 13, item 5): each target of tests/fuzz/ runs for
``FASTFER_FUZZ_SECONDS`` (default 15) seconds, coverage-guided, then its whole corpus is replayed
on the ASan/UBSan build of the native module where that can be made (tests/fuzz/sanitize.py; the
ppm target fuzzes on it directly), and must find nothing: no crash, no hang or runaway memory, no
sanitizer report, no cap bypass, no twin divergence. Longer rounds:
``python tests/fuzz/run.py --seconds 600 --sanitize``.

Runs once, in the native test run (the targets need the native module or its sanitized build);
skipped with the reason under FASTFER_BACKEND=python, without atheris, and inside the sanitized
suite run of tests/test_sanitizers.py (which would otherwise fuzz twice).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from fastfer import backend

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "fuzz"))
import sanitize  # noqa: E402

SECONDS = int(os.environ.get("FASTFER_FUZZ_SECONDS", "15"))


def _skip_reason():
    if os.environ.get("FASTFER_SANITIZED"):
        return "inside the sanitized suite run: the fuzz round runs in the plain one"
    if backend.native is None:
        return f"the fuzz round runs in the native test run ({backend.native_error})"
    try:
        import atheris  # noqa: F401
    except ImportError:
        return "atheris is not installed (the [test] extra has it on Linux x86-64, Python 3.11+)"
    return None


# Extended suite (CONTRIBUTING.md): fuzzing runs for minutes.
pytestmark = [pytest.mark.extended, pytest.mark.skipif(_skip_reason() is not None, reason=_skip_reason() or "")]


@pytest.fixture(scope="module")
def sanitized():
    """Whether the round runs on the ASan/UBSan build (built here, once, when it can be)."""
    if sanitize.unavailable():
        return False
    sanitize.build()
    return True


@pytest.mark.parametrize("target", ["images", "kernels", "onnx_scan", "ppm"])
def test_a_bounded_fuzz_round_finds_nothing(target, sanitized, tmp_path):
    if target == "ppm" and not sanitized:
        pytest.skip(f"the PPM target links the sanitized core library: {sanitize.unavailable()}")
    report_file = tmp_path / "report.json"
    command = [
        sys.executable,
        str(HERE / "fuzz" / "run.py"),
        target,
        "--seconds",
        str(SECONDS),
        "--artifacts",
        str(tmp_path),
        "--json",
        str(report_file),
    ]
    if sanitized:
        command.append("--sanitize")
    out = subprocess.run(command, capture_output=True, text=True, timeout=3 * SECONDS + 900)
    (report,) = json.loads(report_file.read_text())
    under = " under ASan/UBSan" if report["sanitized"] and target == "ppm" else ""
    replay = f", {report['replayed']:,} corpus inputs replayed under ASan/UBSan" if report["replayed"] else ""
    print(f"\nfuzz {target}: {report['status']}, {report['runs']:,} runs in {SECONDS} s{under}{replay}")
    assert out.returncode == 0 and report["status"] == "ok", f"{report}\n{out.stdout}\n{out.stderr[-3000:]}"
    assert report["runs"] > 0
