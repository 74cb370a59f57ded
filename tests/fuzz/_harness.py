"""What every fuzz target shares: atheris set-up and the rule for what counts as a finding.

A target is a script ``fuzz_<name>.py`` with a ``TestOneInput(data: bytes)`` that returns for any
input the code handled properly (a result that holds the target's invariants, or one of the clear
exceptions fastfer documents) and raises for anything else: an unexpected exception type, a
broken invariant (a cap exceeded, twins that disagree). Memory errors in native code are caught
by AddressSanitizer/UndefinedBehaviorSanitizer when the native module was built with them
(tests/fuzz/run.py --sanitize). Run targets through tests/fuzz/run.py, which bounds their time.
"""

from __future__ import annotations

import gc
import sys
import types

import atheris


def fuzz(test_one_input) -> None:
    """Hands the target to libFuzzer (flags and corpus folders come from sys.argv)."""
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


def instrument_fastfer() -> int:
    """Coverage for fastfer's Python code, already imported: every function of a fastfer module
    (nested ones with it). atheris.instrument_imports cannot see modules an editable install
    loads through its own finder; this works whatever loaded them. The native module is watched
    by the sanitizers instead. Returns how many functions were instrumented."""
    functions = [
        obj
        for obj in gc.get_objects()
        if isinstance(obj, types.FunctionType) and (getattr(obj, "__module__", None) or "").startswith("fastfer")
    ]
    for function in functions:
        atheris.instrument_func(function)
    return len(functions)
