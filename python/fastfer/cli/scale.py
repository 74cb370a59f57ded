"""``fastfer analyze`` beyond one process: ``--workers N`` (every core of this machine) and
``--ray [ADDRESS] --parquet OUT/`` (a Ray cluster). The one-process path stays in
:func:`fastfer.cli.common.analyze_paths`.

- ``--workers N`` (default: the usable cores; 1 with CUDA first or an explicit ``--batch-size``,
  which are the batching path): N worker threads, each with its own models
  (``FER.analyze_many``); results printed in input order with one progress bar, the same
  outputs, per-image errors and exit status as one process.
- ``--ray [ADDRESS]``: a Ray Data job (:mod:`fastfer.scale.ray`) writing one Parquet row per face,
  per image without faces, and per unreadable image (its ``error``) under ``--parquet OUT/``.
  ``--workers`` is then the number of actors, ``--threads`` each actor's CPUs.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import Optional

from ..io.png import write_png
from . import common

# What --ray's optional value must look like to be taken as an address rather than the first
# PATH (`fastfer analyze --ray photos/ --parquet out/` means a local cluster and photos/).
_ADDRESS = re.compile(r"^(auto|local|[a-z][a-z0-9+.-]*://.*|[\w.\-]+:\d+)$", re.IGNORECASE)


def add_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--workers",
        type=common.positive_int,
        default=None,
        help="worker threads, each with its own models (default: the usable cores; 1 with "
        "--providers cuda,... or --batch-size); with --ray, the number of actors "
        "(default: as many as the cluster's CPUs allow, started as work comes)",
    )
    parser.add_argument(
        "--ray",
        nargs="?",
        const="",
        default=None,
        metavar="ADDRESS",
        help="run on a Ray cluster (pip install 'fastfer[ray]'): ADDRESS such as "
        "head:6379, ray://head:10001 or auto; without one, the cluster RAY_ADDRESS "
        "names, else a new local one. Needs --parquet",
    )
    parser.add_argument(
        "--parquet",
        metavar="OUT/",
        help="with --ray: write the rows (one per face, per image without faces, per "
        "unreadable image with its error) as Parquet files into the folder OUT/",
    )


def take_ray_inputs(args: argparse.Namespace) -> list:
    """With ``--ray``: takes the URIs (``s3://...``, read by the cluster itself) out of
    ``args.paths`` and returns them; ``--ray VALUE`` where VALUE is no address makes VALUE the
    first PATH. Without ``--ray``, checks that no Ray-only option was given."""
    if args.ray is None:
        if args.parquet is not None:
            raise common.UsageError("--parquet is written by --ray runs (without Ray: --csv or --json)")
        return []
    if args.ray and not _ADDRESS.match(args.ray):
        args.paths.insert(0, args.ray)
        args.ray = ""
    uris = [p for p in args.paths if "://" in p]
    args.paths = [p for p in args.paths if "://" not in p]
    return uris


def workers(args: argparse.Namespace, images: int) -> int:
    """How many worker threads ``--workers`` and its defaults give for ``images`` inputs."""
    from fastfer.scale.parallel import usable_cores

    batching = args.batch_size is not None and args.batch_size > 1
    if args.workers is not None:
        if args.workers > 1 and batching:
            raise common.UsageError(
                "--batch-size is for one worker (batched inference calls); "
                "with --workers N each worker analyses one image at a time"
            )
        count = args.workers
    elif batching or common.providers(args.providers)[0] == "cuda":
        count = 1  # the batching path; one GPU is better fed by batches than by many sessions
    else:
        count = usable_cores()
    return max(1, min(count, images))


def analyze_in_workers(
    fer,
    paths: list,
    count: int,
    *,
    as_json: bool,
    draw_dir: Optional[Path],
    progress: Optional[bool],
    csv_writer,
    no_faces=None,
) -> int:
    """``common.analyze_paths``' output from ``fer.analyze_many(workers=count)``: the number of
    unreadable inputs. Standard input is read here; files are read by the workers, and read
    again here only to draw them (a decode is cheap next to the analysis)."""
    show = (len(paths) > 3 and sys.stderr.isatty()) if progress is None else progress
    bar = common.Progress(len(paths), "analyze", show)
    inputs = [common.load(p) if p == common.STDIN else p for p in paths]
    results = fer.analyze_many((item for item in inputs if not isinstance(item, Exception)), workers=count)
    used: set = set()
    failed = 0
    for done, (path, item) in enumerate(zip(paths, inputs), 1):
        outcome = item if isinstance(item, Exception) else next(results)
        bar.clear(before_stderr=isinstance(outcome, Exception))
        if isinstance(outcome, Exception):
            failed += 1
            common.report_unreadable(path, outcome, as_json)
        else:
            target = None
            if draw_dir is not None:
                from fastfer.draw import draw

                target = draw_dir / common.output_name(path, used)
                write_png(
                    target, draw(item if path == common.STDIN else common.load(path), outcome), "the annotated image"
                )
            common.print_result(path, outcome, as_json, target)
        if csv_writer is not None:
            csv_writer.write(path, outcome)
        if no_faces is not None:
            no_faces.add(outcome)
        bar.update(done)
    bar.close()
    return failed


def run_on_ray(args: argparse.Namespace, paths: list, uris: list) -> tuple:
    """``--ray``: the Ray Data job, its rows written under ``--parquet``; unreadable images named
    on stderr from their error rows. Returns (images that could not be read, images)."""
    for option in ("json", "csv", "draw", "batch_size"):
        if getattr(args, option, None) not in (None, False):
            raise common.UsageError(
                f"--{option.replace('_', '-')} is not available with --ray (it writes Parquet: --parquet OUT/)"
            )
    if args.parquet is None:
        raise common.UsageError("--ray needs --parquet OUT/ (the folder its Parquet files go to)")
    if common.STDIN in paths:
        raise common.UsageError("- (standard input) is not available with --ray: give files")
    out = _parquet_folder(args.parquet)
    common.make_fer(args)  # model names, providers and options checked here, before any cluster
    try:
        import ray

        import fastfer.scale.ray as fastfer_ray
    except ImportError as exc:  # Ray is an extra: say how to install it
        raise common.UsageError(f'--ray needs Ray ({exc}): pip install "fastfer[ray]"') from None
    if not ray.is_initialized():
        ray.init(address=args.ray or None, logging_level="warning")
    if args.progress is False:
        ray.data.DataContext.get_current().enable_progress_bars = False
    options = {k: v for k, v in common.fer_options(args).items() if k != "threads"}
    dataset = fastfer_ray.analyze(
        [*map(str, paths), *uris],
        actors=args.workers,
        cpus_per_actor=args.threads,
        detector=args.detector,
        classifier=args.classifier,
        max_pixels=args.max_pixels,
        **options,
    )
    dataset.write_parquet(out)
    return _report_parquet(out)


def _parquet_folder(text: str) -> str:
    """--parquet's folder, made here, and empty: the summary reads back what this run wrote. A URI
    (s3://..., for a cluster whose nodes share no disk) is passed on to Ray as it is."""
    if "://" in text:
        return text
    folder = common.output_folder(text, "--parquet")
    if any(folder.iterdir()):
        raise common.UsageError(f"--parquet {text}: the folder is not empty (give a new one)")
    return str(folder)


def _report_parquet(out: str) -> tuple:
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    table = pq.read_table(out, columns=["path", "face", "error"])
    errors = table.filter(pc.is_valid(table["error"])).to_pylist()
    for row in errors:
        print(f"{row['path']}: error: {row['error']}", file=sys.stderr)
    images = len(set(table["path"].to_pylist()))
    faces = int(pc.sum(pc.is_valid(table["face"])).as_py() or 0)
    print(
        f"{images} image{'s' if images != 1 else ''}, {faces} face{'s' if faces != 1 else ''}, "
        f"{len(errors)} unreadable: Parquet in {out}"
    )
    return len(errors), images
