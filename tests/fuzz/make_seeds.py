"""Writes the seed corpora of the fuzz targets into tests/fuzz/corpus/<target>/ (committed; run
again after changing a generator: ``python tests/fuzz/make_seeds.py``).

* images: a small valid file of every format fastfer decodes, and every file of
  tests/hostile_files.py (headers that lie: the bypasses of issue 13);
* onnx_scan: tests/onnx_wire.py's models (an external tensor in every place the format allows,
  a runnable classifier, nested sub-graphs);
* ppm: P6/P5 files with comments, maxval below 255, and truncated or lying headers;
* kernels: a few fixed byte strings (the target reads its arguments from the bytes).
"""

from __future__ import annotations

import random
import shutil
import sys
from pathlib import Path

import cv2
import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # tests/: hostile_files, onnx_wire

import hostile_files  # noqa: E402
import onnx_wire  # noqa: E402

CORPUS = HERE / "corpus"


def image_seeds() -> dict:
    rng = np.random.default_rng(13)
    colour = rng.integers(0, 256, (6, 5, 3), dtype=np.uint8)
    seeds = {}
    for ext in (".jpg", ".png", ".bmp", ".webp", ".tiff", ".ppm", ".pgm", ".pam"):
        image = colour[..., 0] if ext == ".pgm" else colour
        ok, buf = cv2.imencode(ext, image)
        if ok:
            seeds[f"valid{ext}"] = buf.tobytes()
    seeds["valid_progressive.jpg"] = cv2.imencode(".jpg", colour, [cv2.IMWRITE_JPEG_PROGRESSIVE, 1])[1].tobytes()
    for name, (data, _big) in hostile_files.hostile_files().items():
        seeds[f"hostile_{name}"] = data
    return seeds


def onnx_seeds() -> dict:
    seeds = {
        f"external_{name.replace(' ', '_')}.onnx": data for name, data in onnx_wire.external_tensor_placements().items()
    }
    seeds["classifier.onnx"] = onnx_wire.classifier(7, size=8)
    seeds["identity.onnx"] = onnx_wire.identity_model()
    seeds["nested_40.onnx"] = onnx_wire.nested_subgraphs(40)
    return seeds


def ppm_seeds() -> dict:
    pixels = bytes(range(2 * 3 * 3))
    return {
        "p6.ppm": b"P6\n3 2\n255\n" + pixels,
        "p5.pgm": b"P5 3 2 255 " + pixels[:6],
        "comments.ppm": b"P6 # a comment\n3 # width\n2\n# maxval next\n255\n" + pixels,
        "maxval15.ppm": b"P6\n3 2\n15\n" + bytes(v % 16 for v in pixels),
        "truncated.ppm": b"P6\n3 2\n255\n" + pixels[:7],
        "huge_header.ppm": b"P6\n999999 999999\n255\n" + pixels,
        "no_raster_space.ppm": b"P6\n3 2\n255",
    }


def kernel_seeds() -> dict:
    rng = random.Random(13)
    return {f"bytes_{n}": bytes(rng.randrange(256) for _ in range(n)) for n in (16, 64, 256, 1024)}


def main() -> None:
    for target, seeds in (
        ("images", image_seeds()),
        ("onnx_scan", onnx_seeds()),
        ("ppm", ppm_seeds()),
        ("kernels", kernel_seeds()),
    ):
        folder = CORPUS / target
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        for name, data in seeds.items():
            (folder / name).write_bytes(data)
        print(f"{target}: {len(seeds)} seeds, {sum(map(len, seeds.values()))} bytes")


if __name__ == "__main__":
    main()
