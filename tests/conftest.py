"""Shared test set-up: the ``needs_shared`` marker (see tests/_paths.py)."""

from __future__ import annotations

import pytest
from _paths import shared_absent


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "needs_shared(*paths): reads these paths of ../shared (FASTFER_SHARED); skipped when absent")
    config.addinivalue_line(
        "markers", "extended: slow or browser tests of the extended suite (deselect with -m 'not extended')")


# tryfirst: decided before any fixture of the test (which may open the data) is set up.
@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    for mark in item.iter_markers("needs_shared"):
        reason = shared_absent(*mark.args)
        if reason:
            pytest.skip(reason)
