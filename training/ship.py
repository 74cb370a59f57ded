"""Ship a trained run as one of fastfer's models: copy its ONNX file into python/fastfer/models/
and put its manifest entry (written by train.py) into manifest.json under NAME.

    python training/ship.py training/runs/cpu-e70-s0 fernet

It refuses a run whose files disagree with its entry, or whose summary lacks a PrivateTest figure
(only a --final-eval run is a candidate to ship). Making NAME the default classifier is a separate,
reviewed edit of DEFAULT_CLASSIFIER in python/fastfer/models/__init__.py.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import shutil
import sys
from pathlib import Path

MODELS = Path(__file__).resolve().parents[1] / "python" / "fastfer" / "models"
LICENSE = ("Apache-2.0, like fastfer (weights trained by fastfer); the training data, FER2013 and the "
           "FER+ votes, are distributed for research use")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run", type=Path, help="train.py's --out folder")
    ap.add_argument("name", help="model name (lower case, digits, _)")
    ap.add_argument("--replace", action="store_true", help="overwrite an existing model of that name")
    args = ap.parse_args(argv)
    if not re.fullmatch(r"[a-z][a-z0-9_]*", args.name):
        ap.error(f"model names are lower case letters, digits and _: {args.name!r}")

    entry = json.loads((args.run / "manifest_entry.json").read_text())
    summary = json.loads((args.run / "summary.json").read_text())
    data = (args.run / entry["file"]).read_bytes()
    if hashlib.sha256(data).hexdigest() != entry["sha256"] or len(data) != entry["size"]:
        ap.error(f"{args.run / entry['file']} does not match its manifest entry")
    if "private_acc" not in summary:
        ap.error(f"{args.run} has no PrivateTest figure: ship only a --final-eval run")

    manifest_path = MODELS / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    if args.name in manifest["models"] and not args.replace:
        ap.error(f"a model named {args.name!r} exists (--replace to overwrite it)")
    entry["file"] = f"{args.name}.onnx"
    entry["license"] = LICENSE
    entry["source"]["summary"] = {k: summary[k] for k in ("best_epoch", "public_acc", "private_acc",
                                                          "params", "macs") if k in summary}
    shutil.copyfile(args.run / "model.onnx", MODELS / entry["file"])
    manifest["models"][args.name] = entry
    manifest_path.write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
    print(f"shipped {args.run} as {args.name}: {MODELS / entry['file']} ({len(data)} bytes), "
          f"PrivateTest {100 * summary['private_acc']:.2f}%")
    return 0


if __name__ == "__main__":
    sys.exit(main())
