#!/usr/bin/env bash
# Fetches the ONNX Runtime C API headers (Debian trixie's libonnxruntime-dev, 1.21) with
# `apt-get download` + `dpkg -x` into DIR/include (default DIR: third_party/onnxruntime, which git
# ignores). Nothing is installed system-wide and the headers are never committed.
#
# The build runs this itself (cmake/FastferOnnxRuntimeHeader.cmake, with --dest in the build
# folder) when it finds no header, so neither `pip install .` nor a plain CMake build needs it run
# by hand; run it to fetch the header once into the source tree for every later build. With the
# header, CMake builds fastfer::Session, which dlopen()s the libonnxruntime of the user's installed
# onnxruntime (or onnxruntime-gpu) wheel at run time; without it, Python drives onnxruntime.
#
# Idempotent: does nothing when the headers are already there. Exits 0 (with a message) when it
# cannot fetch them (no apt, no network), so a build never fails because of this script.
# Usage: bash tools/fetch_onnxruntime_headers.sh [--force] [--dest DIR]
set -u

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
top="$root/third_party/onnxruntime"
force=0
while [ $# -gt 0 ]; do
  case "$1" in
    --force) force=1 ;;
    --dest) [ $# -ge 2 ] || { echo "fetch_onnxruntime_headers: --dest needs a folder" >&2; exit 2; }
            top="$2"; shift ;;
    *) echo "fetch_onnxruntime_headers: unknown argument $1 (usage: [--force] [--dest DIR])" >&2; exit 2 ;;
  esac
  shift
done
dest="$top/include"
marker="$dest/onnxruntime_c_api.h"

skip() { echo "fetch_onnxruntime_headers: $*; fastfer will build without the native ONNX Runtime session." >&2; exit 0; }

if [ -f "$marker" ] && [ "$force" = 0 ]; then
  echo "fetch_onnxruntime_headers: headers already in $dest"
  exit 0
fi
command -v apt-get >/dev/null 2>&1 || skip "apt-get not found"
command -v dpkg >/dev/null 2>&1 || skip "dpkg not found"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/lists/partial" "$work/parts" "$work/x" "$work/cache/archives/partial"

# The machine's own Debian source (first deb822 stanza), with the suite switched to trixie.
if [ -f /etc/apt/sources.list.d/debian.sources ]; then
  awk '/^$/{exit} {print}' /etc/apt/sources.list.d/debian.sources \
    | sed 's/^Suites:.*/Suites: trixie/' > "$work/parts/trixie.sources"
else
  printf 'Types: deb\nURIs: http://deb.debian.org/debian\nSuites: trixie\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
    > "$work/parts/trixie.sources"
fi
opts=(-o Dir::Etc::SourceList=/dev/null -o "Dir::Etc::SourceParts=$work/parts"
      -o "Dir::State::Lists=$work/lists" -o "Dir::Cache=$work/cache" -o Debug::NoLocking=1
      -o APT::Sandbox::User=root
      # Offline machines: give up after one try rather than stall the build that runs this.
      -o Acquire::Retries=0 -o Acquire::http::Timeout=30 -o Acquire::https::Timeout=30)

if ! apt-get "${opts[@]}" -qq update >"$work/update.log" 2>&1; then
  skip "apt-get update for trixie failed (no network?): $(tail -n 1 "$work/update.log")"
fi
if ! (cd "$work" && apt-get "${opts[@]}" -qq download libonnxruntime-dev >"$work/download.log" 2>&1); then
  skip "cannot download libonnxruntime-dev: $(tail -n 1 "$work/download.log")"
fi
deb="$(ls "$work"/libonnxruntime-dev_*.deb 2>/dev/null | head -n 1)"
[ -n "$deb" ] || skip "libonnxruntime-dev .deb not found after download"
dpkg -x "$deb" "$work/x" || skip "dpkg -x failed on $deb"

src="$work/x/usr/include/onnxruntime"
[ -f "$src/onnxruntime_c_api.h" ] || skip "onnxruntime_c_api.h not in $(basename "$deb")"

# Only the C API headers (the C++ wrapper headers are not needed).
rm -rf "$dest"; mkdir -p "$dest" || skip "cannot create $dest"
for h in "$src"/onnxruntime_c_api.h "$src"/onnxruntime_float16.h; do
  [ -f "$h" ] && cp "$h" "$dest/"
done
# Copy the licence and record the origin next to the headers.
lic="$work/x/usr/share/doc/libonnxruntime-dev/copyright"
[ -f "$lic" ] && cp "$lic" "$top/COPYRIGHT.debian"
echo "$(basename "$deb")" > "$top/SOURCE"
ver="$(grep -m1 -E '#define ORT_API_VERSION' "$dest/onnxruntime_c_api.h" | awk '{print $3}')"
echo "fetch_onnxruntime_headers: ORT C API headers (ORT_API_VERSION $ver, from $(basename "$deb")) in $dest"
