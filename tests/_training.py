"""Runs the training scripts as a user runs them (subprocesses of this interpreter, from the
repository root) for the training tests. train.py gets the test defaults: the CPU, seed 0, one
thread (on a shared, busy CPU two OpenMP threads spend most of their time waiting for each other:
measured 5x the CPU time per step here)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Optional

import pytest

REPO = Path(__file__).resolve().parents[1]
TRAIN_PY = REPO / "training" / "train.py"


def run_python(*args: str, skip_status: Optional[int] = None, timeout: float = 1800) -> subprocess.CompletedProcess:
    """``python ARGS``; fails the test, showing its output's end, unless it exits 0. An exit with
    ``skip_status`` skips the test instead, with the last line the script printed as the reason."""
    proc = subprocess.run([sys.executable, *args], cwd=REPO, capture_output=True, text=True, timeout=timeout)
    if skip_status is not None and proc.returncode == skip_status:
        pytest.skip(proc.stdout.strip().splitlines()[-1])
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc


def run_train(*args: str) -> subprocess.CompletedProcess:
    """train.py with the test defaults and ``args`` (which override them)."""
    return run_python(str(TRAIN_PY), "--device", "cpu", "--seed", "0", "--threads", "1", *args)
