"""The ``fastfer`` command (also ``python -m fastfer``).

- ``fastfer info [IMAGES]``: what this installation runs on; given image files, how fastfer reads
  them and the detector input it would build.
- ``fastfer eval widerface DIR``: the official WIDER FACE protocol (easy / medium / hard AP) for a
  shipped detector on the images under DIR.
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


def _eval_widerface(args: argparse.Namespace) -> int:
    from . import widerface
    from .detector import Detector

    detector = Detector(args.detector, score_threshold=args.score_threshold, nms_iou=args.nms_iou,
                        max_side=args.max_side, threads=args.threads,
                        providers=tuple(args.providers.split(",")))

    def detect(image):
        found = detector.detect(image)
        return found.boxes, found.scores

    result = widerface.run_widerface(args.dir, detect)  # progress bar on stderr when a terminal
    png = args.png or f"widerface_{args.detector}_{args.max_side}.png"
    widerface.write_pr_curves_png(result, png)
    if args.json:
        print(json.dumps({s: float(result["ap"][s]) for s in widerface.SETTINGS}))
    else:
        print(f"{args.detector}, long side <= {args.max_side}, score >= {args.score_threshold}")
        print(widerface.format_table(result))
        print(f"PR curves: {png}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="fastfer", description=fastfer.__doc__)
    parser.add_argument("--version", action="version", version=f"fastfer {fastfer.__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    info = sub.add_parser("info", help="show the backend and SIMD path; read images if given")
    info.add_argument("images", nargs="*", help="image files to read")
    info.add_argument("--max-side", type=int, default=640, help="detector input long side (default 640)")
    info.set_defaults(run=_info)

    evaluate = sub.add_parser("eval", help="evaluate models on a data set")
    eval_sub = evaluate.add_subparsers(dest="dataset", required=True)
    wider = eval_sub.add_parser("widerface", help="WIDER FACE val: easy/medium/hard AP (official protocol)")
    wider.add_argument("dir", help="folder with images/<event>/<file>.jpg and ground_truth/*.mat")
    wider.add_argument("--detector", default="retinaface_mbv2", help="detector model (default retinaface_mbv2)")
    wider.add_argument("--max-side", type=int, default=1600,
                       help="shrink images whose long side exceeds this (default 1600: WIDER FACE at original size)")
    wider.add_argument("--score-threshold", type=float, default=0.02,
                       help="lowest score kept (default 0.02: the PR curve needs low-score detections)")
    wider.add_argument("--nms-iou", type=float, default=0.4, help="NMS IoU (default 0.4)")
    wider.add_argument("--threads", type=int, default=1, help="ONNX Runtime intra-op threads (default 1)")
    wider.add_argument("--providers", default="cpu", help="execution providers, comma-separated (default cpu)")
    wider.add_argument("--json", action="store_true", help='print {"easy": .., "medium": .., "hard": ..} only')
    wider.add_argument("--png", help="where to write the PR curves (default widerface_<detector>_<max-side>.png)")
    wider.set_defaults(run=_eval_widerface)
    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except (OSError, ValueError, fastfer.Error) as exc:  # a clear line, not a traceback
        print(f"fastfer: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
