"""The images the scale tests (test_parallel.py, test_ray.py) run on, and their serial results,
computed once per test session: both files compare against the same one-process ``analyze``."""

from __future__ import annotations

import functools
from pathlib import Path

from _paths import PHOTOS, SHARED_DATA, SHIPPED_PHOTO

import fastfer
from fastfer.scale.parallel import analyze_one

WIDER_DEV = SHARED_DATA / "detection" / "wider_val_dev" / "images"


def wider_dev_images(count: int) -> list:
    """The first ``count`` WIDER dev images (320 in all), sorted by path; [] when absent."""
    return sorted(WIDER_DEV.rglob("*.jpg"))[:count] if WIDER_DEV.is_dir() else []


def photos() -> list:
    """The photo the package ships, then the team's photos when they are beside the checkout."""
    return [SHIPPED_PHOTO] + (
        sorted(p for p in PHOTOS.glob("*.jpg") if p.name != SHIPPED_PHOTO.name) if PHOTOS.is_dir() else []
    )


def write_corrupt(folder: Path) -> Path:
    """A file with a JPEG signature and nothing decodable after it."""
    path = folder / "corrupt.jpg"
    path.write_bytes(b"\xff\xd8\xff\xe0" + b"not really a jpeg" * 8)
    return path


@functools.lru_cache(maxsize=None)
def _fer() -> fastfer.FER:
    return fastfer.FER()


@functools.lru_cache(maxsize=None)
def _serial_one(path: Path):
    return analyze_one(_fer(), path)


def serial_results(paths) -> list:
    """One default ``FER``'s ``analyze`` of each path, in order (the exception for an unreadable
    one), cached per path: an image is analysed once however many tests compare against it."""
    return [_serial_one(Path(p)) for p in paths]
