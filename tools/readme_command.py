#!/usr/bin/env python3
"""Print one of the two commands README.md starts with: `install` (install and analyse a photo)
or `test` (run the tests). `.ci/run` runs the test command from here, so that CI runs exactly
what a newcomer copies (tests/test_package.py holds the README to this shape)."""

from __future__ import annotations

import re
import sys
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"


def readme_commands(text: str) -> dict:
    blocks = re.findall(r"```sh\n(.*?)\n```", text, flags=re.S)
    if len(blocks) < 2:
        raise SystemExit(f"{README}: expected two ```sh blocks at the top, found {len(blocks)}")
    return {"install": blocks[0].strip(), "test": blocks[1].strip()}


if __name__ == "__main__":
    which = sys.argv[1] if len(sys.argv) == 2 else ""
    commands = readme_commands(README.read_text())
    if which not in commands:
        raise SystemExit("usage: tools/readme_command.py install|test")
    print(commands[which])
