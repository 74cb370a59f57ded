"""``fastfer video IN [-o OUT.mp4] [--json OUT.jsonl] [--csv OUT.csv] [--camera N] [--every K]``:
every face of a video or camera, tracked; an annotated video, a JSON-lines log, a CSV of one row
per face per frame and a per-track summary.

Exit status: 0 when the whole video was read; 1 when it ended early (a truncated or corrupt
file: the frames before the damage are processed and every output is complete and valid for
them); 2 for usage errors (no such file, not a regular file, not a video, no frame decodable,
frames over the pixel cap, a bad option); 130 after Ctrl-C (the outputs are finalised up to the
last frame processed).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Optional

import fastfer
from fastfer.draw import draw
from fastfer.io.regular_file import NotARegularFile, stat_regular_file
from fastfer.labels import LABELS
from fastfer.video.smoothing import DEFAULT_ALPHA
from fastfer.video.stream import opencv_name, printable_path
from fastfer.video.summary import TrackSummary

from . import common

HELP = "track the faces of a video or camera and their expressions (annotated video, JSON lines, CSV)"
#: Containers the annotated output may use, and the codec each one gets.
CODECS = {".mp4": "mp4v", ".m4v": "mp4v", ".mov": "mp4v", ".avi": "MJPG", ".mkv": "MJPG"}
#: The columns of --csv: the --json log's names for the frame and the track, ``analyze --csv``'s
#: for the rest (box, score, smoothed label, its probabilities in the FER2013 order).
CSV_COLUMNS = ("frame", "time", "track_id", "x1", "y1", "x2", "y2", "score", "label") + LABELS + ("raw_label",)
# The API's hint in a pixel cap error, replaced here by the command's own (--max-pixels).
_API_HINT = re.compile(r" \(see [^()]*set_max_pixels\)")


def add_parser(sub) -> argparse.ArgumentParser:
    parser = sub.add_parser(
        "video",
        help=HELP,
        description=(
            "Track every face of a video file, URL or camera and its expression, smoothed per track. "
            "Writes an annotated video (-o), a JSON-lines log (--json: one line per frame, then a "
            "summary line), a CSV (--csv: one row per face per frame) and prints a per-track summary. "
            "Outputs that exist are overwritten; one that is the input is refused. Exit status 0: the "
            "whole video was read; 1: it ended early (truncated or corrupt: the good frames are "
            "processed, the outputs valid); 2: usage error (also: not a video, no frame decodable, "
            "frames over the pixel cap); 130: interrupted (Ctrl-C; outputs finalised)."
        ),
    )
    _add_input(parser)
    _add_outputs(parser.add_argument_group("outputs"))
    _add_processing(parser.add_argument_group("processing"))
    _add_display(parser.add_argument_group("display"))
    common.add_model_options(parser.add_argument_group("model"))
    return parser


def _add_input(parser: argparse.ArgumentParser) -> None:
    """What is read: a file or URL, or a camera."""
    parser.add_argument("input", nargs="?", metavar="IN", help="a video file or a URL OpenCV opens")
    parser.add_argument(
        "--camera", type=common.non_negative_int, metavar="N", help="read camera N instead of a file (stop with Ctrl-C)"
    )


def _add_outputs(group) -> None:
    """What is written: the annotated video, the JSON lines, the CSV."""
    group.add_argument("-o", "--output", metavar="OUT.mp4", help=f"write the annotated video ({', '.join(CODECS)})")
    group.add_argument("--json", metavar="OUT.jsonl", help="write one JSON line per frame, then the summary")
    group.add_argument(
        "--csv",
        metavar="OUT.csv",
        help="write one row per face per frame (frame, time, track_id, x1, y1, x2, y2, score, "
        "the smoothed label and its probabilities angry ... neutral, raw_label; a row with "
        "only frame and time for a frame without faces), as --json's values",
    )


def _add_processing(group) -> None:
    """How often faces are detected, how tracks are smoothed, the threads and the frame limit."""
    group.add_argument(
        "--every",
        type=common.positive_int,
        default=1,
        metavar="K",
        help="detect faces on every K-th frame, carrying the tracks between (default 1)",
    )
    group.add_argument(
        "--smoothing",
        type=float,
        default=DEFAULT_ALPHA,
        metavar="A",
        help="weight of the newest frame in each track's smoothed probabilities, "
        f"in (0, 1]; 1 = none (default {DEFAULT_ALPHA})",
    )
    group.add_argument(
        "--workers",
        type=common.positive_int,
        default=None,
        metavar="N",
        help="frames analysed at once, in threads (default: the usable cores divided by --threads, at most 4); "
        "the output does not depend on it",
    )
    group.add_argument(
        "--cuts",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="end every track at a scene cut, so that the faces after it get new track ids and "
        "their own smoothing (default yes)",
    )
    group.add_argument("--max-frames", type=common.positive_int, default=None, metavar="N", help="stop after N frames")


def _add_display(group) -> None:
    """What is drawn on the video and shown on the terminal."""
    group.add_argument(
        "--bars",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="draw the expression bar charts where there is room (default yes)",
    )
    group.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="progress line with frames per second on stderr (default: when stderr is a terminal)",
    )


class _VideoOut:
    """The annotated video, opened at the first frame (its size); frames of another size are
    resized to it."""

    def __init__(self, path: Path, fps: float):
        self.path, self.fps, self._writer, self._size = path, fps, None, None
        self.frames = 0  # written: no file is made before the first

    def write(self, image) -> None:
        import cv2

        if self._writer is None:
            h, w = image.shape[:2]
            self._size = (w, h)
            self._writer = cv2.VideoWriter(
                str(self.path), cv2.VideoWriter_fourcc(*CODECS[self.path.suffix.lower()]), self.fps, self._size
            )
            if not self._writer.isOpened():
                raise OSError(f"{self.path}: OpenCV cannot write this video")
        if (image.shape[1], image.shape[0]) != self._size:
            image = cv2.resize(image, self._size)
        self._writer.write(image)
        self.frames += 1

    def close(self) -> None:
        if self._writer is not None:
            self._writer.release()  # writes the container's index: the file is valid from here
            self._writer = None


class _CsvOut:
    """``--csv``: one row per face per frame, of the values the --json line of the frame holds;
    a frame without faces gets a row with only ``frame`` and ``time``, so that "no faces"
    differs from "not processed". Flushed after each frame, as the log."""

    def __init__(self, path: Path):
        self.path = path
        self._file, self._writer = common.open_csv(path, "--csv", CSV_COLUMNS)

    def write(self, frame) -> None:
        record = frame.to_dict()
        head = {"frame": record["frame"], "time": record["time"]}
        rows = []
        for face in record["faces"]:
            row = dict(
                head, track_id=face["track_id"], score=face["score"], label=face["label"], raw_label=face["raw_label"]
            )
            row.update(zip(("x1", "y1", "x2", "y2"), face["box"]))
            row.update(face["probs"] or {})
            rows.append(row)
        self._writer.writerows(rows or [head])
        self._file.flush()

    def close(self) -> None:
        self._file.close()


def _output_path(text: Optional[str], option: str, suffixes, opencv: bool = False) -> Optional[Path]:
    """The path of an output, checked before anything is read; ``opencv``: OpenCV writes it, so
    its name must be valid UTF-8 (cv2 crashed on others) and it must not be a FIFO or device
    (opening one waits for a reader, and Ctrl-C cannot stop it)."""
    if text is None:
        return None
    path, shown = Path(text), printable_path(text)
    if opencv:
        try:
            opencv_name(text)
        except fastfer.VideoDecodeError:
            raise common.UsageError(
                f"{option} {shown}: the name is not valid UTF-8, which OpenCV cannot write to; choose another"
            ) from None
    if suffixes is not None and path.suffix.lower() not in suffixes:
        raise common.UsageError(f"{option} {shown}: use one of {', '.join(suffixes)}")
    if path.is_dir():
        raise common.UsageError(f"{option} {shown}: is a folder")
    if not path.parent.is_dir():
        raise common.UsageError(f"{option} {shown}: no folder {printable_path(str(path.parent))}")
    if opencv and path.exists():
        try:
            stat_regular_file(path)
        except NotARegularFile as exc:
            raise common.UsageError(f"{option} {shown}: is {exc.kind}, not a regular file") from None
    return path


def _message(exc: BaseException) -> str:
    """One line for an error; the pixel cap's names the command's --max-pixels."""
    if isinstance(exc, fastfer.ImageTooLargeError):
        return common.error_text(fastfer.ImageTooLargeError(_API_HINT.sub("", str(exc))))
    return str(exc)


class _Rate:
    """The progress line: frames done (of the total when known) and frames per second."""

    def __init__(self, total: Optional[int], show: bool):
        self.total, self.show, self.start, self.shown = total, show, time.perf_counter(), 0.0

    def update(self, done: int, final: bool = False) -> None:
        now = time.perf_counter()
        # A terminal line is redrawn often; a log file gets a line every few seconds.
        if not self.show or (not final and now - self.shown < (0.2 if sys.stderr.isatty() else 5.0)):
            return
        fps = done / max(now - self.start, 1e-9)
        of = f"/{self.total} [{100 * done // self.total:3d}%]" if self.total else ""
        sys.stderr.write(
            f"\rvideo {done}{of} {fps:.1f} frames/s\033[K"
            if sys.stderr.isatty()
            else f"video {done}{of} {fps:.1f} frames/s\n"
        )
        sys.stderr.flush()
        self.shown = now

    def close(self) -> None:
        if self.show and sys.stderr.isatty():
            sys.stderr.write("\n")
            sys.stderr.flush()


class _WholeFrames:
    """Ctrl-C stops at once, except while one frame's outputs are written (the summary, the video,
    the log and the CSV): then right after them, so that they always hold the same frames."""

    def __init__(self):
        self.writing = self.pending = False
        self.previous = None

    def __enter__(self) -> "_WholeFrames":
        if threading.current_thread() is threading.main_thread():  # signals reach only that one
            self.previous = signal.signal(signal.SIGINT, self._on_sigint)
        return self

    def __exit__(self, *exc) -> None:
        if self.previous is not None:
            signal.signal(signal.SIGINT, self.previous)

    def _on_sigint(self, signum, frame) -> None:
        if not self.writing:
            raise KeyboardInterrupt
        self.pending = True

    @contextlib.contextmanager
    def frame(self):
        self.writing = True
        try:
            yield
        finally:
            self.writing = False
        if self.pending:
            raise KeyboardInterrupt


def run(args: argparse.Namespace) -> int:
    if (args.input is None) == (args.camera is None):
        raise common.UsageError("give a video file or URL, or --camera N (one of them)")
    out_path = _output_path(args.output, "-o", CODECS, opencv=True)
    json_path = _output_path(args.json, "--json", None)
    csv_path = _output_path(args.csv, "--csv", None)
    if args.input is not None:  # before any output is opened: writing one would destroy the input
        common.refuse_same_file([args.input], {"-o": out_path, "--json": json_path, "--csv": csv_path})
    fer = common.make_fer(args)
    source = args.camera if args.camera is not None else args.input
    try:
        stream = fer.stream(source, every=args.every, smoothing=args.smoothing, workers=args.workers, cuts=args.cuts)
    except fastfer.ImageTooLargeError as exc:  # from the headers or the container, before decoding
        raise common.UsageError(_message(exc)) from None
    fps = stream.source_fps or 25.0
    summary = TrackSummary(fps)
    video = _VideoOut(out_path, fps) if out_path else None
    log, table = _open_files(stream, json_path, csv_path)
    total = stream.frame_count
    if args.max_frames is not None:
        total = min(args.max_frames, total or args.max_frames)
    rate = _Rate(total, sys.stderr.isatty() if args.progress is None else args.progress)
    ended, status, message = None, 0, None
    try:
        _process(stream, args, summary, (video, log, table), rate)
        ended = "complete"
    except fastfer.VideoDecodeError as exc:  # after the good frames, or before any: no video
        ended, status, message = ("error", 2, str(exc)) if summary.frames == 0 else ("truncated", 1, str(exc))
    except KeyboardInterrupt:
        ended, status, message = "interrupted", 130, "interrupted: outputs finalised"
    except Exception as exc:  # e.g. a frame over the pixel cap, or the disk is full: logged too
        message = _message(exc)
        if isinstance(exc, fastfer.ImageTooLargeError):
            raise common.UsageError(message) from None
        raise
    finally:
        stream.close()
        rate.update(summary.frames, final=True)
        rate.close()
        _close_outputs((video, log, table), summary, ended, message)
    return _report(status, message, summary, ended, video, (json_path, csv_path))


def _close_outputs(outputs: tuple, summary: TrackSummary, ended: Optional[str], message: Optional[str]) -> None:
    """The video, the log (ended by its summary line) and the CSV finalised; ``ended`` None: an
    error on its way to the caller, named in the log's "error"."""
    video, log, table = outputs
    if video is not None:
        video.close()
    if table is not None:
        table.close()
    if log is not None:
        log.write(
            json.dumps(
                {
                    "summary": summary.tracks(),
                    "frames": summary.frames,
                    "cuts": summary.cuts,
                    "ended": ended or "error",
                    "error": message,
                }
            )
            + "\n"
        )
        log.close()


