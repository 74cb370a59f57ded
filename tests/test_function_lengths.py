"""Every Python function of the package is under 60 lines, as tools/function_lengths.py measures
it (``end_lineno - lineno + 1`` of each def, with ast)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

TOOL = Path(__file__).resolve().parents[1] / "tools" / "function_lengths.py"


def test_the_longest_python_function_is_under_60_lines():
    spec = importlib.util.spec_from_file_location("function_lengths", TOOL)
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    lengths = tool.python_function_lengths()
    assert len(lengths) > 100  # the whole package was read
    longest, where = lengths[0]
    assert longest < 60, f"{where} has {longest} lines"
