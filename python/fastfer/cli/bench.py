"""``fastfer bench``: end-to-end speed on real photos for every shipped detector × precision ×
size policy (:mod:`fastfer.eval.bench`); ``--pareto`` adds WIDER FACE AP and draws AP against ms."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from fastfer import models
from fastfer.eval import bench

from . import common

HELP = "measure images/s, latency percentiles and the per-stage split of analyze on real photos"


def _names(text: str) -> list:
    return [t.strip() for t in text.split(",") if t.strip()]


def _ints(text: str) -> list:
    try:
        values = [int(t) for t in _names(text)]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated whole numbers, got {text!r}") from None
    if not values or min(values) < 0:
        raise argparse.ArgumentTypeError(f"expected whole numbers >= 0, got {text!r}")
    return values


def _default_wider() -> Path:
    photos = bench.default_photos_dir()
    return (photos.parent if photos else Path("..") / "shared" / "data") / "detection" / "wider_val_dev"


def add_parser(sub) -> argparse.ArgumentParser:
    parser = sub.add_parser(
        "bench",
        help=HELP,
        description=(
            "Time FER end to end on real photos (../shared/data/photos beside the checkout, "
            "$FASTFER_SHARED/data/photos or --photos; else the shipped photo): photos with 1-3 faces "
            "fitted into 640x480 and 1920x1080, and a crowd at 1920x1080; analyze image by image "
            "(latency p50/p90/p99, images/s, per-stage split, share outside ONNX Runtime), "
            "analyze_batch, 2 ONNX Runtime threads, and 2 Python threads sharing one FER. One warm-up "
            "pass is excluded; --repeat rounds follow. Every shipped detector x precision (fp32, "
            "int8) x size policy (min_face 0 and the default) unless narrowed."
        ),
    )
    _add_selection(parser.add_argument_group("what to time"))
    _add_report_options(parser.add_argument_group("report"))
    return parser


def _add_selection(group) -> None:
    """The settings, scenes and modes timed, the rounds and the photos."""
    group.add_argument(
        "--detectors", type=_names, default=None, help="comma-separated detectors (default: every shipped one)"
    )
    group.add_argument(
        "--precision", type=_names, default=list(bench.PRECISIONS), help="fp32, int8 or both (default both)"
    )
    group.add_argument(
        "--min-face",
        type=_ints,
        default=None,
        dest="min_faces",
        help="comma-separated size policies (default: 0 and the library default)",
    )
    group.add_argument(
        "--scenes",
        type=_names,
        default=list(bench.SCENES),
        help=f"comma-separated, of {', '.join(bench.SCENES)} (default all)",
    )
    group.add_argument(
        "--modes",
        type=_names,
        default=list(bench.MODES),
        help=f"comma-separated, of {', '.join(bench.MODES)} (default all)",
    )
    group.add_argument(
        "--repeat",
        type=common.positive_int,
        default=5,
        help="timed rounds over the images after the warm-up (default 5)",
    )
    group.add_argument(
        "--quick", action="store_true", help="a short run: 640x480 only, analyze and 2 Python threads, 2 rounds"
    )
    group.add_argument("--photos", type=Path, default=None, help="folder of the photos")


def _add_report_options(group) -> None:
    """The report's form, and --pareto: AP against time, with its WIDER FACE folder and plot."""
    group.add_argument("--json", action="store_true", help="print the report as JSON")
    group.add_argument(
        "--pareto",
        action="store_true",
        help="WIDER FACE AP (official and --min-face) against ms per 640x480 image "
        "for every setting: a table (or --json) and a PNG (--png)",
    )
    group.add_argument(
        "--wider",
        type=Path,
        default=None,
        help="WIDER FACE folder for --pareto (default ../shared/data/detection/wider_val_dev)",
    )
    group.add_argument(
        "--min-face-eval",
        type=common.positive_int,
        default=None,
        help="--pareto: faces under this many pixels are ignore boxes in the "
        "--min-face score of settings with min_face 0 (default: the library's "
        "default min_face, else 32)",
    )
    group.add_argument("--png", default="bench_pareto.png", help="--pareto: the plot (default bench_pareto.png)")


def _say(text: str) -> None:
    print(f"fastfer bench: {text}", file=sys.stderr, flush=True)


def run(args: argparse.Namespace) -> int:
    if args.quick:
        args.scenes, args.modes, args.repeat = ["640x480"], ["analyze", "python_threads2"], 2
    unknown = [s for s in args.scenes if s not in bench.SCENES] + [m for m in args.modes if m not in bench.MODES]
    if unknown:
        raise common.UsageError(
            f"unknown scene or mode {unknown[0]!r} (scenes: {', '.join(bench.SCENES)}; modes: {', '.join(bench.MODES)})"
        )
    if args.photos is not None and not args.photos.is_dir():
        raise common.UsageError(f"--photos {args.photos}: not a folder")
    try:
        chosen = bench.settings(args.detectors, args.precision, args.min_faces)
    except models.ModelNotFoundError as exc:
        raise common.UsageError(f"{exc} (see `fastfer models`)") from None
    except ValueError as exc:
        raise common.UsageError(str(exc)) from None
    if not chosen:
        raise common.UsageError("no setting to measure (no int8 model for these detectors?)")
    if args.pareto:
        wider = args.wider or _default_wider()
        if not (wider / "images").is_dir():
            raise common.UsageError(f"--pareto needs the WIDER FACE images: {wider / 'images'} not found (--wider)")
        min_face_eval = args.min_face_eval or models.DEFAULT_MIN_FACE or 32
        report = bench.pareto(chosen, wider, min_face_eval, args.repeat, args.photos, _say)
        bench.write_pareto_png(report, args.png)
        print(json.dumps(report, indent=2) if args.json else bench.format_pareto(report))
        _say(f"plot written to {args.png}")
        return 0
    report = bench.run(chosen, args.scenes, args.modes, args.repeat, args.photos, _say)
    print(json.dumps(report, indent=2) if args.json else bench.format_table(report))
    return 0
