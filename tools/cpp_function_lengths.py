"""The length in lines of every C++ function definition under cpp/ (and examples/cpp/).

How it measures: comments, string and character literals and preprocessor lines are blanked out
(newlines kept), then the braces are matched. A ``{`` outside any function opens a function body
when the text before it (since the last ``;``, ``{`` or ``}``, and after any ``public:``-style
label) has a parenthesis and ends with ``)``, optionally followed by qualifiers (``const``,
``noexcept``, ``override``, ``final``, a trailing return type) or a constructor's member
initialiser list; ``namespace``/``class``/``struct``/``enum`` headers open scopes, anything else
(an aggregate initialiser) is skipped. A function's length counts every line from the first line
of its signature to the line of its closing brace, both included, blank and comment lines too.
Lambdas and blocks inside a function count as part of it; a lambda at namespace scope counts as a
function of its own.

    python tools/cpp_function_lengths.py             # the 15 longest
    python tools/cpp_function_lengths.py --all       # every function, longest first
    python tools/cpp_function_lengths.py --over 80   # those of 80 lines or more; exit 1 if any
"""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCE_DIRS = ("cpp", "examples/cpp")
SUFFIXES = (".cpp", ".h", ".inl")

_SCOPE = re.compile(r"\b(namespace|class|struct|union|enum|extern)\b")
_ACCESS_LABEL = re.compile(r"^.*\b(public|private|protected)\s*:(?!:)", re.S)
_QUALIFIERS = r"(\s*(const|noexcept|override|final|mutable|volatile|&&|&|->\s*[\w:<>,\s*&]+))*"
_FUNCTION_END = re.compile(r"\)" + _QUALIFIERS + r"\s*$")
_NAME = re.compile(r"([~\w:]+|operator\s*\S+)\s*\($")


@dataclass(frozen=True)
class Function:
    path: str
    name: str
    first_line: int
    last_line: int

    @property
    def lines(self) -> int:
        return self.last_line - self.first_line + 1


def blank_non_code(text: str) -> str:
    """The text with comments, literals and preprocessor lines replaced by spaces (newlines kept)."""
    out = list(text)
    i, n = 0, len(text)
    at_line_start = True

    def blank(start: int, end: int) -> None:
        for k in range(start, end):
            if out[k] != "\n":
                out[k] = " "

    while i < n:
        ch = text[i]
        if at_line_start and ch == "#":
            end = i
            while end < n and (text[end] != "\n" or text[end - 1] == "\\"):
                end += 1
            blank(i, end)
            i = end
            continue
        if ch == "\n":
            at_line_start = True
            i += 1
            continue
        if not ch.isspace():
            at_line_start = False
        if text.startswith("//", i):
            end = text.find("\n", i)
            end = n if end < 0 else end
            blank(i, end)
            i = end
        elif text.startswith("/*", i):
            end = text.find("*/", i + 2)
            end = n if end < 0 else end + 2
            blank(i, end)
            i = end
        elif text.startswith('R"', i) and (i == 0 or not (text[i - 1].isalnum() or text[i - 1] == "_")):
            delim = text[i + 2 : text.index("(", i + 2)]
            end = text.index(")" + delim + '"', i) + len(delim) + 2
            blank(i, end)
            i = end
        elif ch in "\"'" and not (ch == "'" and i > 0 and text[i - 1].isalnum()):
            end = i + 1
            while end < n and text[end] != ch:
                end += 2 if text[end] == "\\" else 1
            blank(i, end + 1)
            i = end + 1
        else:
            i += 1
    return "".join(out)


def _classify(header: str) -> str:
    header = _ACCESS_LABEL.sub("", header).strip()
    if "(" not in header:
        return "scope" if _SCOPE.search(header) else "initializer"
    if _FUNCTION_END.search(header) or re.search(r"\)\s*(noexcept\s*)?:[^:].*\)\s*$", header, re.S):
        return "function"
    if re.search(r"\)\s*(noexcept\s*)?:[^:]", header):
        return "member initializer"  # a brace-initialised member: the body comes later
    return "scope" if _SCOPE.search(header) and "=" not in header else "initializer"


def _name(header: str) -> str:
    header = _ACCESS_LABEL.sub("", header)
    depth = 0
    for k, ch in enumerate(header):
        if ch == "(":
            if depth == 0:
                match = _NAME.search(header[: k + 1])
                return match.group(1) if match else "(lambda)"
            depth += 1
        elif ch == ")":
            depth -= 1
    return "?"


def functions_in(path: Path, shown_as: str) -> list[Function]:
    text = blank_non_code(path.read_text(encoding="utf-8"))
    found: list[Function] = []
    stack: list[tuple[str, int, str]] = []  # (kind, first line, name)
    header_start = 0
    line = 1
    for pos, ch in enumerate(text):
        if ch == "\n":
            line += 1
        elif ch == ";" and not any(kind == "function" for kind, _, _ in stack):
            header_start = pos + 1
        elif ch == "{":
            if any(kind == "function" for kind, _, _ in stack):
                stack.append(("block", line, ""))
                continue
            header = text[header_start:pos]
            kind = _classify(header)
            if kind == "function":
                body = _ACCESS_LABEL.sub(lambda m: "\n" * m.group(0).count("\n"), header)
                offset = len(body) - len(body.lstrip())
                first = line - body.count("\n") + body[:offset].count("\n")
                stack.append((kind, first, _name(header)))
            else:
                stack.append((kind, line, ""))
                if kind != "member initializer":
                    header_start = pos + 1
        elif ch == "}" and stack:
            kind, first, name = stack.pop()
            if kind == "function":
                found.append(Function(shown_as, name, first, line))
            if kind != "member initializer" and not any(k == "function" for k, _, _ in stack):
                header_start = pos + 1
    return found


def all_functions(root: Path = ROOT) -> list[Function]:
    found: list[Function] = []
    for folder in SOURCE_DIRS:
        for path in sorted((root / folder).rglob("*")):
            if path.suffix in SUFFIXES and path.is_file():
                found.extend(functions_in(path, str(path.relative_to(root))))
    return sorted(found, key=lambda f: -f.lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--all", action="store_true", help="list every function")
    parser.add_argument("--over", type=int, metavar="N", help="list those of N lines or more; exit 1 if any")
    args = parser.parse_args(argv)
    functions = all_functions()
    if args.over is not None:
        shown = [f for f in functions if f.lines >= args.over]
    else:
        shown = functions if args.all else functions[:15]
    for f in shown:
        print(f"{f.lines:5d}  {f.path}:{f.first_line}  {f.name}")
    return 1 if args.over is not None and shown else 0


if __name__ == "__main__":
    sys.exit(main())
