"""``fastfer eval widerface|fer2013|folder``: detector AP on WIDER FACE, classifier accuracy on
FER2013 or on an image-folder set."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import fastfer
from fastfer.core.detector import DEFAULT_MAX_SIDE, DEFAULT_NMS_IOU
from fastfer.models import DEFAULT_CLASSIFIER, DEFAULT_DETECTOR

from . import common

HELP = "evaluate models on a data set"


def add_parser(sub) -> argparse.ArgumentParser:
    parser = sub.add_parser("eval", help=HELP)
    eval_sub = parser.add_subparsers(dest="dataset", required=True)
    _add_widerface_parser(eval_sub)
    _add_fer2013_parser(eval_sub)
    _add_folder_parser(eval_sub)
    return parser


def _add_widerface_parser(eval_sub) -> argparse.ArgumentParser:
    """``eval widerface``: a detector's AP, with the detection options the protocol needs."""
    wider = eval_sub.add_parser("widerface", help="WIDER FACE val: easy/medium/hard AP (official protocol)")
    wider.add_argument("dir", help="folder with images/<event>/<file>.jpg and ground_truth/*.mat")
    wider.add_argument("--detector", default=DEFAULT_DETECTOR, help=f"detector model (default {DEFAULT_DETECTOR})")
    wider.add_argument(
        "--max-side",
        type=common.positive_int,
        default=DEFAULT_MAX_SIDE,
        help=f"shrink images whose long side exceeds this (default {DEFAULT_MAX_SIDE}: WIDER FACE at original size)",
    )
    wider.add_argument(
        "--score-threshold",
        type=float,
        default=0.02,
        help="lowest score kept (default 0.02: the PR curve needs low-score detections)",
    )
    wider.add_argument("--nms-iou", type=float, default=DEFAULT_NMS_IOU, help=f"NMS IoU (default {DEFAULT_NMS_IOU})")
    wider.add_argument(
        "--min-face",
        type=common.non_negative_int,
        default=0,
        help="run the detector as FER(min_face=N) does and score faces under N px as ignore "
        "boxes; the official protocol's AP of the same detections is shown beside it "
        "(default 0: the official protocol only)",
    )
    wider.add_argument("--json", action="store_true", help='print {"easy": .., "medium": .., "hard": ..} only')
    wider.add_argument("--png", help="where to write the PR curves (default widerface_<detector>_<max-side>.png)")
    common.add_runtime_options(wider)
    wider.set_defaults(run=_widerface)
    return wider


def _add_fer2013_parser(eval_sub) -> argparse.ArgumentParser:
    """``eval fer2013``: a classifier's scores on a FER2013 split."""
    fer = eval_sub.add_parser(
        "fer2013",
        help="FER2013: a classifier's accuracy, per-class F1, confusion matrix",
        description="Classify the 48x48 faces of a FER2013 split (no detector) and "
        "score them. PATH: fer2013.npz, Kaggle fer2013.csv, or a folder with "
        "train/<class>/ and test/<class>/ (Kaggle image layout).",
    )
    fer.add_argument("path", metavar="PATH", help="fer2013.npz, fer2013.csv or a Kaggle image folder")
    fer.add_argument(
        "--split",
        default="PrivateTest",
        choices=("PrivateTest", "PublicTest", "Training", "all"),
        help="which faces (default PrivateTest)",
    )
    _add_classifier_options(fer)
    fer.set_defaults(run=_fer2013)
    return fer


def _add_folder_parser(eval_sub) -> argparse.ArgumentParser:
    """``eval folder``: a classifier's scores on an image-folder set."""
    folder = eval_sub.add_parser(
        "folder",
        help="a classifier on DIR/<class>/* images (whole-image crops)",
        description="Classify every image under DIR/<class>/ as a whole face "
        "crop and score it. Class folders are expression names, matched "
        "case-insensitively with synonyms (anger, happiness, sadness, "
        "surprised, ...), or numbers 0..6 (1..7 where there is a 7 and no 0) in the order "
        "--order names; others (contempt, calm, ...) are reported and skipped.",
    )
    folder.add_argument("dir", metavar="DIR", help="folder with one sub-folder per expression")
    _add_classifier_options(folder)
    folder.set_defaults(run=_folder)
    return folder


def _add_classifier_options(p: argparse.ArgumentParser) -> None:
    """The options ``eval fer2013`` and ``eval folder`` share: class order, outputs, classifier, runtime."""
    p.add_argument(
        "--order",
        default="fer2013",
        choices=("fer2013", "rafdb", "affectnet"),
        help="class order of numbered folders: fer2013 (angry, disgust, fear, happy, sad, "
        "surprise, neutral; default), rafdb (surprise, fear, disgust, happiness, sadness, "
        "anger, neutral) or affectnet (neutral, happy, sad, surprise, fear, disgust, anger)",
    )
    p.add_argument(
        "--json",
        action="store_true",
        help='print {"accuracy", "per_class", "macro_f1", "confusion", "split", "n", ...}',
    )
    p.add_argument(
        "--png",
        help="where to write the confusion matrix (default fer2013_<classifier>_<split>.png "
        "or folder_<dir name>_<classifier>.png)",
    )
    p.add_argument("--batch", type=common.positive_int, default=64, help="faces per classifier call (default 64)")
    p.add_argument(
        "--classifier",
        default=DEFAULT_CLASSIFIER,
        help=f"expression classifier model (default {DEFAULT_CLASSIFIER}; no detector is used)",
    )
    common.add_runtime_options(p)


