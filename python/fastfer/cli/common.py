"""What the commands share: usage errors, input collection, model options, the progress bar and
result output (text, JSON lines, CSV, drawings)."""

from __future__ import annotations

import argparse
import csv
import errno
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
from fastfer.io.image_header import IMAGE_EXTENSIONS
from fastfer.io.png import write_png
from fastfer.models import DEFAULT_CLASSIFIER, DEFAULT_DETECTOR

EXAMPLE = Path(fastfer.__file__).resolve().parent / "data" / "astronaut.jpg"
VIDEO_EXTENSIONS = frozenset((".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv", ".flv"))
STDIN = Path("-")  # `-` on the command line: one encoded image read from standard input
# Standard input is read whole before decoding; past this it is refused rather than buffered.
MAX_STDIN_BYTES = 256 * 1024 * 1024
_GLOB_CHARS = re.compile(r"[*?[]")


class UsageError(Exception):
    """A mistake in the command line: reported as ``fastfer: error: ...`` with exit status 2."""


class MissingInput(OSError):
    """A named path that does not exist: reported like an unreadable image (exit status 1)."""

    def __init__(self, path: str, reason: str):
        super().__init__(reason)
        self.path = path


# ------------------------------------------------------------------------------------ inputs


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


def _glob_files(pattern: str, recursive: bool) -> list:
    """The files a glob matches, in order: a matched folder gives its images."""
    found = []
    for match in map(Path, sorted(glob.glob(pattern, recursive=recursive))):
        found.extend(_folder_images(match, recursive) if match.is_dir() else [match])
    return found


def _missing_reason(path: Path) -> str:
    """Why a path that does not exist cannot be read: a symlink loop and a broken link say so."""
    if not path.is_symlink():
        return "no such file or folder"
    try:
        os.stat(path)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "a symlink loop (its links lead back to themselves)"
    return f"a broken symlink (its target {os.readlink(path)} does not exist)"


def collect_inputs(paths: Sequence[str], recursive: bool = False) -> tuple:
    """(inputs, missing): the image files named by ``paths``, in order, each once — a file as is
    (whatever its extension: the user named it), a folder's images (by extension, sorted;
    sub-folders with ``recursive``), a glob's matches as if each had been given (``**`` with
    ``recursive``), ``-`` for standard input — and a :class:`MissingInput` for each path that
    does not exist or glob that matches nothing (the caller reports them and goes on)."""
    out, missing, seen = [], [], set()
    for arg in paths:
        path = Path(arg)
        if arg == "-":
            found = [STDIN]
        elif path.is_dir():
            found = _folder_images(path, recursive)
        elif path.exists():
            found = [path]
        elif _GLOB_CHARS.search(arg):
            found = _glob_files(arg, recursive)
            if not found:
                missing.append(MissingInput(arg, "no files match this pattern"))
        else:
            found = []
            missing.append(MissingInput(arg, _missing_reason(path)))
        for item in found:
            key = "-" if item == STDIN else os.path.realpath(item)
            if key not in seen:
                seen.add(key)
                out.append(item)
    return out, missing


def no_images_message(paths: Sequence[str], recursive: bool) -> str:
    """Why nothing was found under ``paths``, with the -r hint when sub-folders hold images."""
    text = f"no images ({', '.join(sorted(IMAGE_EXTENSIONS))}) in {', '.join(paths)}"
    if not recursive:
        nested = sum(len(_folder_images(Path(p), True)) for p in paths if Path(p).is_dir())
        if nested:
            text += f"; {nested} image{'s' if nested != 1 else ''} in sub-folders: add -r (--recursive)"
    return text


def load(path: Path):
    """The image, or the exception saying why it cannot be read (never raised here)."""
    try:
        if path == STDIN:
            data = sys.stdin.buffer.read(MAX_STDIN_BYTES + 1)
            if len(data) > MAX_STDIN_BYTES:
                raise fastfer.InvalidImageError(
                    f"standard input: more than {MAX_STDIN_BYTES >> 20} MiB; pass a file instead"
                )
            if not data:
                raise fastfer.InvalidImageError("standard input: empty (pipe an encoded image into `-`)")
            return fastfer.load_image(data)
        return fastfer.load_image(path)
    except (OSError, fastfer.Error) as exc:
        return exc


