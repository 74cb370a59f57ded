"""Runs training/train.py as a user runs it (a subprocess of this interpreter) for the training
tests: on the CPU, seed 0, one thread (on a shared, busy CPU two OpenMP threads spend most of
their time waiting for each other: measured 5x the CPU time per step here)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

TRAIN_PY = Path(__file__).resolve().parents[1] / "training" / "train.py"


def run_train(*args: str) -> subprocess.CompletedProcess:
    """train.py with the test defaults and ``args`` (which override them); fails the test, showing its output's end,
    unless it exits 0."""
    cmd = [sys.executable, str(TRAIN_PY), "--device", "cpu", "--seed", "0", "--threads", "1", *args]  # args win
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=1800)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc
