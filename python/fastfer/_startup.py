"""Import-time configuration errors in the ``fastfer`` command: one line, not a traceback."""

from __future__ import annotations

import os
import sys


def _is_the_command_line() -> bool:
    """True in the ``fastfer`` console script and in ``python -m fastfer``."""
    if os.path.basename(sys.argv[0]) in ("fastfer", "fastfer.exe"):
        return True
    orig = list(getattr(sys, "orig_argv", []))  # Python >= 3.10
    return any(a == "-m" and b == "fastfer" for a, b in zip(orig, orig[1:]))


def exit_if_command_line(exc: BaseException) -> None:
    """Exit with status 2 and ``fastfer: error: ...`` when ``exc`` is a bad FASTFER_* environment
    value met while the fastfer command starts; otherwise return (the caller re-raises)."""
    if "FASTFER_" in str(exc) and _is_the_command_line():
        print(f"fastfer: error: {exc}", file=sys.stderr)
        raise SystemExit(2)
