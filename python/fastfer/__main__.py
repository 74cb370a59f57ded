"""The ``fastfer`` command (also ``python -m fastfer``).

- ``fastfer analyze PATH... [--json] [--draw OUTDIR]``: every face of every image with its
  expression. PATHs are image files, folders (their images; ``--recursive`` for sub-folders) and
  globs (expanded here too, for shells that do not); ``--example`` adds the shipped photo.
- ``fastfer models [--json]``: the shipped and registered models.
- ``fastfer demo``: ``fastfer analyze --example --draw .``, saying where the drawing went.
- ``fastfer info [IMAGES]``: what this installation runs on; given image files, how fastfer reads
  them and the detector input it would build.
- ``fastfer eval widerface DIR``: the official WIDER FACE protocol (easy / medium / hard AP) for a
  shipped detector on the images under DIR.
- ``fastfer eval fer2013 PATH``: a classifier's accuracy, per-class precision/recall/F1 and
  confusion matrix on a FER2013 split (PATH: fer2013.npz, Kaggle fer2013.csv or image folders).
- ``fastfer eval folder DIR``: the same on DIR/<expression>/* images (each image a whole crop).

Exit status: 0 on success; 1 when some input image could not be read (the others are still
processed, each failure is reported on stderr naming the file); 2 for usage errors (no inputs,
a path that does not exist, an unknown model or provider, ...).
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import re
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Iterator, Optional, Sequence

import fastfer
from fastfer.models import DEFAULT_CLASSIFIER, DEFAULT_DETECTOR
from fastfer import kernels

IMAGE_EXTENSIONS = frozenset((".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".gif",
                              ".ppm", ".pgm"))
EXAMPLE = Path(__file__).resolve().parent / "data" / "astronaut.jpg"
_GLOB_CHARS = re.compile(r"[*?[]")


class UsageError(Exception):
    """A mistake in the command line: reported as ``fastfer: error: ...`` with exit status 2."""


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
                        providers=_providers(args.providers))

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


def _make_classifier(args: argparse.Namespace):
    from .classifier import Classifier

    if args.threads < 1:
        raise UsageError(f"--threads must be at least 1, got {args.threads}")
    if args.batch < 1:
        raise UsageError(f"--batch must be at least 1, got {args.batch}")
    try:
        return Classifier(args.classifier, threads=args.threads, providers=_providers(args.providers))
    except fastfer.ModelNotFoundError as exc:
        raise UsageError(f"{exc} (see `fastfer models`)") from None


def _report_eval(args: argparse.Namespace, result: dict, title: str, png: str) -> None:
    from . import fer2013

    fer2013.write_confusion_png(result, png, title=title)
    if args.json:
        print(json.dumps(result))
    else:
        print(title)
        print(fer2013.format_report(result))
        print(f"confusion matrix: {png}")


def _eval_fer2013(args: argparse.Namespace) -> int:
    import numpy as np
    from . import fer2013

    classifier = _make_classifier(args)
    images, labels, splits = fer2013.read(args.path)
    split = args.split
    if splits is None:
        split = "all"  # a source without a Usage column: every row
    elif split != "all":
        keep = splits == split
        if not keep.any():
            raise UsageError(f"{args.path} has no {split} rows (it has {', '.join(sorted(set(splits)))})")
        images, labels = images[keep], labels[keep]
    bar = _Progress(len(images), "eval fer2013", sys.stderr.isatty())
    probs = []
    for i in range(0, len(images), args.batch):
        probs.append(classifier.classify(images[i:i + args.batch]))
        bar.update(i + len(probs[-1]))
    bar.close()
    result = dict(fer2013.evaluate(np.concatenate(probs), labels), split=split, classifier=args.classifier)
    png = args.png or f"fer2013_{args.classifier}_{split}.png"
    _report_eval(args, result, f"FER2013 {split}, {args.classifier}", png)
    return 0


def _eval_folder(args: argparse.Namespace) -> int:
    import numpy as np
    from . import fer2013

    classifier = _make_classifier(args)
    files, labels, skipped = fer2013.read_folder(args.dir)
    for name, count in skipped.items():
        print(f"skipped folder {name!r} ({count} images): not one of the expressions "
              f"{', '.join(fastfer.LABELS)} or a synonym", file=sys.stderr)
    bar = _Progress(len(files), "eval folder", sys.stderr.isatty())
    probs, kept, failed, done = [], [], 0, 0
    for batch, loaded in _loaded_batches(files, args.batch):
        good = [k for k, image in enumerate(loaded) if not isinstance(image, Exception)]
        bar.clear(before_stderr=len(good) < len(batch))
        for path, image in zip(batch, loaded):
            if isinstance(image, Exception):
                failed += 1
                print(f"{path}: error: {image}", file=sys.stderr)
        if good:
            probs.append(classifier.classify([loaded[k] for k in good]))
            kept += [done + k for k in good]
        done += len(batch)
        bar.update(done)
    bar.close()
    if not kept:
        raise UsageError(f"none of the {len(files)} images under {args.dir} could be read")
    name = Path(args.dir).resolve().name
    result = dict(fer2013.evaluate(np.concatenate(probs), labels[kept]), split=None,
                  classifier=args.classifier, skipped=skipped, unreadable=failed)
    png = args.png or f"folder_{name}_{args.classifier}.png"
    _report_eval(args, result, f"{name}, {args.classifier}", png)
    return 1 if failed else 0


def _is_image(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_EXTENSIONS and path.is_file()


def _folder_images(folder: Path, recursive: bool) -> list:
    if not recursive:
        return sorted(p for p in folder.iterdir() if _is_image(p))
    found = []
    for root, dirs, files in os.walk(folder):
        dirs.sort()
        found.extend(p for p in (Path(root) / f for f in sorted(files)) if _is_image(p))
    return found


def collect_inputs(paths: Sequence[str], recursive: bool = False) -> list:
    """The image files named by ``paths``, in order, each once: a file as is (whatever its
    extension: the user named it), a folder's images (by extension, sorted; sub-folders with
    ``recursive``), a glob's matches as if each had been given (``**`` with ``recursive``).
    A path that does not exist, or a glob that matches nothing, is a UsageError."""
    out, seen = [], set()

    def add(path: Path) -> None:
        key = os.path.realpath(path)
        if key not in seen:
            seen.add(key)
            out.append(path)

    for arg in paths:
        path = Path(arg)
        if path.is_dir():
            for image in _folder_images(path, recursive):
                add(image)
        elif path.exists():
            add(path)
        elif _GLOB_CHARS.search(arg):
            matches = sorted(glob.glob(arg, recursive=recursive))
            if not matches:
                raise UsageError(f"no files match {arg!r}")
            for match in map(Path, matches):
                if match.is_dir():
                    for image in _folder_images(match, recursive):
                        add(image)
                else:
                    add(match)
        else:
            raise UsageError(f"no such file or folder: {arg!r}")
    return out


def _providers(text: str) -> tuple:
    names = tuple(p.strip().lower() for p in text.split(",") if p.strip())
    if not names:
        raise UsageError(f"--providers needs a provider name (e.g. cpu or cuda,cpu), got {text!r}")
    return names


def _make_fer(args: argparse.Namespace) -> "fastfer.FER":
    if args.threads < 1:
        raise UsageError(f"--threads must be at least 1, got {args.threads}")
    try:
        return fastfer.FER(args.detector, args.classifier, providers=_providers(args.providers),
                           threads=args.threads)
    except fastfer.ModelNotFoundError as exc:
        raise UsageError(f"{exc} (see `fastfer models`)") from None


def _load(path: Path):
    """The image, or the exception saying why it cannot be read (never raised here)."""
    try:
        return fastfer.load_image(path)
    except (OSError, fastfer.Error) as exc:
        return exc


def _loaded_batches(paths: list, size: int) -> Iterator[tuple]:
    """(paths, images or exceptions) per batch of ``size``; the next batch is decoded in the
    background while the caller runs inference on this one."""
    batches = [paths[i:i + size] for i in range(0, len(paths), size)]
    with ThreadPoolExecutor(max_workers=2) as pool:
        pending = [pool.submit(_load, p) for p in batches[0]] if batches else []
        for k, batch in enumerate(batches):
            loaded = [future.result() for future in pending]
            pending = [pool.submit(_load, p) for p in batches[k + 1]] if k + 1 < len(batches) else []
            yield batch, loaded


class _Progress:
    """The team's progress bar (:func:`fastfer.widerface._progress`) under this command's name,
    erased while results are printed so that the two never share a terminal line."""

    def __init__(self, total: int, label: str, show: bool):
        self.total, self.label, self.show = total, label, show
        self.start, self.shown, self.done = time.perf_counter(), 0.0, 0
        self.tty = show and sys.stderr.isatty()
        self.drawn = False  # a bar is on stderr's current line

    def clear(self, before_stderr: bool) -> None:
        """Call before printing: on a terminal the bar's line is erased (it is drawn again by
        the next update); elsewhere it is ended with a newline if stderr text follows."""
        if self.drawn and (self.tty or before_stderr):
            sys.stderr.write("\r\033[K" if self.tty else "\n")
            sys.stderr.flush()
            self.drawn = False

    def update(self, done: int) -> None:
        self.done = done
        if not self.show or (done < self.total and time.perf_counter() - self.shown < 0.1):
            return
        from .widerface import _progress

        _progress(done, self.total, self.start, self.label)
        self.shown, self.drawn = time.perf_counter(), True

    def close(self) -> None:
        if self.drawn:
            sys.stderr.write("\n")
            sys.stderr.flush()
            self.drawn = False


def _output_name(path: Path, used: set) -> str:
    """``<stem>.png``, or ``<stem>_2.png``, ``<stem>_3.png``... for later inputs of the same stem."""
    name, count = f"{path.stem}.png", 1
    while name.lower() in used:
        count += 1
        name = f"{path.stem}_{count}.png"
    used.add(name.lower())
    return name


def _write_png(path: Path, image) -> None:
    import cv2

    ok, data = cv2.imencode(".png", image)
    if not ok:
        raise OSError(f"cannot encode the annotated image for {path}")
    path.write_bytes(data.tobytes())  # OSError names the file if the folder is not writable


def _face_rows(faces: list) -> list:
    rows = [f"  {'face':>4}  {'box (x1, y1, x2, y2)':<24} {'score':>6}  {'label':<9} {'prob':>5}"]
    for i, face in enumerate(faces, 1):
        box = ", ".join(f"{v:.0f}" for v in face.box)
        prob = f"{float(face.probs.max()):.2f}" if face.probs is not None else "-"
        rows.append(f"  {i:>4}  {box:<24} {face.score:>6.3f}  {face.label or '-':<9} {prob:>5}")
    return rows


def _print_result(path: Path, faces: list, as_json: bool, drawn: Optional[Path]) -> None:
    if as_json:
        record = {"path": str(path), "faces": [face.to_dict() for face in faces]}
        if drawn is not None:
            record["drawn"] = str(drawn)
        print(json.dumps(record))
    else:
        count = f"{len(faces)} face{'s' if len(faces) != 1 else ''}" if faces else "no faces"
        print(f"{path}: {count}" + (f" (drawn: {drawn})" if drawn is not None else ""))
        if faces:
            print("\n".join(_face_rows(faces)))
    sys.stdout.flush()


def analyze_paths(fer: "fastfer.FER", paths: list, *, as_json: bool = False,
                  draw_dir: Optional[Path] = None, batch_size: int = 8,
                  progress: Optional[bool] = None) -> tuple:
    """Runs ``fer`` over ``paths`` in batches and prints one result per image, in order.
    Returns (number of unreadable inputs, {input path: annotated image path})."""
    show = (len(paths) > 3 and sys.stderr.isatty()) if progress is None else progress
    bar = _Progress(len(paths), "analyze", show)
    used: set = set()
    written: dict = {}
    failed = done = 0
    if draw_dir is not None:
        draw_dir.mkdir(parents=True, exist_ok=True)
    for batch, loaded in _loaded_batches(paths, batch_size):
        # Images of similar size side by side: the detector pads each inference call to its
        # largest image, so this wastes less work. Results are put back in input order.
        good = sorted((k for k, image in enumerate(loaded) if not isinstance(image, Exception)),
                      key=lambda k: loaded[k].shape[:2])
        results = dict(zip(good, fer.analyze_batch([loaded[k] for k in good])))
        bar.clear(before_stderr=len(good) < len(loaded))
        for k, (path, image) in enumerate(zip(batch, loaded)):
            if isinstance(image, Exception):
                failed += 1
                print(f"{path}: error: {image}", file=sys.stderr)
                if as_json:
                    print(json.dumps({"path": str(path), "error": str(image)}))
                    sys.stdout.flush()
                continue
            faces = results[k]
            target = None
            if draw_dir is not None:
                from fastfer.draw import draw

                target = draw_dir / _output_name(path, used)
                _write_png(target, draw(image, faces))
                written[path] = target
            _print_result(path, faces, as_json, target)
        done += len(batch)
        bar.update(done)
    bar.close()
    return failed, written


def _batch_size(args: argparse.Namespace) -> int:
    """--batch-size, else 8 when CUDA comes first and 1 on the CPU: on the CPU, ONNX Runtime runs
    a batch of N images no faster than N single calls (slower for large or mixed-size images,
    which are padded to the largest of their call), while decoding already overlaps inference."""
    if args.batch_size is None:
        return 8 if _providers(args.providers)[0] == "cuda" else 1
    if args.batch_size < 1:
        raise UsageError(f"--batch-size must be at least 1, got {args.batch_size}")
    return args.batch_size


def _analyze(args: argparse.Namespace) -> int:
    batch_size = _batch_size(args)
    paths = collect_inputs(args.paths, args.recursive)
    if args.example:
        paths.append(EXAMPLE)
    if not paths:
        if args.paths:
            raise UsageError(f"no images ({', '.join(sorted(IMAGE_EXTENSIONS))}) in "
                             f"{', '.join(args.paths)}")
        raise UsageError("give image files, folders or globs to analyze (or --example)")
    fer = _make_fer(args)
    failed, _ = analyze_paths(fer, paths, as_json=args.json,
                              draw_dir=Path(args.draw) if args.draw is not None else None,
                              batch_size=batch_size, progress=args.progress)
    if failed:
        print(f"fastfer: {failed} of {len(paths)} input{'s' if len(paths) != 1 else ''} "
              "could not be read", file=sys.stderr)
    return 1 if failed else 0


def _demo(args: argparse.Namespace) -> int:
    fer = _make_fer(args)
    failed, written = analyze_paths(fer, [EXAMPLE], draw_dir=Path("."), progress=False)
    if failed:
        return 1
    print(f"annotated image written to {written[EXAMPLE].resolve()}")
    return 0


def _short_licence(text: str) -> str:
    text = re.sub(r"\s*\([^)]*\)", "", text)  # drop parenthesised remarks
    return text.split(";")[0].strip()


def _short_description(text: str) -> str:
    return re.split(r";|\. ", text, maxsplit=1)[0].strip().rstrip(".")


def _input_text(spec) -> str:
    size = spec.input.get("size")
    if size == "dynamic":
        size = "any size"
    elif isinstance(size, (list, tuple)):
        size = "x".join(str(v) for v in size)
    return f"{size} {spec.input.get('color', '?')}"


def _models(args: argparse.Namespace) -> int:
    from . import models

    specs = [models.spec(name) for name in models.available()]
    if args.json:
        print(json.dumps([s.to_dict() for s in specs], indent=2))
        return 0
    rows = [("name", "task", "size (MB)", "input", "licence", "description")]
    for s in specs:
        size = "-" if s.size is None else f"{s.size / 1e6:.1f}"
        rows.append((s.name, s.task, size, _input_text(s), _short_licence(s.license),
                     _short_description(s.description)))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    for row in rows:
        cells = [cell.rjust(w) if i == 2 else cell.ljust(w)  # size right-aligned
                 for i, (cell, w) in enumerate(zip(row, widths))]
        print("  ".join(cells + [row[-1]]).rstrip())
    print("\ndefaults: retinaface_mbv2 (detector), mini_xception (classifier); licence texts: "
          f"{models.NOTICES}; --json for every field")
    return 0


def _add_model_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--detector", default=DEFAULT_DETECTOR,
                        help=f"detector model (default {DEFAULT_DETECTOR}; see fastfer models)")
    parser.add_argument("--classifier", default=DEFAULT_CLASSIFIER,
                        help=f"expression classifier model (default {DEFAULT_CLASSIFIER})")
    parser.add_argument("--threads", type=int, default=1,
                        help="ONNX Runtime intra-op threads per model (default 1)")
    parser.add_argument("--providers", default="cpu",
                        help="execution providers in priority order, comma-separated, e.g. cuda,cpu (default cpu)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="fastfer", description=fastfer.__doc__)
    parser.add_argument("--version", action="version", version=f"fastfer {fastfer.__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    info = sub.add_parser("info", help="show the backend and SIMD path; read images if given")
    info.add_argument("images", nargs="*", help="image files to read")
    info.add_argument("--max-side", type=int, default=640, help="detector input long side (default 640)")
    info.set_defaults(run=_info)

    analyze = sub.add_parser("analyze", help="find the faces of images and their expressions",
                             description="Find every face of the images and its expression. "
                             "Exit status 0: all read; 1: some input could not be read (reported "
                             "on stderr, the others still analysed); 2: usage error.")
    analyze.add_argument("paths", nargs="*", metavar="PATH",
                         help="image files, folders (their images) or globs such as 'photos/*.jpg'")
    analyze.add_argument("--example", action="store_true",
                         help="also analyse the photo shipped with fastfer")
    analyze.add_argument("--recursive", "-r", action="store_true",
                         help="include images in sub-folders; ** in globs")
    analyze.add_argument("--json", action="store_true",
                         help='one JSON object per line and image: {"path", "faces": [...]} or {"path", "error"}')
    analyze.add_argument("--draw", metavar="OUTDIR", help="write annotated images as OUTDIR/<name>.png")
    analyze.add_argument("--batch-size", type=int, default=None,
                         help="images per FER.analyze_batch call (default 8 with --providers cuda,...; "
                         "1 on the CPU, where batching does not pay)")
    analyze.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                         help="progress bar on stderr (default: when stderr is a terminal and there "
                         "are more than 3 images)")
    _add_model_options(analyze)
    analyze.set_defaults(run=_analyze)

    models = sub.add_parser("models", help="list the shipped and registered models")
    models.add_argument("--json", action="store_true", help="a JSON list of every model's full spec")
    models.set_defaults(run=_models)

    demo = sub.add_parser("demo", help="analyse the shipped photo and write ./astronaut.png, faces drawn")
    _add_model_options(demo)
    demo.set_defaults(run=_demo)

    evaluate = sub.add_parser("eval", help="evaluate models on a data set")
    eval_sub = evaluate.add_subparsers(dest="dataset", required=True)
    wider = eval_sub.add_parser("widerface", help="WIDER FACE val: easy/medium/hard AP (official protocol)")
    wider.add_argument("dir", help="folder with images/<event>/<file>.jpg and ground_truth/*.mat")
    wider.add_argument("--detector", default=DEFAULT_DETECTOR, help=f"detector model (default {DEFAULT_DETECTOR})")
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
    fer = eval_sub.add_parser("fer2013", help="FER2013: a classifier's accuracy, per-class F1, confusion matrix",
                              description="Classify the 48x48 faces of a FER2013 split (no detector) and "
                              "score them. PATH: fer2013.npz, Kaggle fer2013.csv, or a folder with "
                              "train/<class>/ and test/<class>/ (Kaggle image layout).")
    fer.add_argument("path", metavar="PATH", help="fer2013.npz, fer2013.csv or a Kaggle image folder")
    fer.add_argument("--split", default="PrivateTest", choices=("PrivateTest", "PublicTest", "Training", "all"),
                     help="which faces (default PrivateTest)")
    folder = eval_sub.add_parser("folder", help="a classifier on DIR/<expression>/* images (whole-image crops)",
                                 description="Classify every image under DIR/<expression>/ as a whole face "
                                 "crop and score it. Folder names are matched case-insensitively, with "
                                 "synonyms (anger, happiness, sadness, surprised, ...); others (contempt, "
                                 "calm, ...) are reported and skipped.")
    folder.add_argument("dir", metavar="DIR", help="folder with one sub-folder per expression")
    for p in (fer, folder):
        p.add_argument("--json", action="store_true",
                       help='print {"accuracy", "per_class", "macro_f1", "confusion", "split", "n", ...}')
        p.add_argument("--png", help="where to write the confusion matrix (default fer2013_<classifier>_<split>.png "
                       "or folder_<dir name>_<classifier>.png)")
        p.add_argument("--batch", type=int, default=64, help="faces per classifier call (default 64)")
        p.add_argument("--classifier", default=DEFAULT_CLASSIFIER,
                       help=f"expression classifier model (default {DEFAULT_CLASSIFIER}; no detector is used)")
        p.add_argument("--threads", type=int, default=1, help="ONNX Runtime intra-op threads (default 1)")
        p.add_argument("--providers", default="cpu",
                       help="execution providers in priority order, comma-separated, e.g. cuda,cpu (default cpu)")
        p.set_defaults(run=_eval_fer2013 if p is fer else _eval_folder)
    args = parser.parse_args(argv)
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


if __name__ == "__main__":
    sys.exit(main())
