#!/usr/bin/env python3
"""How far the int8 detectors put boxes and landmarks from their fp32 originals.

For each int8 detector (``NAME_int8``) and its fp32 model, on the same images, faces are matched
by IoU >= 0.5 and the error of each of the 5 landmarks is the distance between the two models'
points divided by the fp32 face's eye distance (the normalisation of the 300-W / WFLW landmark
benchmarks); box error: the largest corner shift over the fp32 box's side. Prints the median,
90th percentile and maximum over all matched faces.

    python tools/measure_int8_landmarks.py                       # ../shared/data photos + dlib faces
    python tools/measure_int8_landmarks.py --images DIR [--min-face 0]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "python"))
import fastfer  # noqa: E402
from fastfer import models  # noqa: E402
from fastfer.io.image_header import IMAGE_EXTENSIONS  # noqa: E402
from fastfer.video.tracking import iou  # noqa: E402

SHARED = REPO.parent / "shared" / "data"
DEFAULT_IMAGES = [SHARED / "photos", SHARED / "detection" / "dlib_faces"]


def errors(fp32_faces, int8_faces) -> tuple:
    """(landmark errors / eye distance, box errors / side) of the int8 faces matched to fp32 ones."""
    marks, boxes = [], []
    overlaps = iou([f.box for f in fp32_faces], [g.box for g in int8_faces])
    for f, row in zip(fp32_faces, overlaps):
        if not len(row) or row.max() < 0.5:
            continue
        match = int8_faces[int(row.argmax())]
        ref = np.asarray(f.landmarks, np.float64)
        eyes = np.linalg.norm(ref[0] - ref[1])
        if eyes < 1:
            continue
        marks += list(np.linalg.norm(np.asarray(match.landmarks) - ref, axis=1) / eyes)
        side = max(f.box[2] - f.box[0], f.box[3] - f.box[1])
        boxes.append(np.abs(np.asarray(match.box) - np.asarray(f.box)).max() / side)
    return marks, boxes


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--images",
        type=Path,
        action="append",
        help="a folder of images (default: ../shared/data/photos and ../shared/data/detection/dlib_faces)",
    )
    ap.add_argument("--min-face", type=int, default=fastfer.models.DEFAULT_MIN_FACE)
    args = ap.parse_args(argv)
    folders = args.images or DEFAULT_IMAGES
    paths = sorted(p for d in folders for p in d.rglob("*") if p.suffix.lower() in IMAGE_EXTENSIONS)
    if not paths:
        raise SystemExit(f"no images under {', '.join(map(str, folders))}")
    for name in [n for n in models.available() if n.endswith("_int8") and models.spec(n).task == "detector"]:
        pair = [fastfer.FER(detector=n, min_face=args.min_face, threads=1) for n in (name[:-5], name)]
        marks, boxes = [], []
        for path in paths:
            image = fastfer.load_image(path)
            m, b = errors(*(fer.detect(image) for fer in pair))
            marks += m
            boxes += b
        m, b = np.asarray(marks), np.asarray(boxes)
        print(
            f"{name}: {len(b)} faces in {len(paths)} images; landmark error / eye distance: median "
            f"{np.median(m):.4f}, p90 {np.percentile(m, 90):.4f}, max {m.max():.4f}; box corner / side: "
            f"median {np.median(b):.4f}, p90 {np.percentile(b, 90):.4f}, max {b.max():.4f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
