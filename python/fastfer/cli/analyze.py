"""``fastfer analyze PATH...``: every face of every image with its expression."""

from __future__ import annotations

import argparse
import sys

from . import common, scale

HELP = "find the faces of images and their expressions"


def add_parser(sub) -> argparse.ArgumentParser:
    parser = sub.add_parser(
        "analyze",
        help=HELP,
        description=(
            "Find every face of the images and its expression. Outputs (--csv, --draw's files) that "
            "exist are overwritten without asking; one that is an input is refused. Exit status 0: all "
            "read; 1: some input could not be read or does not exist (each named on stderr, the others "
            "still analysed); 2: usage error (also an output that is an input)."
        ),
    )
    parser.add_argument(
        "paths",
        nargs="*",
        metavar="PATH",
        help="image files, folders (their images), globs such as 'photos/*.jpg', or - for one image on standard input",
    )
    parser.add_argument("--example", action="store_true", help="also analyse the photo shipped with fastfer")
    parser.add_argument("--recursive", "-r", action="store_true", help="include images in sub-folders; ** in globs")
    parser.add_argument(
        "--json",
        action="store_true",
        help='one JSON object per line and image: {"path", "faces": [...]} or {"path", "error"}',
    )
    parser.add_argument(
        "--csv",
        metavar="OUT.csv",
        help="also write one row per face (path, box, score, landmarks, label, probabilities; "
        "a row with only the path for an image without faces); overwrites OUT.csv",
    )
    parser.add_argument(
        "--draw",
        metavar="OUTDIR",
        help="write annotated images as OUTDIR/<name>.png (overwriting files of those names)",
    )
    parser.add_argument(
        "--batch-size",
        type=common.positive_int,
        default=None,
        help="images per FER.analyze_batch call (default 8 with --providers cuda,...; "
        "1 on the CPU, where batching does not pay)",
    )
    parser.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="progress bar on stderr (default: when stderr is a terminal and there are more than 3 images)",
    )
    common.add_model_options(parser)
    scale.add_options(parser)
    return parser


def batch_size(args: argparse.Namespace) -> int:
    """--batch-size, else 8 when CUDA comes first and 1 on the CPU: on the CPU, ONNX Runtime runs
    a batch of N images no faster than N single calls (slower for large or mixed-size images,
    which are padded to the largest of their call), while decoding already overlaps inference."""
    if args.batch_size is None:
        return 8 if common.providers(args.providers)[0] == "cuda" else 1
    return args.batch_size


def run(args: argparse.Namespace) -> int:
    size = batch_size(args)
    uris = scale.take_ray_inputs(args)  # --ray: its address and the URIs the cluster reads
    paths, missing = common.collect_inputs(args.paths, args.recursive)
    if args.example:
        paths.append(common.EXAMPLE)
    if not paths and not missing and not uris:
        if args.paths:
            raise common.UsageError(common.no_images_message(args.paths, args.recursive))
        raise common.UsageError("give image files, folders, globs or - to analyze (or --example)")
    if args.ray is not None:
        for exc in missing:
            common.report_unreadable(exc.path, exc, False)
        failed, images = scale.run_on_ray(args, paths, uris) if paths or uris else (0, 0)
        return _summary(failed + len(missing), images + len(missing))
    workers = scale.workers(args, len(paths))
    common.refuse_same_file(paths, {"--csv": args.csv})  # before the CSV is opened (truncated)
    draw_dir = common.output_folder(args.draw, "--draw")
    common.refuse_drawing_over_inputs(draw_dir, paths)
    fer = common.make_fer(args) if paths else None
    for exc in missing:  # reported first, like unreadable files; the rest is still analysed
        common.report_unreadable(exc.path, exc, args.json)
    csv_writer, no_faces = common.CsvWriter(args.csv), common.NoFaces(args.min_face)
    try:
        if workers > 1:
            failed = scale.analyze_in_workers(
                fer,
                paths,
                workers,
                as_json=args.json,
                draw_dir=draw_dir,
                progress=args.progress,
                csv_writer=csv_writer,
                no_faces=no_faces,
            )
        else:
            failed, _ = common.analyze_paths(
                fer,
                paths,
                as_json=args.json,
                draw_dir=draw_dir,
                batch_size=size,
                progress=args.progress,
                csv_writer=csv_writer,
                no_faces=no_faces,
            )
    finally:
        csv_writer.close()
    no_faces.note()
    failed += len(missing)
    return _summary(failed, len(paths) + len(missing))


def _summary(failed: int, total: int) -> int:
    if failed:
        print(f"fastfer: {failed} of {total} input{'s' if total != 1 else ''} could not be read", file=sys.stderr)
    return 1 if failed else 0
