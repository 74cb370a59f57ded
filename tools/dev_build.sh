#!/usr/bin/env bash
# Development loop: rebuild fastfer._core into python/fastfer/ (git-ignored) with the .venv's
# pybind11, so that `.venv` (which imports fastfer from python/ through a .pth file) uses it.
#   tools/dev_build.sh            # Release build in build-dev/
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
# scikit-build-core passes the project version; without it _core.__version__ would be empty.
VERSION=$(sed -n 's/^__version__ *= *"\([0-9.]*\)".*/\1/p' python/fastfer/_version.py)
cmake -S . -B build-dev -G Ninja -DCMAKE_BUILD_TYPE=Release -DSKBUILD=ON -DSKBUILD_PROJECT_VERSION="$VERSION" \
  -DPython_EXECUTABLE="$PY" -Dpybind11_DIR="$("$PY" -m pybind11 --cmakedir)" >/dev/null
cmake --build build-dev --target _core
# Copy then rename: a process that has the old module mapped (a test run) keeps its file, where
# copying over it in place would crash that process.
for so in build-dev/_core*.so; do
  cp "$so" "python/fastfer/.$(basename "$so").tmp" && mv -f "python/fastfer/.$(basename "$so").tmp" "python/fastfer/$(basename "$so")"
done
