"""``fastfer models``: the shipped and registered models."""

from __future__ import annotations

import argparse
import json
import re

from fastfer import models

HELP = "list the shipped and registered models"


def add_parser(sub) -> argparse.ArgumentParser:
    parser = sub.add_parser("models", help=HELP)
    parser.add_argument("--json", action="store_true", help="a JSON list of every model's full spec")
    return parser


def _short_licence(text: str) -> str:
    text = re.sub(r"\s*\([^)]*\)", "", text)  # drop parenthesised remarks
    return text.split(";")[0].strip()


#: Longest description in the table (``--json`` gives the whole text).
DESCRIPTION_WIDTH = 76


def _short_description(text: str, width: int = DESCRIPTION_WIDTH) -> str:
    """The description's first clause in at most ``width`` characters, cut between words and
    never inside a parenthesis, ended with "..." when something was left out."""
    full = " ".join(text.split()).rstrip(".")
    short = re.split(r";|\. ", full, maxsplit=1)[0].strip()
    if len(short) > width:  # parenthesised remarks go first, then the last words
        short = re.sub(r"\s*\([^()]*\)", "", short)
    if len(short) > width:
        short = short[: width + 1].rsplit(" ", 1)[0]
    while short.count("(") > short.count(")"):  # an unclosed parenthesis: cut before it
        short = short[: short.rindex("(")]
    short = short.rstrip(" ,:-")
    return short if short == full else short + "..."


def _input_text(spec: models.ModelSpec) -> str:
    size = spec.input.size
    shown = "any size" if size == "dynamic" else "x".join(str(v) for v in size)
    return f"{shown} {spec.input.color}"


def run(args: argparse.Namespace) -> int:
    specs = [models.spec(name) for name in models.available()]
    if args.json:
        print(json.dumps([s.to_dict() for s in specs], indent=2))
        return 0
    rows = [("name", "task", "size (MB)", "input", "licence", "description")]
    for s in specs:
        size = "-" if s.size is None else f"{s.size / 1e6:.1f}"
        rows.append(
            (s.name, s.task, size, _input_text(s), _short_licence(s.license), _short_description(s.description))
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    for row in rows:
        cells = [
            cell.rjust(w) if i == 2 else cell.ljust(w)  # size right-aligned
            for i, (cell, w) in enumerate(zip(row, widths))
        ]
        print("  ".join(cells + [row[-1]]).rstrip())
    print(
        f"\ndefaults: {models.DEFAULT_DETECTOR} (detector), {models.DEFAULT_CLASSIFIER} (classifier); "
        f"licence texts: {models.NOTICES}; --json for every field"
    )
    return 0
