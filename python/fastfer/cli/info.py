"""``fastfer info [IMAGES]``: what this installation runs on; given images, how ``analyze``
with the same options would read them and the detector input it would build."""

from __future__ import annotations

import argparse
import json

import fastfer

from . import common

HELP = "show the backend, SIMD path and models; given images, what analyze would do with them"


def add_parser(sub) -> argparse.ArgumentParser:
    parser = sub.add_parser(
        "info",
        help=HELP,
        description=(
            "Print what this installation runs on (JSON). Given images, describe each as `fastfer "
            "analyze` with the same options would read it: its size and the detector input built from "
            "it. Exit status as analyze: 1 when some image cannot be read or does not exist."
        ),
    )
    parser.add_argument("images", nargs="*", help="image files (or - for standard input)")
    common.add_model_options(parser)
    return parser


def run(args: argparse.Namespace) -> int:
    print(json.dumps(fastfer.capabilities(), indent=2))
    if not args.images:
        return 0
    paths, missing = common.collect_inputs(args.images)
    for exc in missing:
        common.report_unreadable(exc.path, exc, as_json=False)
    fer = common.make_fer(args) if paths else None
    failed = len(missing)
    if fer is not None:
        print(
            f"models: detector {fer.detector.spec.name} (long side <= {fer.detector.max_side}), "
            f"classifier {fer.classifier.spec.name}; inference {fer.inference}"
        )
    for path in paths:
        image = common.load(path)
        if isinstance(image, Exception):
            common.report_unreadable(path, image, as_json=False)
            failed += 1
            continue
        tensor, scale = fer.detector.input_tensor(image)  # exactly the detector's own preprocessing
        print(
            f"{path}: {image.shape[1]}x{image.shape[0]} BGR -> detector input {tuple(tensor.shape)} (scale {scale:.4f})"
        )
    return 1 if failed else 0
