"""The ``fastfer`` command (also ``python -m fastfer``).

For now it has one sub-command, ``info``: what this installation runs on, and, given image files,
how fastfer reads them and the detector input it would build. Analysis commands come with the
models.
"""

from __future__ import annotations

import argparse
import json
import sys

import fastfer
from fastfer import kernels


def _info(args: argparse.Namespace) -> int:
    print(json.dumps(fastfer.capabilities(), indent=2))
    failed = 0
    for path in args.images:
        try:
            image = fastfer.load_image(path)
        except (OSError, fastfer.Error) as exc:
            print(f"{path}: error: {exc}", file=sys.stderr)
            failed += 1
            continue
        tensor, scale = kernels.detector_input(image, args.max_side)
        print(f"{path}: {image.shape[1]}x{image.shape[0]} BGR -> detector input "
              f"{tuple(tensor.shape)} (scale {scale:.4f})")
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="fastfer", description=fastfer.__doc__)
    parser.add_argument("--version", action="version", version=f"fastfer {fastfer.__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    info = sub.add_parser("info", help="show the backend and SIMD path; read images if given")
    info.add_argument("images", nargs="*", help="image files to read")
    info.add_argument("--max-side", type=int, default=640, help="detector input long side (default 640)")
    info.set_defaults(run=_info)
    args = parser.parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