def error_text(exc: BaseException, path=None) -> str:
    """One line for an unreadable input; the pixel cap's says how to raise it from here, and a
    video file's points to the command that reads videos."""
    text = str(exc)
    if isinstance(exc, fastfer.ImageTooLargeError):
        text += " (raise the cap with --max-pixels N or the FASTFER_MAX_PIXELS environment variable)"
    elif path is not None and Path(str(path)).suffix.lower() in VIDEO_EXTENSIONS:
        text += f" (a video? use `fastfer video {path}`)"
    return text


def loaded_batches(paths: list, size: int) -> Iterator[tuple]:
    """(paths, images or exceptions) per batch of ``size``; the next batch is decoded in the
    background while the caller runs inference on this one."""
    batches = [paths[i : i + size] for i in range(0, len(paths), size)]
    with ThreadPoolExecutor(max_workers=2) as pool:
        pending = [pool.submit(load, p) for p in batches[0]] if batches else []
        for k, batch in enumerate(batches):
            loaded = [future.result() for future in pending]
            pending = [pool.submit(load, p) for p in batches[k + 1]] if k + 1 < len(batches) else []
            yield batch, loaded


# ------------------------------------------------------------------------------- the models


def _int_at_least(minimum: int, rule: str):
    """An argparse type: a whole number of at least ``minimum`` (``rule`` says so in errors)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be {rule}, got {value}")
        return value

    return parse


positive_int = _int_at_least(1, "at least 1")
non_negative_int = _int_at_least(0, "0 or more")


def providers(text: str) -> tuple:
    names = tuple(p.strip().lower() for p in text.split(",") if p.strip())
    if not names:
        raise UsageError(f"--providers needs a provider name (e.g. cpu or cuda,cpu), got {text!r}")
    return names


def add_runtime_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--threads", type=positive_int, default=1, help="ONNX Runtime intra-op threads per model (default 1)"
    )
    parser.add_argument(
        "--providers",
        default="cpu",
        help="execution providers in priority order, comma-separated, e.g. cuda,cpu (default cpu)",
    )


def add_model_options(parser: argparse.ArgumentParser) -> None:
    """The FER options every command that analyses images takes (FER's own defaults)."""
    defaults = fer_defaults()
    parser.add_argument(
        "--detector", default=DEFAULT_DETECTOR, help=f"detector model (default {DEFAULT_DETECTOR}; see fastfer models)"
    )
    parser.add_argument(
        "--classifier", default=DEFAULT_CLASSIFIER, help=f"expression classifier model (default {DEFAULT_CLASSIFIER})"
    )
    parser.add_argument(
        "--score-threshold", type=float, default=None, help="lowest detection score kept (default: the detector's own)"
    )
    parser.add_argument(
        "--max-side",
        type=positive_int,
        default=defaults["max_side"],
        help=f"shrink images whose long side exceeds this before detection (default {defaults['max_side']})",
    )
    parser.add_argument(
        "--min-face",
        type=non_negative_int,
        default=defaults["min_face"],
        help="smallest face looked for, in pixels (long side): the image is shrunk to "
        f"match and smaller faces are dropped; 0 = every face (default {defaults['min_face']})",
    )
    parser.add_argument(
        "--max-faces",
        type=positive_int,
        default=defaults["max_faces"],
        help=f"most faces reported per image (default {defaults['max_faces']})",
    )
    parser.add_argument(
        "--max-pixels",
        type=positive_int,
        default=None,
        help=f"refuse images of more pixels than this (default: FASTFER_MAX_PIXELS, else {fastfer.get_max_pixels():,})",
    )
    add_runtime_options(parser)


def fer_defaults() -> dict:
    """FER's keyword defaults, so that the command line and the API never disagree."""
    import inspect

    return {
        name: p.default
        for name, p in inspect.signature(fastfer.FER).parameters.items()
        if p.default is not inspect.Parameter.empty
    }


def fer_options(args: argparse.Namespace) -> dict:
    """FER's keyword arguments from the command line's model options."""
    return dict(
        providers=providers(args.providers),
        threads=args.threads,
        score_threshold=args.score_threshold,
        max_side=args.max_side,
        max_faces=args.max_faces,
        min_face=args.min_face,
    )


def make_fer(args: argparse.Namespace) -> "fastfer.FER":
    if getattr(args, "max_pixels", None) is not None:
        fastfer.set_max_pixels(args.max_pixels)
    try:
        return fastfer.FER(args.detector, args.classifier, **fer_options(args))
    except fastfer.ModelNotFoundError as exc:
        raise UsageError(f"{exc} (see `fastfer models`)") from None


# ------------------------------------------------------------------------------- progress


class Progress:
    """The team's progress bar (:func:`fastfer._progress.show_progress`) under a command's name,
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
        from fastfer._progress import show_progress

        show_progress(done, self.total, self.start, self.label)
        self.shown, self.drawn = time.perf_counter(), True

    def close(self) -> None:
        if self.drawn:
            sys.stderr.write("\n")
            sys.stderr.flush()
            self.drawn = False


# --------------------------------------------------------------------------------- output


def output_name(path: Path, used: set) -> str:
    """``<stem>.png``, or ``<stem>_2.png``, ``<stem>_3.png``... for later inputs of the same stem."""
    stem = "stdin" if path == STDIN else path.stem
    name, count = f"{stem}.png", 1
    while name.lower() in used:
        count += 1
        name = f"{stem}_{count}.png"
    used.add(name.lower())
    return name


def _same_file(a, b) -> bool:
    try:
        return os.path.samefile(a, b)
    except (OSError, ValueError):  # one of them does not exist (or is no path): not the same file
        return False


def refuse_same_file(inputs: Sequence, outputs: dict) -> None:
    """A :class:`UsageError` when an output is the same file as an input (its path, a link to it,
    a hard link): opening the output would truncate the input before it is read. ``outputs``:
    ``{option: path or None}``; inputs that are None, ``-`` (standard input), URLs or missing
    are skipped. Call it before any output is opened."""
    for option, out in outputs.items():
        if out is None or not os.path.exists(out):
            continue  # a new file cannot be an input
        for source in inputs:
            if source is not None and str(source) != "-" and _same_file(out, source):
                raise UsageError(
                    f"{option} {out}: is the input {source}; writing it would destroy "
                    "the input (give another output file)"
                )


def refuse_drawing_over_inputs(draw_dir: Optional[Path], inputs: Sequence) -> None:
    """``--draw OUTDIR``: a :class:`UsageError` when OUTDIR holds an input PNG that a drawing
    (``OUTDIR/<stem>.png``) would overwrite."""
    if draw_dir is None:
        return
    for path in inputs:
        if path != STDIN and _same_file(draw_dir / f"{path.stem}.png", path):
            raise UsageError(
                f"--draw {draw_dir}: holds the input {path}, which its drawing would overwrite (give another folder)"
            )


def output_folder(text: Optional[str], option: str) -> Optional[Path]:
    """A folder to write into, made if needed; a clear UsageError when the path is a file."""
    if text is None:
        return None
    folder = Path(text)
    if folder.exists() and not folder.is_dir():
        raise UsageError(f"{option} {text}: exists and is not a folder")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"{option} {text}: cannot make the folder ({exc.strerror or exc})") from None
    return folder


def _face_rows(faces: list) -> list:
    rows = [f"  {'face':>4}  {'box (x1, y1, x2, y2)':<24} {'score':>6}  {'label':<9} {'prob':>5}"]
    for i, face in enumerate(faces, 1):
        box = ", ".join(f"{v:.0f}" for v in face.box)
        prob = f"{float(face.probs.max()):.2f}" if face.probs is not None else "-"
        rows.append(f"  {i:>4}  {box:<24} {face.score:>6.3f}  {face.label or '-':<9} {prob:>5}")
    return rows


def print_result(path: Path, faces: list, as_json: bool, drawn: Optional[Path]) -> None:
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


def report_unreadable(path, exc: BaseException, as_json: bool) -> None:
    text = error_text(exc, path)
    print(f"{path}: error: {text}", file=sys.stderr)
    if as_json:
        print(json.dumps({"path": str(path), "error": text}))
        sys.stdout.flush()


def open_csv(path, option: str, columns: Sequence[str]) -> tuple:
    """(file, ``csv.DictWriter``) of the CSV ``path``, its header written: the file every
    ``--csv`` writes (``analyze``'s and ``video``'s). UTF-8; text that is not valid UTF-8 (a
    file name's undecodable bytes) is written as ``\\udcXX`` escapes, the text the JSON lines
    give. A :class:`UsageError` naming ``option`` when it cannot be opened."""
    try:
        file = open(path, "w", newline="", encoding="utf-8", errors="backslashreplace")
    except OSError as exc:
        raise UsageError(f"{option} {path}: cannot write ({exc.strerror or exc})") from None
    writer = csv.DictWriter(file, fieldnames=list(columns))
    writer.writeheader()
    return file, writer


class CsvWriter:
    """``--csv OUT.csv``: the rows of :func:`fastfer.table.face_rows`, written as results come;
    an image without faces gets one row with only its ``source`` (as the Parquet of ``--ray``
    does), so that "no faces" differs from "not processed". Opened by :func:`open_csv`."""

    def __init__(self, path: Optional[str]):
        self._file = self._writer = None
        if path is not None:
            from fastfer.table import COLUMNS

            self._file, self._writer = open_csv(path, "--csv", COLUMNS)

    def write(self, path, faces: list) -> None:
        if self._writer is not None:
            from fastfer.table import face_rows

            rows = face_rows(faces, source=str(path))
            self._writer.writerows(rows or [{"source": str(path)}])

    def close(self) -> None:
        if self._file is not None:
            self._file.close()


class NoFaces:
    """Counts the images in which no face was found, and says once, at the end, that faces under
    ``min_face`` are not looked for: "no faces" on a crowd photo with small faces is otherwise
    taken for a failure of the detector."""

    def __init__(self, min_face: int):
        self.min_face, self.count = min_face, 0

    def add(self, faces) -> None:
        if isinstance(faces, list) and not faces:
            self.count += 1

    def note(self) -> None:
        if self.count and self.min_face > 0:
            images = f"{self.count} image{'s' if self.count != 1 else ''}"
            print(
                f"fastfer: note: no faces in {images}; faces under {self.min_face} px (long side) "
                "are not looked for: --min-face 0 looks for every face",
                file=sys.stderr,
            )


def analyze_paths(
    fer: "fastfer.FER",
    paths: list,
    *,
    as_json: bool = False,
    draw_dir: Optional[Path] = None,
    batch_size: int = 1,
    progress: Optional[bool] = None,
    csv_writer: Optional[CsvWriter] = None,
    no_faces: Optional[NoFaces] = None,
) -> tuple:
    """Runs ``fer`` over ``paths`` in batches and prints one result per image, in order.
    Returns (number of unreadable inputs, {input path: annotated image path})."""
    show = (len(paths) > 3 and sys.stderr.isatty()) if progress is None else progress
    bar = Progress(len(paths), "analyze", show)
    used: set = set()
    written: dict = {}
    failed = done = 0
    for batch, loaded in loaded_batches(paths, batch_size):
        # Images of similar size side by side: the detector pads each inference call to its
        # largest image, so this wastes less work. Results are put back in input order.
        good = sorted(
            (k for k, image in enumerate(loaded) if not isinstance(image, Exception)), key=lambda k: loaded[k].shape[:2]
        )
        results = dict(zip(good, fer.analyze_batch([loaded[k] for k in good])))
        outcomes = [image if isinstance(image, Exception) else results[k] for k, image in enumerate(loaded)]
        bar.clear(before_stderr=any(isinstance(o, Exception) for o in outcomes))
        for path, image, outcome in zip(batch, loaded, outcomes):
            if isinstance(outcome, Exception):  # unreadable, or refused inside the batch
                failed += 1
                report_unreadable(path, outcome, as_json)
                if csv_writer is not None:
                    csv_writer.write(path, outcome)
                continue
            target = None
            if draw_dir is not None:
                from fastfer.draw import draw

                target = draw_dir / output_name(path, used)
                write_png(target, draw(image, outcome), "the annotated image")
                written[path] = target
            print_result(path, outcome, as_json, target)
            if csv_writer is not None:
                csv_writer.write(path, outcome)
            if no_faces is not None:
                no_faces.add(outcome)
        done += len(batch)
        bar.update(done)
    bar.close()
    return failed, written
