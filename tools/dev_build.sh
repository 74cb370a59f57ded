#!/usr/bin/env bash
# Development loop: rebuild fastfer._core into python/fastfer/ (git-ignored) with the .venv's
# pybind11, so that `.venv` (which imports fastfer from python/ through a .pth file) uses it.
#   tools/dev_build.sh            # Release build in build-dev/
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
cmake -S . -B build-dev -G Ninja -DCMAKE_BUILD_TYPE=Release -DSKBUILD=ON \
  -DPython_EXECUTABLE="$PY" -Dpybind11_DIR="$("$PY" -m pybind11 --cmakedir)" >/dev/null
cmake --build build-dev --target _core
cp build-dev/_core*.so python/fastfer/
