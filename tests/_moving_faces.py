"""Synthetic videos made of real faces moving across a canvas, with their true positions.

The faces are cut from the photos in ../shared/data/photos (the shipped astronaut photo, mirrored
and tinted, where ../shared is absent), once, around the box the shipped detector finds. A scene
is a list of :class:`Path` (one per face: where its patch is in each frame); ``render`` paints
the frames and ``truth`` says where each face is, frame by frame.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from _paths import PHOTOS, SHIPPED_PHOTO as SHIPPED

import fastfer

PORTRAITS = ["obama_portrait.jpg", "astronaut.jpg", "angry_man.jpg", "tom_cruise_smiling.jpg"]


def face_patches(fer: fastfer.FER, side: int, count: int = 4) -> list:
    """``count`` square BGR patches, ``side`` px, each one face with a margin around it."""
    sources = [PHOTOS / name for name in PORTRAITS] if PHOTOS.is_dir() else [SHIPPED] * count
    # The detector boxes the astronaut's face larger in the full photo than in a small patch
    # (35 px found in a 72 px patch at 0.8), under the default min_face of 40: cut it tighter so
    # that the scenes' faces are found with or without ../shared.
    margin = 0.8 if PHOTOS.is_dir() else 0.6
    patches = []
    for i, path in enumerate(sources[:count]):
        img = fastfer.load_image(path)
        x1, y1, x2, y2 = fer.detect(img)[0].box
        cx, cy, half = (x1 + x2) / 2, (y1 + y2) / 2, margin * max(x2 - x1, y2 - y1)
        top, left = int(max(0, cy - half)), int(max(0, cx - half))
        crop = img[top : int(cy + half), left : int(cx + half)]
        patch = cv2.resize(crop, (side, side), interpolation=cv2.INTER_AREA)
        if not PHOTOS.is_dir() and i:  # one face four times: tell them apart a little
            patch = cv2.flip(patch, 1) if i % 2 else patch
            patch = np.clip(patch.astype(np.int16) + 12 * i, 0, 255).astype(np.uint8)
        patches.append(patch)
    return patches


@dataclass(frozen=True)
class Path:
    """A patch moving in a straight line from (x0, y0) at frame 0 to (x1, y1) at the last frame
    (top-left corners; off-canvas positions enter or leave)."""

    patch: int
    x0: float
    y0: float
    x1: float
    y1: float

    def at(self, frame: int, frames: int) -> tuple:
        t = frame / max(frames - 1, 1)
        return self.x0 + t * (self.x1 - self.x0), self.y0 + t * (self.y1 - self.y0)


def crossing_scene(width: int, height: int, side: int) -> list:
    """Four faces: one entering from the left, one leaving to the right, two crossing (one row
    apart by 2/3 of a face, so that they overlap while both stay visible)."""
    low = height - side - 10
    return [
        Path(0, 10, 10, width - side - 10, 10),  # crosses left to right ...
        Path(1, width - side - 10, 10 + 0.6 * side, 10, 10 + 0.6 * side),  # ... this one, right to left
        Path(2, -side, low, width * 0.35 - side / 2, low),  # enters from the left
        Path(3, width * 0.55, low, width + side * 0.6, low),  # leaves to the right
    ]


def render(scene: list, patches: list, width: int, height: int, frames: int, noise: float = 0.0, seed: int = 0):
    """The frames (a generator of H×W×3 BGR uint8) of ``scene``; ``noise``: the standard
    deviation of Gaussian pixel noise added to each frame."""
    rng = np.random.default_rng(seed)
    background = np.full((height, width, 3), 110, np.uint8)
    background[:, :, 0] = np.linspace(90, 140, width, dtype=np.uint8)[None, :]  # not perfectly flat
    for frame in range(frames):
        canvas = background.copy()
        for path in scene:
            x, y = (int(round(v)) for v in path.at(frame, frames))
            patch = patches[path.patch]
            side = patch.shape[0]
            cx1, cy1, cx2, cy2 = max(x, 0), max(y, 0), min(x + side, width), min(y + side, height)
            if cx2 > cx1 and cy2 > cy1:
                canvas[cy1:cy2, cx1:cx2] = patch[cy1 - y : cy2 - y, cx1 - x : cx2 - x]
        if noise:
            canvas = np.clip(canvas + rng.normal(0, noise, canvas.shape), 0, 255).astype(np.uint8)
        yield canvas


def truth(scene: list, frame: int, frames: int, side: int, width: int, height: int) -> dict:
    """{face number: patch centre (x, y)} of the faces wholly inside the canvas at ``frame``."""
    out = {}
    for number, path in enumerate(scene):
        x, y = path.at(frame, frames)
        if x >= 0 and y >= 0 and x + side <= width and y + side <= height:
            out[number] = (x + side / 2, y + side / 2)
    return out


def write_video(path, frames, fps: float = 25.0, fourcc: str = "mp4v") -> int:
    """Write ``frames`` with OpenCV; returns how many were written."""
    writer, count = None, 0
    for image in frames:
        if writer is None:
            h, w = image.shape[:2]
            writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), fps, (w, h))
            assert writer.isOpened(), f"OpenCV cannot write {path}"
        writer.write(image)
        count += 1
    if writer is not None:
        writer.release()
    return count
