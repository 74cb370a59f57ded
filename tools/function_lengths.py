"""The longest functions of fastfer's Python package, measured with ``ast``: the length of a
function is ``end_lineno - lineno + 1`` of its ``def`` (decorators excluded, nested functions
counted in their parent and on their own).

    python tools/function_lengths.py            # the 10 longest, longest first
    python tools/function_lengths.py --top 30
"""

from __future__ import annotations

import argparse
import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "python" / "fastfer"


def python_function_lengths(root: Path = PACKAGE) -> list[tuple[int, str]]:
    """(lines, "path:line name") for every def and async def under ``root``, longest first."""
    found = []
    for path in sorted(root.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                where = f"{path.relative_to(root.parent)}:{node.lineno} {node.name}"
                found.append((node.end_lineno - node.lineno + 1, where))
    return sorted(found, reverse=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--top", type=int, default=10, help="how many to list (default 10)")
    args = parser.parse_args()
    for lines, where in python_function_lengths()[: args.top]:
        print(f"{lines:5d}  {where}")


if __name__ == "__main__":
    main()
