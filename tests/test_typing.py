"""mypy passes on the public modules named in pyproject.toml's [tool.mypy] (run as `mypy` from the
repository root, which reads that table)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_mypy_passes_on_the_public_modules():
    pytest.importorskip("mypy", reason="mypy is not installed (pip install mypy)")
    out = subprocess.run([sys.executable, "-m", "mypy"], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stdout + out.stderr


def test_the_native_module_stub_matches_the_module():
    # python/fastfer/_core.pyi types fastfer._core for users' type checkers and IDEs; mypy's
    # stubtest imports the built module and fails on any name, argument or default that differs.
    pytest.importorskip("mypy", reason="mypy is not installed (pip install mypy)")
    pytest.importorskip("fastfer._core", reason="the native module is not built here")
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy.stubtest",
            "fastfer._core",
            "--allowlist",
            str(ROOT / "tests" / "core_stub_allowlist.txt"),
        ],
        cwd=ROOT / "tests",
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == 0, out.stdout + out.stderr