def run(args: argparse.Namespace) -> int:
    return args.run(args)


def _widerface(args: argparse.Namespace) -> int:
    from fastfer.core.detector import Detector
    from fastfer.eval import widerface

    detector = Detector(
        args.detector,
        score_threshold=args.score_threshold,
        nms_iou=args.nms_iou,
        max_side=args.max_side,
        min_face=args.min_face,
        threads=args.threads,
        providers=common.providers(args.providers),
    )

    def detect(image):
        found = detector.detect(image)
        return found.boxes, found.scores

    # progress bar on stderr when a terminal
    result = widerface.run_widerface(args.dir, detect, min_face=args.min_face)
    png = args.png or f"widerface_{args.detector}_{args.max_side}.png"
    widerface.write_pr_curves_png(result, png)
    if args.json:
        aps = {s: float(result["ap"][s]) for s in widerface.SETTINGS}
        if args.min_face:
            aps = {**aps, "official": {s: float(v) for s, v in result["official_ap"].items()}}
        print(json.dumps(aps))
    else:
        policy = f", min_face {args.min_face}" if args.min_face else ""
        print(f"{args.detector}, long side <= {args.max_side}{policy}, score >= {args.score_threshold}")
        print(widerface.format_table(result))
        if args.min_face:
            print(
                "official protocol (every face counted), same detections: "
                + " / ".join(f"{s} {result['official_ap'][s]:.4f}" for s in widerface.SETTINGS)
            )
        print(f"PR curves: {png}")
    return 0


def _make_classifier(args: argparse.Namespace):
    from fastfer.core.classifier import Classifier

    try:
        return Classifier(args.classifier, threads=args.threads, providers=common.providers(args.providers))
    except fastfer.ModelNotFoundError as exc:
        raise common.UsageError(f"{exc} (see `fastfer models`)") from None


def _report(args: argparse.Namespace, result: dict, title: str, png: str) -> None:
    from fastfer.eval import fer2013

    fer2013.write_confusion_png(result, png, title=title)
    if args.json:
        print(json.dumps(result))
    else:
        print(title)
        print(fer2013.format_report(result))
        print(f"confusion matrix: {png}")


def _fer2013(args: argparse.Namespace) -> int:
    import numpy as np

    from fastfer.eval import fer2013

    classifier = _make_classifier(args)
    images, labels, splits = fer2013.read(args.path, args.order)
    split = args.split
    if splits is None:
        split = "all"  # a source without a Usage column: every row
    elif split != "all":
        keep = splits == split
        if not keep.any():
            raise common.UsageError(f"{args.path} has no {split} rows (it has {', '.join(sorted(set(splits)))})")
        images, labels = images[keep], labels[keep]
    bar = common.Progress(len(images), "eval fer2013", sys.stderr.isatty())
    probs = []
    for i in range(0, len(images), args.batch):
        probs.append(classifier.classify(images[i : i + args.batch]))
        bar.update(i + len(probs[-1]))
    bar.close()
    result = dict(fer2013.evaluate(np.concatenate(probs), labels), split=split, classifier=args.classifier)
    png = args.png or f"fer2013_{args.classifier}_{split}.png"
    _report(args, result, f"FER2013 {split}, {args.classifier}", png)
    return 0


def _folder(args: argparse.Namespace) -> int:
    import numpy as np

    from fastfer.eval import fer2013

    classifier = _make_classifier(args)
    files, labels, skipped = fer2013.read_folder(args.dir, args.order)
    for name, count in skipped.items():
        print(
            f"skipped folder {name!r} ({count} images): not one of the expressions "
            f"{', '.join(fastfer.LABELS)}, a synonym or a class number",
            file=sys.stderr,
        )
    bar = common.Progress(len(files), "eval folder", sys.stderr.isatty())
    probs, kept, failed, done = [], [], 0, 0
    for batch, loaded in common.loaded_batches(files, args.batch):
        good = [k for k, image in enumerate(loaded) if not isinstance(image, Exception)]
        bar.clear(before_stderr=len(good) < len(batch))
        for path, image in zip(batch, loaded):
            if isinstance(image, Exception):
                failed += 1
                common.report_unreadable(path, image, as_json=False)
        if good:
            probs.append(classifier.classify([loaded[k] for k in good]))
            kept += [done + k for k in good]
        done += len(batch)
        bar.update(done)
    bar.close()
    if not kept:
        raise common.UsageError(f"none of the {len(files)} images under {args.dir} could be read")
    name = Path(args.dir).resolve().name
    result = dict(
        fer2013.evaluate(np.concatenate(probs), labels[kept]),
        split=None,
        classifier=args.classifier,
        skipped=skipped,
        unreadable=failed,
    )
    png = args.png or f"folder_{name}_{args.classifier}.png"
    _report(args, result, f"{name}, {args.classifier}", png)
    return 1 if failed else 0
