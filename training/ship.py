"""Ship a trained run as one of fastfer's models: copy its ONNX file into python/fastfer/models/
and put its manifest entry (written by train.py) into manifest.json under NAME.

    python training/ship.py training/runs/cpu-e70-s0 fernet --data ../shared/data/fer2013.npz

Before shipping, it measures the exported model through fastfer itself (fastfer.Classifier, the
path users get) on FER2013 PublicTest and PrivateTest, refuses a model whose PublicTest figure
differs from the one its run selected it by, and writes both figures into the entry. So a run
trained without PrivateTest (e.g. on a GPU machine that got only the packed Training and
PublicTest splits) is measured here, once, when it ships. Making NAME the default classifier is a
separate, reviewed edit of DEFAULT_CLASSIFIER in python/fastfer/models/__init__.py.
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import json
import re
import shutil
import sys
from pathlib import Path

import numpy as np

MODELS = Path(__file__).resolve().parents[1] / "python" / "fastfer" / "models"
LICENSE = (
    "Apache-2.0, like fastfer (weights trained by fastfer); the training data, FER2013 and the "
    "FER+ votes, are distributed for research use"
)


def measure(onnx_path: Path, entry: dict, data: Path) -> tuple:
    """(PublicTest, PrivateTest) accuracy of the model through fastfer.Classifier."""
    from fastfer import models
    from fastfer.core.classifier import Classifier
    from fastfer.eval.fer2013 import read

    spec = copy.deepcopy(entry)
    spec.pop("file"), spec.pop("sha256"), spec.pop("size")
    models.register("_ship_candidate", onnx_path, spec, replace=True)
    classifier = Classifier("_ship_candidate")
    images, labels, splits = read(data)
    figures = []
    for split in ("PublicTest", "PrivateTest"):
        faces, truth = images[splits == split], labels[splits == split]
        probs = np.concatenate([classifier.classify(faces[i : i + 512]) for i in range(0, len(faces), 512)])
        figures.append(float((probs.argmax(1) == truth).mean()))
    return tuple(figures)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run", type=Path, help="train.py's --out folder")
    ap.add_argument("name", help="model name (lower case, digits, _)")
    ap.add_argument("--data", required=True, type=Path, help="fer2013.npz, for the PublicTest and PrivateTest figures")
    ap.add_argument("--replace", action="store_true", help="overwrite an existing model of that name")
    args = ap.parse_args(argv)
    if not re.fullmatch(r"[a-z][a-z0-9_]*", args.name):
        ap.error(f"model names are lower case letters, digits and _: {args.name!r}")

    entry = json.loads((args.run / "manifest_entry.json").read_text())
    summary = json.loads((args.run / "summary.json").read_text())
    data = (args.run / entry["file"]).read_bytes()
    if hashlib.sha256(data).hexdigest() != entry["sha256"] or len(data) != entry["size"]:
        ap.error(f"{args.run / entry['file']} does not match its manifest entry")
    public, private = measure(args.run / entry["file"], entry, args.data)
    if abs(public - summary["public_acc"]) > 0.002:
        ap.error(
            f"through fastfer the model scores {public:.4f} on PublicTest, its run selected it at "
            f"{summary['public_acc']:.4f}: the entry's preprocessing does not match training"
        )

    manifest_path = MODELS / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    if args.name in manifest["models"] and not args.replace:
        ap.error(f"a model named {args.name!r} exists (--replace to overwrite it)")
    entry["file"] = f"{args.name}.onnx"
    # A backbone's pretrained weights carry their own licence (train.py wrote it into the entry
    # as "...; initialised from ..."): keep that part beside fastfer's own.
    initialised = entry.get("license", "").partition("; initialised from ")[2]
    entry["license"] = LICENSE + (f"; initialised from {initialised}" if initialised else "")
    entry["source"]["summary"] = {
        "best_epoch": summary["best_epoch"],
        "public_acc": public,
        "private_acc": private,
        "params": summary["params"],
        "macs": summary["macs"],
        "measured_by": "training/ship.py through fastfer.Classifier",
    }
    shutil.copyfile(args.run / "model.onnx", MODELS / entry["file"])
    manifest["models"][args.name] = entry
    manifest_path.write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
    print(
        f"shipped {args.run} as {args.name}: {MODELS / entry['file']} ({len(data)} bytes), "
        f"PublicTest {100 * public:.2f}%, PrivateTest {100 * private:.2f}%"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
