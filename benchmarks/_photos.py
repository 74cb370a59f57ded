"""The test photos of the speed benchmarks: real photos with 1 to 3 faces, each fitted (aspect
kept, centred, grey borders) into a frame of the size being measured, so every size shows the
same faces. They come from the team's data (../shared/data/photos beside this checkout, or
$FASTFER_SHARED/data/photos); without it, the photo the package ships stands in alone. The list
of photos and the fitting are `fastfer bench`'s own (fastfer.eval.bench), so both measure the
same frames.
"""

from __future__ import annotations

import os
from pathlib import Path

import fastfer
from fastfer.eval.bench import FEW_FACES, SHIPPED_PHOTO, fit

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("FASTFER_SHARED", "").strip() or ROOT.parent / "shared")
PHOTOS = SHARED / "data" / "photos"


def photo_paths() -> list:
    paths = [PHOTOS / name for name in FEW_FACES if (PHOTOS / name).is_file()]
    return paths or [SHIPPED_PHOTO]


def photos(width: int, height: int) -> list:
    """The few-face photos, each fitted into ``width`` x ``height`` (BGR uint8)."""
    return [fit(fastfer.load_image(p), width, height) for p in photo_paths()]
