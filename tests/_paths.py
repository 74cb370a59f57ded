"""Where the test data sits.

The team's shared data is ``../shared`` beside the checkout (see ../shared/README.md), or the
folder ``FASTFER_SHARED`` names (a folder that does not exist hides it: tests/test_without_shared.py
runs the suite that way). Tests that need it are marked ``needs_shared(...)``, which skips them,
naming the missing path, when it is absent. A test that only needs a photo of a face uses the one
the package ships (``SHIPPED_PHOTO``) instead.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("FASTFER_SHARED", "").strip() or ROOT.parent / "shared")
SHARED_DATA = SHARED / "data"
PHOTOS = SHARED_DATA / "photos"
SHIPPED_PHOTO = ROOT / "python" / "fastfer" / "data" / "astronaut.jpg"  # = PHOTOS / "astronaut.jpg"


def shared_absent(*paths: Path) -> str | None:
    """Why a test that reads these paths (under SHARED) cannot run here, or None when it can."""
    for path in paths:
        if not Path(path).exists():
            return f"{path} is absent (the team's data: ../shared beside the checkout, or FASTFER_SHARED)"
    return None


def needs_shared(*paths: Path):
    """Marks a test (or, as ``pytestmark``, a module) that reads these paths of the shared data: it
    is skipped, naming the first missing one, when they are absent. ``-m needs_shared`` selects
    these tests (tests/conftest.py registers the marker and does the skipping)."""
    return pytest.mark.needs_shared(*[Path(p) for p in paths] or [SHARED_DATA])
