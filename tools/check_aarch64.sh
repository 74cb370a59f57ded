#!/usr/bin/env bash
# Cross-compiles the C++ core for aarch64 (NEON path + scalar path) with Debian's cross compiler
# and runs cpp/tests/simd_selfcheck.cpp under qemu-user: every SIMD level must equal scalar.
# Needs: apt-get install g++-aarch64-linux-gnu qemu-user
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(mktemp -d)
cxx=aarch64-linux-gnu-g++
flags="-std=c++17 -O2 -Wall -Wextra -ffp-contract=off -DFASTFER_HAVE_NEON=1 -Icpp/include -Icpp/src"
objs=()
for src in cpp/src/*.cpp cpp/src/simd/rowops_neon.cpp cpp/src/simd/rowops_dispatch.cpp \
           cpp/tests/simd_selfcheck.cpp; do
  # The ONNX Runtime session and pipeline need the ORT header and are not what this checks.
  case "$src" in cpp/src/session.cpp | cpp/src/pipeline*.cpp) continue ;; esac
  obj="$out/$(basename "$src").o"
  $cxx $flags -c "$src" -o "$obj"
  objs+=("$obj")
done
$cxx $flags -fno-tree-vectorize -fno-tree-slp-vectorize -c cpp/src/simd/rowops_scalar.cpp -o "$out/rowops_scalar.o"
$cxx -static "${objs[@]}" "$out/rowops_scalar.o" -o "$out/simd_selfcheck"
qemu-aarch64 "$out/simd_selfcheck"
