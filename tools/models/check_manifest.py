"""Compares the model files in a folder with the sha256 and size that manifest.json records.

python tools/models/check_manifest.py DIR     (exit status 1 on any difference)
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import MODELS_DIR, sha256_of


def main(folder: str) -> int:
    manifest = json.loads((MODELS_DIR / "manifest.json").read_text())
    failures = 0
    for name, entry in manifest["models"].items():
        path = Path(folder) / entry["file"]
        got = sha256_of(path) if path.exists() else "missing"
        same = got == entry["sha256"] and path.stat().st_size == entry["size"]
        failures += not same
        print(f"{'same' if same else 'DIFFERENT':9} {name:16} {got}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
