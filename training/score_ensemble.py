#!/usr/bin/env python3
"""PublicTest accuracy of exported classifiers alone, with their mirror, and as ensembles: is a set
of nets a better teacher (train.py --teacher A B --teacher-flip) than the best of them?

    python training/score_ensemble.py python/fastfer/models/fernet.onnx training/runs/RUN \\
        --data ../shared/data/fer2013.npz [--weights 0.9 0.8 0.7]

Each source is a train.py --out folder or a shipped .onnx (preprocessed as tune_bias.py does: the
48 px faces resized bilinearly for a net trained at another side). The ensemble averages the nets'
log-probabilities, each over the face and its mirror, as train.py's TeacherEnsemble does; with two
nets, --weights also scores the first one's weight w against 1 - w, averaging log-probabilities
and, for comparison, probabilities. PublicTest only: PrivateTest stays unread for choosing.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import onnxruntime as ort
from tune_bias import log_probs_of, public_faces, source_entry


def accuracy(log_probs, labels) -> float:
    return 100.0 * float((log_probs.argmax(1) == labels).mean())


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("sources", type=Path, nargs="+", help="train.py --out folders or shipped .onnx files")
    ap.add_argument("--data", required=True, type=Path, help="fer2013.npz (PublicTest is read)")
    ap.add_argument("--weights", type=float, nargs="*", default=[0.9, 0.8, 0.7, 0.6])
    args = ap.parse_args(argv)
    views = []
    for source in args.sources:
        onnx_path, entry, _ = source_entry(source)
        x, labels = public_faces(entry, args.data)
        sess = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
        plain = log_probs_of(sess, x)
        mirror_mean = (plain + log_probs_of(sess, np.ascontiguousarray(x[..., ::-1]))) / 2
        views.append((plain, mirror_mean))
        print(f"{source}: {accuracy(plain, labels):.2f}%, with its mirror {accuracy(mirror_mean, labels):.2f}%")
        print(f"  predicted per class {np.bincount(mirror_mean.argmax(1), minlength=7).tolist()}")
    print(f"  true per class      {np.bincount(labels, minlength=7).tolist()}")
    if len(views) > 1:
        plain = np.mean([p for p, _ in views], 0)
        mirrored = np.mean([m for _, m in views], 0)
        print(
            f"ensemble, equal weights: {accuracy(plain, labels):.2f}%, with mirrors {accuracy(mirrored, labels):.2f}%"
        )
    if len(views) == 2:
        (_, a), (_, b) = views
        for w in args.weights:
            log_mean = w * a + (1 - w) * b
            prob_mean = np.log(w * np.exp(a) + (1 - w) * np.exp(b))
            print(
                f"first net's weight {w}: log-probabilities {accuracy(log_mean, labels):.2f}%, "
                f"probabilities {accuracy(prob_mean, labels):.2f}%"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
