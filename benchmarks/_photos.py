"""The test photos of the speed benchmarks: real photos with 1 to 3 faces, each fitted (aspect
kept, centred, grey borders) into a frame of the size being measured, so every size shows the
same faces. They come from the team's data (../shared/data/photos, or $FASTFER_SHARED/data/photos);
without it, the photo the package ships stands in alone.
"""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np

import fastfer

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("FASTFER_SHARED", "").strip() or ROOT.parent / "shared")
PHOTOS = SHARED / "data" / "photos"
SHIPPED = Path(fastfer.__file__).parent / "data" / "astronaut.jpg"
# 1 to 3 faces each (stage_group has 11 and the collage 6: they are crowds, not these photos).
FEW_FACES = [
    "alex_lacamoire_smiling.jpg",
    "angry_man.jpg",
    "astronaut.jpg",
    "biden_portrait.jpg",
    "crying_woman.jpg",
    "lin_manuel_miranda_speaking.jpg",
    "obama_portrait.jpg",
    "portrait_woman.jpg",
    "tom_cruise_smiling.jpg",
    "two_people.jpg",
]
GREY = 114


def fit(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """``image`` scaled to fit ``width`` x ``height`` (aspect kept), centred on a grey frame."""
    h, w = image.shape[:2]
    scale = min(width / w, height / h)
    nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    resized = cv2.resize(image, (nw, nh), interpolation=interpolation)
    frame = np.full((height, width, 3), GREY, np.uint8)
    top, left = (height - nh) // 2, (width - nw) // 2
    frame[top : top + nh, left : left + nw] = resized
    return frame


def photo_paths() -> list:
    paths = [PHOTOS / name for name in FEW_FACES if (PHOTOS / name).is_file()]
    return paths or [SHIPPED]


def photos(width: int, height: int) -> list:
    """The few-face photos, each fitted into ``width`` x ``height`` (BGR uint8)."""
    return [fit(fastfer.load_image(p), width, height) for p in photo_paths()]
