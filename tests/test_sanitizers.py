"""The test suite once under AddressSanitizer + UndefinedBehaviorSanitizer (issue 13, item 5).

tests/fuzz/sanitize.py builds the native module with ``-fsanitize=address,undefined`` into
build/sanitize (never the installed module), and this test runs ``python -m pytest`` on it in a
child process with libasan preloaded; any sanitizer report fails the child and so this test.
Skipped with the reason under FASTFER_BACKEND=python (the native module is not in use: the
sanitized run covers it once, from the native run), where g++/libasan/cmake are missing, and
inside the child itself. ``FASTFER_SANITIZE_TESTS`` narrows the child to some test files
(space-separated paths); by default it runs every test.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from fastfer import backend

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "fuzz"))
import sanitize  # noqa: E402


def _skip_reason():
    if os.environ.get("FASTFER_SANITIZED"):
        return "this is the sanitized run itself"
    if backend.native is None:
        return f"the sanitized run starts from the native test run ({backend.native_error})"
    return sanitize.unavailable()


@pytest.mark.extended  # the rebuild and the suite under ASan take 10 minutes or more
@pytest.mark.skipif(_skip_reason() is not None, reason=_skip_reason() or "")
def test_the_suite_passes_under_asan_and_ubsan(tmp_path):
    sanitize.build()
    env = sanitize.environment()
    assert sanitize.check_imported(env).startswith(str(sanitize.SITE))
    tests = os.environ.get("FASTFER_SANITIZE_TESTS", "").split() or [str(HERE)]
    # The default suite (the extended marker deselected, as the README's command runs it): the
    # extended tests start programs of their own (Ray's gcs_server and raylet, chromedriver and
    # Chromium, a fuzzer) that inherit the preloaded libasan and fail or never come up under it,
    # and they hold none of fastfer's native code that the default suite does not exercise.
    options = [
        "-q",
        "-rfE",
        "--tb=short",
        "-p",
        "no:cacheprovider",
        "--rootdir",
        str(HERE.parent),
        "-m",
        "not extended",
    ]
    command = sanitize.python_command()
    command[-1] += f"import pytest; sys.exit(pytest.main([*{options!r}, *{tests!r}]))"
    out = subprocess.run(command, env=env, cwd=HERE.parent, capture_output=True, text=True, timeout=3600)
    output = out.stdout + out.stderr
    (tmp_path / "sanitized_suite.log").write_text(output)
    summary = [line for line in out.stdout.splitlines() if re.search(r"\d+ (passed|failed)", line)]
    print(f"\nASan/UBSan suite: {summary[-1] if summary else 'no summary'}")
    report = re.search(r"(ERROR: AddressSanitizer.*|runtime error:.*)", output)
    assert report is None, f"sanitizer report: {report.group(1)}\n{output[-6000:]}"
    assert out.returncode == 0, output[-6000:]
