"""``fastfer demo``: ``fastfer analyze --example --draw .``, saying where the drawing went."""

from __future__ import annotations

import argparse
from pathlib import Path

from . import common

HELP = "analyse the shipped photo and write ./astronaut.png, faces drawn"


def add_parser(sub) -> argparse.ArgumentParser:
    parser = sub.add_parser("demo", help=HELP)
    common.add_model_options(parser)
    return parser


def run(args: argparse.Namespace) -> int:
    fer = common.make_fer(args)
    failed, written = common.analyze_paths(fer, [common.EXAMPLE], draw_dir=Path("."), progress=False)
    if failed:
        return 1
    print(f"annotated image written to {written[common.EXAMPLE].resolve()}")
    return 0
