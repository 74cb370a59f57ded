"""How small can a face be before its expression cannot be read? The measurement behind
``fastfer.models.DEFAULT_MIN_FACE``.

For N from 12 to 48 pixels, every FER2013 PrivateTest face is shrunk so that the face (the
detector box's long side) is N pixels, then classified the way the pipeline would see it: brought
back to the classifier's input size by fastfer's own bilinear resize. FER2013's 48×48 frame is
1.027× the detector box's long side (the manifest's crop note), so the frame shrinks to
round(1.027·N) pixels. The shrink uses area averaging (cv2.INTER_AREA), what a camera with fewer
pixels on the face records, not a sharp subsample.

The default minimum face is the smallest N whose accuracy is within 2 points of the accuracy on
the full-size faces. Run from the repository root:

    python tools/measure_min_face_accuracy.py --data ../shared/data/fer2013.npz [--classifier fernet]
"""

from __future__ import annotations

import argparse
import json
import sys

import cv2
import numpy as np

from fastfer.core.classifier import Classifier
from fastfer.eval import fer2013

# FER2013's frame side / the detector box's long side (models/manifest.json, fernet's crop note).
FRAME_PER_FACE = 1.027
SIZES = list(range(12, 49, 4))
WITHIN_POINTS = 2.0


def accuracy(classifier: Classifier, faces: np.ndarray, labels: np.ndarray, batch: int = 256) -> float:
    probs = np.concatenate([classifier.classify(list(faces[i : i + batch])) for i in range(0, len(faces), batch)])
    return float(np.mean(probs.argmax(axis=1) == labels))


def shrink(faces: np.ndarray, face_px: int) -> np.ndarray:
    side = max(1, int(round(FRAME_PER_FACE * face_px)))
    return np.stack([cv2.resize(f, (side, side), interpolation=cv2.INTER_AREA) for f in faces])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="fer2013.npz")
    parser.add_argument("--classifier", default="fernet")
    parser.add_argument("--split", default="PrivateTest")
    parser.add_argument("--json", action="store_true", help="print the table as JSON")
    args = parser.parse_args()
    images, labels, splits = fer2013.read(args.data)
    keep = splits == args.split
    faces, labels = images[keep], labels[keep]
    classifier = Classifier(args.classifier, threads=1)
    full = accuracy(classifier, faces, labels)
    rows = [{"face_px": n, "accuracy": accuracy(classifier, shrink(faces, n), labels)} for n in SIZES]
    good = [r["face_px"] for r in rows if 100 * (full - r["accuracy"]) <= WITHIN_POINTS]
    default = min(good) if good else None
    if args.json:
        print(
            json.dumps(
                {
                    "classifier": args.classifier,
                    "split": args.split,
                    "faces": int(len(faces)),
                    "full": full,
                    "rows": rows,
                    "default_min_face": default,
                }
            )
        )
        return 0
    print(
        f"{args.classifier} on FER2013 {args.split} ({len(faces)} faces), faces shrunk to N px "
        f"(frame {FRAME_PER_FACE}·N, INTER_AREA) and resized back to {classifier.size}:"
    )
    print("| face (px) | accuracy | vs full size |\n| --- | --- | --- |")
    for r in rows:
        print(f"| {r['face_px']} | {100 * r['accuracy']:.2f}% | {100 * (r['accuracy'] - full):+.2f} |")
    print(f"| full ({images.shape[1]}) | {100 * full:.2f}% | 0 |")
    print(f"smallest N within {WITHIN_POINTS} points of full size: {default}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
