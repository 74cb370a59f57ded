"""Measure how FER2013 frames its faces, as seen by fastfer's detector.

FER2013's 48×48 faces were cut by an automatic registration that we cannot rerun, so a classifier
trained on them only sees faces framed that way. This script puts each face back into a photo-like
setting (upscaled, with a border so the detector sees the whole head), runs the default detector,
and maps its box and 5 landmarks back into the 48×48 frame. From that it fits the two crop rules a
classifier manifest entry can carry:

- ``template``: the mean position of each landmark in the frame, as a fraction of the side; the
  analysis pipeline aligns each detected face onto it (a similarity transform);
- ``box``: the frame as a square around the detector box: side = ``side`` × the box's long side,
  centre = box centre + ``shift`` × the box's long side (the fallback when only boxes are known).

It then checks both rules the way the pipeline uses them: classify the faces of a held-out split
re-cut from the upscaled images by each rule, and compare with classifying the original 48×48
crops. Run from the repository root:

    python tools/measure_fer2013_framing.py --data ../shared/data/fer2013.npz [--classifier NAME]
"""

from __future__ import annotations

import argparse
import json
import sys

import cv2
import numpy as np

import fastfer
from fastfer.backend import kernels
from fastfer.core.classifier import Classifier
from fastfer.core.detector import Detector
from fastfer.eval.fer2013 import read_npz


def split(path, name: str):
    images, labels, splits = read_npz(path)
    return images[splits == name], labels[splits == name]


UPSCALE = 4  # 48 -> 192 px: a face size the detector handles at its native scale
BORDER = 0.75  # border on each side, as a fraction of the upscaled face, filled with the edge pixels
# (not a reflection: that would put mirrored copies of the face beside it)


def staged(face: np.ndarray) -> tuple[np.ndarray, float]:
    """A 48×48 grey face as a BGR photo, and the offset of the face's frame in it."""
    big = cv2.resize(face, None, fx=UPSCALE, fy=UPSCALE, interpolation=cv2.INTER_CUBIC)
    pad = int(round(BORDER * big.shape[0]))
    big = cv2.copyMakeBorder(big, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
    return cv2.cvtColor(big, cv2.COLOR_GRAY2BGR), float(pad)


def detect_in_frame(detector, faces: np.ndarray):
    """Best detection of each face in 48-px frame coordinates: boxes (N, 4), landmarks (N, 5, 2),
    and which faces were found. Of several detections, the one nearest the frame's centre is the face."""
    boxes = np.full((len(faces), 4), np.nan)
    marks = np.full((len(faces), 5, 2), np.nan)
    for i, face in enumerate(faces):
        img, pad = staged(face)
        found = detector.detect(img)
        if len(found):
            centres = (found.boxes[:, :2] + found.boxes[:, 2:]) / 2
            k = int(np.argmin(np.abs(centres - (pad + 24 * UPSCALE)).sum(axis=1)))
            boxes[i] = (found.boxes[k] - pad) / UPSCALE
            marks[i] = (found.landmarks[k] - pad) / UPSCALE
    ok = np.isfinite(boxes).all(axis=1)
    return boxes, marks, ok


def fit_rules(boxes: np.ndarray, marks: np.ndarray) -> dict:
    side = np.maximum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1])
    centre = (boxes[:, :2] + boxes[:, 2:]) / 2
    # The frame is [0, 48]²: its side and centre relative to each box; medians resist misdetections.
    side_ratio = np.median(48.0 / side)
    shift = np.median((24.0 - centre) / side[:, None], axis=0)
    template = np.median(marks / 48.0, axis=0)
    return {
        "template": template.round(4).tolist(),
        "box": {"side": round(float(side_ratio), 4), "shift": shift.round(4).tolist()},
        "spread": {
            "side_ratio_iqr": np.percentile(48.0 / side, [25, 75]).round(3).tolist(),
            "template_std": (marks / 48.0).std(axis=0).round(4).tolist(),
        },
    }


def recut(faces, boxes, marks, rules, size: int, how: str) -> np.ndarray:
    """The faces re-cut from their staged photos by one rule, as S×S grey uint8 crops."""
    crops = np.zeros((len(faces), size, size), np.uint8)
    template = np.asarray(rules["template"]) * size
    for i, face in enumerate(faces):
        img, pad = staged(face)
        if how == "template":
            pts = marks[i] * UPSCALE + pad
            batch = kernels.face_input(img, landmarks=pts[None], template=template, size=size, gray=True)
        else:
            b = boxes[i] * UPSCALE + pad
            if how == "box":
                s = max(b[2] - b[0], b[3] - b[1])
                c = (b[:2] + b[2:]) / 2 + np.asarray(rules["box"]["shift"]) * s
                half = rules["box"]["side"] * s / 2
                b = np.array([c[0] - half, c[1] - half, c[0] + half, c[1] + half])
                batch = kernels.face_input(img, boxes=b[None], size=size, gray=True)
            else:  # "margin": the plain square box grown by 10% a side (mini-Xception's rule)
                batch = kernels.face_input(img, boxes=b[None], size=size, margin=0.1, gray=True)
        crops[i] = np.clip(np.rint(batch[0, 0]), 0, 255).astype(np.uint8)
    return crops


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", required=True, help="fer2013.npz")
    ap.add_argument("--fit", type=int, default=3000, help="Training faces used for the fit")
    ap.add_argument("--check", type=int, default=1500, help="PrivateTest faces used for the check")
    ap.add_argument("--classifier", default=fastfer.models.DEFAULT_CLASSIFIER)
    ap.add_argument("--json", help="write the rules and the check here")
    args = ap.parse_args(argv)

    rng = np.random.default_rng(0)
    detector = Detector()
    x_tr, _ = split(args.data, "Training")
    fit_idx = rng.choice(len(x_tr), size=min(args.fit, len(x_tr)), replace=False)
    boxes, marks, ok = detect_in_frame(detector, x_tr[fit_idx])
    rules = fit_rules(boxes[ok], marks[ok])
    rules["fit"] = {
        "faces": int(len(fit_idx)),
        "detected": int(ok.sum()),
        "detector": detector.spec.name,
        "upscale": UPSCALE,
        "border": BORDER,
    }
    print(json.dumps(rules, indent=1))

    # The check: the same model on the original crops and on each re-cut, on the faces it detects.
    classifier = Classifier(args.classifier)
    x_te, y_te = split(args.data, "PrivateTest")
    te_idx = rng.choice(len(x_te), size=min(args.check, len(x_te)), replace=False)
    faces, labels = x_te[te_idx], y_te[te_idx]
    boxes, marks, ok = detect_in_frame(detector, faces)
    faces, labels, boxes, marks = faces[ok], labels[ok], boxes[ok], marks[ok]
    check = {
        "classifier": args.classifier,
        "faces": int(len(te_idx)),
        "detected": int(ok.sum()),
        "original": float((classifier.classify(faces).argmax(1) == labels).mean()),
    }
    for how in ("template", "box", "margin"):
        crops = recut(faces, boxes, marks, rules, 48, how)
        check[how] = float((classifier.classify(crops).argmax(1) == labels).mean())
    rules["check"] = check
    print(json.dumps(check, indent=1))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rules, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
