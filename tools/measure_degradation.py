#!/usr/bin/env python3
"""How a classifier's labels move when FER2013 faces look like photos and film frames: blurred,
darker or brighter, noisy, JPEG-compressed, or low-resolution. For each condition: accuracy, macro
recall and how many faces it calls each expression, against the clean faces.

    python tools/measure_degradation.py ../shared/data/fer2013.npz [--classifier fernet_int8] [--split PublicTest]
    python tools/measure_degradation.py ../shared/data/fer2013.npz --classifier training/runs/RUN  # before shipping

Why: users of FER2013-trained libraries report labels stuck on sad or neutral on their photos; if
a degradation pushes the labels that way, training with it (train.py --blur/--gamma/--noise) is
the remedy to measure. The faces are degraded at 48 px with OpenCV, then classified by
``fastfer.Classifier`` as ``fastfer eval fer2013`` does.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import cv2
import numpy as np

import fastfer
from fastfer import models
from fastfer.core.classifier import Classifier
from fastfer.eval import fer2013
from fastfer.models import DEFAULT_CLASSIFIER


def gaussian_blur(sigma):
    return lambda f: cv2.GaussianBlur(f, (0, 0), sigma)


def gamma(g):
    lut = (255.0 * (np.arange(256) / 255.0) ** g).round().astype(np.uint8)
    return lambda f: lut[f]


def noise(std, rng):
    return lambda f: np.clip(f + rng.normal(0, std, f.shape), 0, 255).astype(np.uint8)


def jpeg(quality):
    return lambda f: cv2.imdecode(cv2.imencode(".jpg", f, [cv2.IMWRITE_JPEG_QUALITY, quality])[1], 0)


def low_resolution(side):
    return lambda f: cv2.resize(cv2.resize(f, (side, side), interpolation=cv2.INTER_AREA), f.shape[::-1])


def conditions(seed: int = 0):
    rng = np.random.default_rng(seed)
    return {
        "clean": lambda f: f,
        "blur sigma 1.0": gaussian_blur(1.0),
        "blur sigma 2.0": gaussian_blur(2.0),
        "darker (gamma 2)": gamma(2.0),
        "brighter (gamma 0.5)": gamma(0.5),
        "noise std 10": noise(10.0, rng),
        "noise std 20": noise(20.0, rng),
        "JPEG quality 20": jpeg(20),
        "24 px, upscaled": low_resolution(24),
    }


def load_classifier(name_or_run: str) -> Classifier:
    """A shipped model by name, or a train.py --out folder's model.onnx with its manifest entry
    (registered for this process only, as training/ship.py measures a run)."""
    run = Path(name_or_run)
    if not run.is_dir():
        return Classifier(name_or_run, threads=1)
    entry = json.loads((run / "manifest_entry.json").read_text())
    spec = {k: v for k, v in entry.items() if k not in ("file", "sha256", "size")}
    name = run.name.replace("-", "_").lower()
    models.register(name, run / entry["file"], spec, replace=True)
    return Classifier(name, threads=1)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("data", help="fer2013.npz")
    ap.add_argument(
        "--classifier",
        default=DEFAULT_CLASSIFIER,
        help=f"model name (default {DEFAULT_CLASSIFIER}) or a train.py --out folder",
    )
    ap.add_argument("--split", default="PublicTest")
    ap.add_argument("--limit", type=int, help="only the first N faces of the split")
    args = ap.parse_args(argv)
    faces, labels, usage = fer2013.read(args.data)
    rows = np.flatnonzero(usage == args.split)[: args.limit]
    faces, labels = faces[rows], labels[rows]
    clf = load_classifier(args.classifier)
    print(f"{clf.spec.name} on {len(faces)} {args.split} faces; predicted per class in {', '.join(fastfer.LABELS)}")
    print(f"{'truth':24s} {'':>6s} {'':>6s}  {np.bincount(labels, minlength=7).tolist()}")
    for name, degrade in conditions().items():
        result = fer2013.evaluate(clf.classify(np.stack([degrade(f) for f in faces])), labels)
        predicted = np.asarray(result["confusion"]).sum(0).tolist()
        print(f"{name:24s} {100 * result['accuracy']:5.2f}% {100 * result['macro_recall']:5.2f}%  {predicted}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