def _open_files(stream, json_path: Optional[Path], csv_path: Optional[Path]) -> tuple:
    """(the JSON-lines log, the CSV), each None when not asked for; when one cannot be opened
    the other and the stream are closed before the error goes on."""
    log = table = None
    try:
        table = _CsvOut(csv_path) if csv_path else None
        log = open(json_path, "w", encoding="utf-8") if json_path else None
    except BaseException:
        if table is not None:
            table.close()
        stream.close()
        raise
    return log, table


def _process(stream, args: argparse.Namespace, summary: TrackSummary, outputs: tuple, rate: _Rate) -> None:
    """Every frame of ``stream`` into the summary and ``outputs``: the video, the log and the CSV
    (each None when not asked for)."""
    video, log, table = outputs
    with _WholeFrames() as whole:
        for frame in stream:
            drawn = draw(frame.image, frame.faces, bars=args.bars) if video is not None else None
            with whole.frame():
                summary.add(frame)
                if video is not None:
                    video.write(drawn)
                if log is not None:
                    log.write(json.dumps(frame.to_dict()) + "\n")
                    log.flush()  # a live log (tail -f), complete up to the last frame if killed
                if table is not None:
                    table.write(frame)
            rate.update(summary.frames)
            if args.max_frames is not None and summary.frames >= args.max_frames:
                break


def _report(
    status: int,
    message: Optional[str],
    summary: TrackSummary,
    ended: Optional[str],
    video: Optional[_VideoOut],
    files: tuple,
) -> int:
    """The closing lines: the summary and the outputs written; for an error (status 2: not one
    frame could be decoded) only the error, in one line. ``files``: the --json and --csv paths."""
    if status == 2:
        print(f"fastfer: error: {message}", file=sys.stderr)
        return status
    if message:
        print(f"fastfer: {'warning' if status == 1 else 'video'}: {message}", file=sys.stderr)
    print(f"{summary.frames} frames, {len(summary.tracks())} tracks ({ended})")
    if summary.cuts:
        frames = ", ".join(str(index) for index in summary.cuts)
        print(f"scene cuts (every track ended) before frame{'s' if len(summary.cuts) > 1 else ''} {frames}")
    if summary.tracks():
        print(summary.table())
    if video is not None and video.frames:
        print(f"annotated video written to {printable_path(str(video.path))}")
    json_path, csv_path = files
    if json_path is not None:
        print(f"JSON lines written to {printable_path(str(json_path))}")
    if csv_path is not None:
        print(f"CSV written to {printable_path(str(csv_path))}")
    return status
