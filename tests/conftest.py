"""Shared test set-up: the ``needs_shared`` marker (see tests/_paths.py)."""

from __future__ import annotations

import os

import pytest
from _paths import shared_absent


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "needs_shared(*paths): reads these paths of ../shared (FASTFER_SHARED); skipped when absent"
    )
    config.addinivalue_line(
        "markers",
        "extended: the extended suite (data-dependent, sanitizers, fuzzing, soak, Ray, C++ "
        "example, browser): left out by default (pyproject.toml addopts); run with -m extended",
    )


# tryfirst: before pytest's own hook deselects by -m, so that `-m "not extended"` (the default,
# pyproject.toml) leaves out every test that reads the team's data: the README's test command is
# the same, and as fast, with or without ../shared, and `-m extended` runs them.
@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items):
    second_run = os.environ.get("FASTFER_BACKEND") == "python"
    for item in items:
        if item.get_closest_marker("needs_shared") is not None:
            item.add_marker(pytest.mark.extended)
        if second_run and item.path.name in BACKEND_INDEPENDENT:
            item.add_marker(pytest.mark.skip(reason="backend-independent: run once, in the native run"))


# Test files that hold nothing the kernels' choice changes (the server's HTTP handling, the build,
# the docs, typing, code shape, import layers): the README's command runs them in its first
# (native) pass only, so that its second pass, FASTFER_BACKEND=python, repeats only what differs.
BACKEND_INDEPENDENT = {
    "test_serve.py",
    "test_serve_malformed.py",
    "test_ort_header.py",
    "test_docs.py",
    "test_typing.py",
    "test_function_lengths.py",
    "test_function_lengths_cpp.py",
    "test_layers.py",
    "test_cli_first_contact.py",
}


# tryfirst: decided before any fixture of the test (which may open the data) is set up.
@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    for mark in item.iter_markers("needs_shared"):
        reason = shared_absent(*mark.args)
        if reason:
            pytest.skip(reason)
