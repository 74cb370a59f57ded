"""The suite outside the team's folder layout: with ../shared hidden (FASTFER_SHARED naming a folder
that does not exist, which tests/_paths.py honours), it still collects without an error, and the
tests that read ../shared skip, naming what is missing, instead of failing."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TESTS = ROOT / "tests"


def pytest_without_shared(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    hidden = tmp_path / "no-shared-here"
    env = dict(os.environ, FASTFER_SHARED=str(hidden), FASTFER_SKIP_CPP_BUILD_TESTS="1")
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )


def test_every_test_finds_shared_data_through_tests_paths():
    # So that hiding ../shared (FASTFER_SHARED) hides it from every test.
    own_path = re.compile(r"""["']shared["']""")
    offenders = [p.name for p in sorted(TESTS.glob("*.py")) if p.name != "_paths.py" and own_path.search(p.read_text())]
    assert offenders == [], f"build the path to ../shared with tests/_paths.py instead: {offenders}"


def test_without_shared_the_suite_collects_and_its_tests_that_need_it_skip(tmp_path):
    """One run: the whole suite is collected (a module that opens ../shared at import would be a
    collection error), then only the tests marked needs_shared run, and must skip."""
    out = pytest_without_shared(tmp_path, "-m", "needs_shared", "-q", "-rs")
    report = out.stdout[-6000:] + out.stderr[-3000:]
    summary = out.stdout.splitlines()[-1]
    assert out.returncode == 0, report
    assert not re.search(r"\b(failed|errors?|passed)\b", summary), report
    assert re.search(r"\d+ deselected", summary), summary  # the rest of the suite was collected
    skips = [
        (int(n), where, reason)
        for n, where, reason in re.findall(r"^SKIPPED \[(\d+)\] ([^:]+):\d+: (.*)$", out.stdout, flags=re.M)
    ]
    hidden = str(tmp_path / "no-shared-here")
    named = sum(n for n, _, reason in skips if hidden in reason and "FASTFER_SHARED" in reason)
    assert named == int(re.search(r"(\d+) skipped", summary).group(1)) - sum(
        n for n, where, reason in skips if hidden not in reason and where != "tests/conftest.py"
    ), report
    assert named >= 20, report  # the photo, FER2013 and WIDER FACE tests
