"""The documentation: the MkDocs site builds with --strict, and the README's links lead somewhere."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# What `mkdocs build` needs: the packages of the docs extra (pyproject.toml).
SITE_PACKAGES = ("mkdocs", "material", "mkdocstrings", "mkdocstrings_handlers.python")


def missing_site_packages() -> list[str]:
    missing = []
    for name in SITE_PACKAGES:
        try:
            found = importlib.util.find_spec(name) is not None
        except ModuleNotFoundError:  # the parent package of a dotted name is absent
            found = False
        if not found:
            missing.append(name)
    return missing


def test_site_builds_strictly(tmp_path):
    missing = missing_site_packages()
    if missing:
        pytest.skip(f'{", ".join(missing)} not installed (pip install ".[docs]")')
    site = tmp_path / "site"
    # strict: a broken link or anchor, a page left out of the nav, or a docstring that names a
    # parameter the signature lacks fails the build.
    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert (site / "index.html").is_file()
    api = (site / "api" / "index.html").read_text()
    for name in ("fastfer.FER", "fastfer.Face", "fastfer.load_image", "fastfer.ModelError"):
        assert name in api, f"{name} missing from the API reference"


def relative_links(markdown: str) -> list[str]:
    """The targets of the [text](target) links that point into the repository."""
    targets = re.findall(r"\]\(([^)\s]+)\)", markdown)
    return [t for t in targets if not re.match(r"[a-z]+:", t) and not t.startswith("#")]


def test_readme_links_lead_to_files_in_the_repository():
    readme = (ROOT / "README.md").read_text()
    links = relative_links(readme)
    assert "docs/index.md" in links
    broken = [t for t in links if not (ROOT / t.split("#")[0]).exists()]
    assert not broken, f"README.md links to missing files: {broken}"


def test_readme_stays_a_first_page():
    # Install, the two commands, a tour and links; the rest lives in docs/.
    assert len((ROOT / "README.md").read_text().splitlines()) < 250
