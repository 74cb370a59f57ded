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


def _line_end(text: str, i: int, *, continued: bool) -> int:
    """Where the line at i ends (before its newline); with ``continued``, past backslash-newlines."""
    end = i
    while end < len(text) and (text[end] != "\n" or (continued and text[end - 1] == "\\")):
        end += 1
    return end


def _literal_end(text: str, i: int) -> int:
    """Where the string or character literal opening at i ends (past its closing quote)."""
    if text[i] == "R":  # a raw string: R"delim( ... )delim"
        delim = text[i + 2 : text.index("(", i + 2)]
        return text.index(")" + delim + '"', i) + len(delim) + 2
    end = i + 1
    while end < len(text) and text[end] != text[i]:
        end += 2 if text[end] == "\\" else 1
    return end + 1


def _non_code_end(text: str, i: int, at_line_start: bool) -> int | None:
    """Where the comment, literal or preprocessor line opening at i ends; None if none opens."""
    ch = text[i]
    after_word = i > 0 and (text[i - 1].isalnum() or text[i - 1] == "_")
    if at_line_start and ch == "#":
        return _line_end(text, i, continued=True)
    if text.startswith("//", i):
        return _line_end(text, i, continued=False)
    if text.startswith("/*", i):
        end = text.find("*/", i + 2)
        return len(text) if end < 0 else end + 2
    if (text.startswith('R"', i) and not after_word) or ch == '"' or (ch == "'" and not after_word):
        return _literal_end(text, i)  # a quote after a word character is a digit separator
    return None


def blank_non_code(text: str) -> str:
    """The text with comments, literals and preprocessor lines replaced by spaces (newlines kept)."""
    out = list(text)
    i = 0
    at_line_start = True
    while i < len(text):
        end = _non_code_end(text, i, at_line_start)
        if end is None:
            at_line_start = text[i] == "\n" or (at_line_start and text[i].isspace())
            i += 1
            continue
        for k in range(i, end):
            if out[k] != "\n":
                out[k] = " "
        at_line_start = False
        i = end
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


class _BraceWalk:
    """The function definitions of one blanked text, found by matching its braces."""

    def __init__(self, text: str, shown_as: str):
        self.text, self.shown_as = text, shown_as
        self.found: list[Function] = []
        self.stack: list[tuple[str, int, str]] = []  # (kind, first line, name)
        self.header_start = 0

    def in_function(self) -> bool:
        return any(kind == "function" for kind, _, _ in self.stack)

    def open(self, pos: int, line: int) -> None:
        if self.in_function():
            self.stack.append(("block", line, ""))
            return
        header = self.text[self.header_start : pos]
        kind = _classify(header)
        if kind == "function":
            body = _ACCESS_LABEL.sub(lambda m: "\n" * m.group(0).count("\n"), header)
            offset = len(body) - len(body.lstrip())
            first = line - body.count("\n") + body[:offset].count("\n")
            self.stack.append((kind, first, _name(header)))
            return
        self.stack.append((kind, line, ""))
        if kind != "member initializer":
            self.header_start = pos + 1

    def close(self, pos: int, line: int) -> None:
        kind, first, name = self.stack.pop()
        if kind == "function":
            self.found.append(Function(self.shown_as, name, first, line))
        if kind != "member initializer" and not self.in_function():
            self.header_start = pos + 1

    def run(self) -> list[Function]:
        line = 1
        for pos, ch in enumerate(self.text):
            if ch == "\n":
                line += 1
            elif ch == ";" and not self.in_function():
                self.header_start = pos + 1
            elif ch == "{":
                self.open(pos, line)
            elif ch == "}" and self.stack:
                self.close(pos, line)
        return self.found


def functions_in(path: Path, shown_as: str) -> list[Function]:
    return _BraceWalk(blank_non_code(path.read_text(encoding="utf-8")), shown_as).run()


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
