"""The ``fastfer`` command (also ``python -m fastfer``): one module per command, the shared parts
in :mod:`fastfer.cli.common`.

- ``fastfer analyze PATH...``: every face of every image with its expression (text, ``--json``
  lines, ``--csv``, ``--draw``).
- ``fastfer video IN``: every face of a video or camera, tracked (annotated video, JSON lines,
  per-track summary; exit status 1 also when the video ends early, truncated or corrupt).
- ``fastfer demo``: analyse the shipped photo and draw it.
- ``fastfer info [IMAGES]``: what this installation runs on, and what analyze would do with IMAGES.
- ``fastfer models``: the shipped and registered models.
- ``fastfer eval widerface|fer2013|folder``: detector and classifier evaluations.

Exit status: 0 on success; 1 when some input could not be read or does not exist (the others are
still processed, each failure reported on stderr naming the file); 2 for usage errors (no inputs,
an unknown model or provider, a bad option value, an output that is an input, ...), each in one
line; 130 when interrupted. Outputs that exist are overwritten.

A command module has ``HELP``, ``add_parser(subparsers)`` and ``run(args) -> int``; add new
commands to :data:`COMMANDS`. This package is the top layer: it may import every other layer of
fastfer, and only ``fastfer.__main__`` and the console script import it.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

import fastfer

from .common import UsageError

COMMANDS = ("analyze", "video", "demo", "info", "models", "eval", "bench", "serve")
"""Modules of this package, one per command, in the order ``fastfer --help`` lists them."""

DESCRIPTION = (
    "fastfer finds every face of an image and says its expression (angry, disgust, fear, "
    "happy, sad, surprise, neutral) with probabilities, boxes and 5 landmarks."
)


class _Parser(argparse.ArgumentParser):
    """argparse with its errors in one line (``fastfer analyze: error: ...``, exit status 2), as
    the other usage errors, instead of the whole usage first; ``--help`` still prints it all.
    The commands' parsers are of this class too (argparse makes sub-parsers of the parent's)."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def quiet_opencv() -> None:
    """OpenCV's and FFmpeg's own log lines (``moov atom not found``, ``[ WARN:0] ... cap_v4l``)
    off: the command says what went wrong in its own line. Values set in the environment
    (``OPENCV_LOG_LEVEL``, ``OPENCV_FFMPEG_LOGLEVEL``) are kept, to debug a source."""
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")  # AV_LOG_QUIET; read when FFmpeg starts
    if "OPENCV_LOG_LEVEL" not in os.environ:
        import cv2

        cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="fastfer", description=DESCRIPTION)
    parser.add_argument("--version", action="version", version=f"fastfer {fastfer.__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    for name in COMMANDS:
        module = importlib.import_module(f"{__name__}.{name}")
        command = module.add_parser(sub)
        if command.get_default("run") is None:
            command.set_defaults(run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    quiet_opencv()
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except BrokenPipeError:  # e.g. `fastfer analyze ... | head`: stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except KeyboardInterrupt:
        print("\nfastfer: interrupted", file=sys.stderr)
        return 130
    except (UsageError, OSError, ValueError, ImportError, fastfer.Error) as exc:  # a clear line, not a traceback
        print(f"fastfer: error: {exc}", file=sys.stderr)
        return 2
