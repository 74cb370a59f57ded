"""``FER.stream``'s engine: frames in, tracked and smoothed faces out.

A decoding thread reads the source (a video file, a camera index, a URL OpenCV opens, or any
iterable of images) into a bounded queue while the caller's thread runs the models, so that
decoding overlaps inference and memory stays bounded whatever the consumer's speed:

* a file (or an iterable) blocks the decoder when the queue is full: no frame is lost;
* a live source (a camera, an ``rtsp://`` stream, or ``live=True``) never waits for the
  consumer: when the queue is full, the oldest waiting frame is dropped, so that the consumer
  always gets a recent frame; the indices dropped are reported on the next frame.

``every=k`` runs the detector on every k-th processed frame; in between, the tracks are carried
by their motion model (:class:`fastfer.video.tracking.Tracker`) and, by default, keep their last
probabilities (``between="reuse"``); ``between="classify"`` runs the classifier on the predicted
boxes instead (docs/video.md has the measurement behind the default).

A scene cut (:mod:`fastfer.video.cuts`, on by default: ``cuts=True``) ends every track, so that
the faces after it get new ids and start their smoothing afresh, and the first frame after the
cut is a detection frame whatever ``every``; the next detections follow every k-th frame from
there.

``workers=N`` analyses up to N detection frames at once, in a small thread pool over the one
``FER`` (its ONNX Runtime sessions are thread-safe and release the GIL): frame t+1 is detected
while frame t is, so a machine with a spare core doubles the frames per second of ``every=1``.
Tracking and smoothing stay in the caller's thread, in frame order, so the output is the same
as with one worker.
"""

from __future__ import annotations

import os
import queue
import threading
import time
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Optional

import cv2
import numpy as np

from .._args import positive_int, positive_number
from ..core.result import Face, frozen_float32
from ..errors import ImageDecodeError, ImageTooLargeError, VideoDecodeError
from ..io.image import get_max_pixels, load_image
from ..io.image_header import image_format, image_size
from ..io.regular_file import NotARegularFile, stat_regular_file
from ..labels import LABELS
from ..scale.parallel import usable_cores
from .cuts import CutDetector
from .smoothing import DEFAULT_ALPHA, TrackSmoother
from .tracking import Tracker

#: How much of a video file in an image format (a GIF, an MJPEG stream, an APNG) is read for
#: its headers before OpenCV opens it.
_IMAGE_HEADER_BYTES = 16 << 20
#: URL schemes treated as live streams by default (frames dropped rather than queued).
LIVE_SCHEMES = ("rtsp", "rtsps", "rtmp", "udp", "tcp", "srt")


@dataclass(frozen=True, eq=False)
class TrackedFace(Face):
    """A :class:`fastfer.Face` of a video frame, followed across frames.

    ``track_id``: the same for one face as long as it is tracked (ids count up from 1 and are
    never reused in a stream). ``probs`` / ``label``: smoothed over the track's frames;
    ``raw_probs`` / ``raw_label``: the classifier's output for this frame alone (with
    ``between="reuse"``, on frames without detection, the last one). ``detected``: whether the
    box comes from the detector on this frame (False: predicted by the motion model)."""

    track_id: int = 0
    raw_probs: Optional[np.ndarray] = None
    raw_label: Optional[str] = None
    detected: bool = True

    def to_dict(self) -> dict:
        out = super().to_dict()
        out["track_id"] = self.track_id
        out["detected"] = self.detected
        out["raw_label"] = self.raw_label
        out["raw_probs"] = (
            None if self.raw_probs is None else {k: round(float(p), 5) for k, p in zip(LABELS, self.raw_probs)}
        )
        return out


@dataclass(frozen=True, eq=False)
class StreamFrame:
    """One processed frame: its ``index`` in the source (0-based), its ``timestamp`` in seconds
    (the container's for a file, seconds since the start for a camera or a live iterable,
    ``index / fps`` for an iterable given ``fps``, else None), its ``faces`` (ordered by
    ``track_id``), the BGR ``image``, whether the detector ran on it (``detected``), the
    indices of the source frames ``dropped`` since the previous frame (live sources only) and
    whether a scene ``cut`` came just before it (every track ended there: its faces are new
    tracks)."""

    index: int
    timestamp: Optional[float]
    faces: list
    image: np.ndarray = field(repr=False)
    detected: bool = True
    dropped: tuple = ()
    cut: bool = False

    def to_dict(self) -> dict:
        """Plain JSON-able values (without the image)."""
        return {
            "frame": self.index,
            "time": None if self.timestamp is None else round(self.timestamp, 4),
            "detected": self.detected,
            "dropped": list(self.dropped),
            "cut": self.cut,
            "faces": [face.to_dict() for face in self.faces],
        }


@dataclass(frozen=True)
class _Frame:
    index: int
    timestamp: Optional[float]
    image: np.ndarray


@dataclass(frozen=True)
class _End:
    error: Optional[BaseException] = None


@dataclass(frozen=True)
class _Ahead:
    """A frame taken from the decoder's queue and not yet yielded."""

    frame: _Frame
    dropped: tuple  # indices the decoder dropped just before it (live sources)
    detect: bool  # a detection frame (else tracked/classified between them)
    cut: bool  # a scene cut came just before it: every track ends
    analysis: Optional[Future]  # its analyze() in the pool, when there is a pool


def printable_path(text: str) -> str:
    """``text`` as it can be printed and shown in errors: the bytes of a file name that are not
    valid UTF-8 (``os.fsdecode`` made them lone surrogates) as ``\\xNN``."""
    try:
        return os.fsencode(text).decode("utf-8", "backslashreplace")
    except UnicodeError:  # surrogates os.fsdecode does not make
        return text.encode("utf-8", "backslashreplace").decode("utf-8")


def opencv_name(text: str, what: str = "video") -> str:
    """``text`` when OpenCV may be given it as a file name or URL; VideoDecodeError naming it
    otherwise. cv2 converts a str to UTF-8 without checking: a name that is not valid UTF-8
    (``v\\xff.avi`` on Linux) crashed the process inside ``cv2.VideoCapture`` and
    ``cv2.VideoWriter``, and a NUL would cut the name short."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise VideoDecodeError(
            f"cannot open {what} {printable_path(text)}: its name is not valid "
            "UTF-8, which OpenCV cannot take; rename it"
        ) from None
    if "\0" in text:
        raise VideoDecodeError(f"cannot open {what} {text!r}: its name holds a NUL character")
    return text


def _check_frame_size(width: int, height: int, cap: int, what: str) -> None:
    if width * height > cap:
        raise ImageTooLargeError(
            f"{what} {width}x{height} = {width * height:,} pixels, more than the cap of {cap:,} (see set_max_pixels)"
        )


def _open_nonblocking(name: str, flags: int) -> int:
    """open()'s opener: a FIFO swapped in since the check cannot block the open."""
    return os.open(name, flags | getattr(os, "O_NONBLOCK", 0))


def _check_video_file(path: str, cap: int) -> None:
    """Before OpenCV opens ``path``: it must be a regular file (OpenCV blocks for ever on a FIFO,
    and reads devices), and when it holds an image format (a GIF, an MJPEG stream starting with
    a JPEG, ...) the size its headers give must be within ``cap``, as for load_image."""
    shown = printable_path(path)
    try:
        stat_regular_file(path)
    except FileNotFoundError:
        raise FileNotFoundError(f"no such video file: {shown}") from None
    except NotARegularFile as exc:
        if exc.kind == "a directory":
            raise IsADirectoryError(f"a video file is needed, {shown} is a folder") from None
        raise VideoDecodeError(
            f"cannot open video {shown}: it is {exc.kind}; videos are read from regular files (a camera by its index)"
        ) from None
    with open(path, "rb", opener=_open_nonblocking) as file:
        head = file.read(12)
        if image_format(head) is None:
            return  # not an image format: OpenCV gives the frame size after opening
        # The sizes FFmpeg's decoders allocate for sit at the start (a GIF's screen, the first
        # JPEG's frame header, a PNG's IHDR): a bounded prefix holds them.
        data = head + file.read(_IMAGE_HEADER_BYTES)
    try:
        _format, width, height = image_size(data)
    except ImageDecodeError:  # a header fastfer cannot read: OpenCV decides, then the size check
        return
    _check_frame_size(width, height, cap, f"video {shown}: its headers declare frames of")


class _Capture:
    """A cv2.VideoCapture source: a file, a camera or a URL. The pixel cap (get_max_pixels when
    opened) holds every frame: a file's or URL's frame size is checked right after opening,
    before any frame is decoded, and every decoded frame again. (A container that declares a
    small size may hold larger frames: FFmpeg decodes each at its own size, which cannot be
    stopped from here, and OpenCV gives it scaled to the declared size.)"""

    def __init__(self, source, name: str, camera: bool):
        self.name, self.camera = name, camera
        self._max_pixels = get_max_pixels()
        if camera and not -1 <= source <= 2**31 - 1:  # OpenCV takes a C int: a larger one raises cv2.error
            raise VideoDecodeError(f"cannot open camera {name}: no such camera (indices are -1 to {2**31 - 1})")
        self._cap = cv2.VideoCapture(source)
        if not self._cap.isOpened():
            self._cap.release()
            if camera:
                why = "camera", "no such camera, or it is busy"
            elif "://" in name:
                why = "stream", "OpenCV could not connect, or found no video there"
            else:
                why = "video", "not a video OpenCV can read: unknown format, or a truncated or corrupt file"
            raise VideoDecodeError(f"cannot open {why[0]} {name}: {why[1]}")
        count = self._cap.get(cv2.CAP_PROP_FRAME_COUNT)
        self.frame_count = int(count) if count > 0 and not camera else None
        fps = self._cap.get(cv2.CAP_PROP_FPS)
        self.fps = float(fps) if fps > 0 else None
        self.size = (int(self._cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(self._cap.get(cv2.CAP_PROP_FRAME_HEIGHT)))
        if not camera:
            try:
                _check_frame_size(*self.size, self._max_pixels, f"video {name}: its frames are")
            except ImageTooLargeError:
                self._cap.release()
                raise
        self._start = None
        self._closing = False

    def frames(self) -> Iterator[tuple]:
        """(timestamp, image) until the source ends; VideoDecodeError when a file ends before
        the frame count its header declares, or gives no frame at all; ImageTooLargeError for
        a frame over the pixel cap."""
        read = 0
        while True:
            ok, image = self._cap.read()
            if not ok or image is None:
                break
            _check_frame_size(image.shape[1], image.shape[0], self._max_pixels, f"{self.name}: frame {read} is")
            if self.camera:
                now = time.monotonic()
                self._start = now if self._start is None else self._start
                stamp = now - self._start
            else:
                msec = self._cap.get(cv2.CAP_PROP_POS_MSEC)
                stamp = msec / 1000.0 if msec >= 0 else None
            read += 1
            yield stamp, image
        if read == 0 and not self.camera and not self._closing:
            raise VideoDecodeError(
                f"{self.name}: no frame could be decoded (not a video OpenCV can "
                "read, or its frames are corrupt or of a size no decoder takes)"
            )
        # Frame counts from some containers are estimates: one frame short is not an error.
        if self.frame_count is not None and read < self.frame_count - 1:
            raise VideoDecodeError(
                f"{self.name}: the video ended after {read} good frames of "
                f"{self.frame_count} (the file is truncated or corrupt)",
                frames_read=read,
            )
        if self.camera and not self._closing:  # a camera does not end by itself: unplugged, or taken
            raise VideoDecodeError(f"camera {self.name} stopped giving frames after {read}", frames_read=read)

    def release(self) -> None:
        self._closing = True
        self._cap.release()


class _Iterable:
    """Any iterable of images (BGR arrays, or anything fastfer.load_image reads)."""

    def __init__(self, source, fps: Optional[float], live: bool):
        self.name, self.camera = type(source).__name__, False
        self._items, self.fps, self._live = source, fps, live
        self.frame_count, self.size = None, None

    def frames(self) -> Iterator[tuple]:
        start = time.monotonic()
        for i, item in enumerate(self._items):
            if self._live:
                stamp = time.monotonic() - start
            else:
                stamp = None if self.fps is None else i / self.fps
            yield stamp, load_image(item)

    def release(self) -> None:
        close = getattr(self._items, "close", None)  # a generator: run its cleanup
        if callable(close):
            close()


def open_source(source, *, fps: Optional[float] = None, live: Optional[bool] = None) -> tuple:
    """(reader, live): what reads ``source``'s frames, and whether it is live by default."""
    if isinstance(source, bool):
        raise TypeError("source must be a video path, a camera index, a URL or an iterable of images, got a bool")
    if isinstance(source, (int, np.integer)):
        if source < 0:
            raise ValueError(f"a camera index is >= 0, got {source}")
        return _Capture(int(source), f"#{int(source)}", camera=True), True if live is None else live
    if isinstance(source, (str, Path)):
        text = opencv_name(str(source))
        scheme = text.split("://", 1)[0].lower() if "://" in text else None
        if scheme is None:
            _check_video_file(text, get_max_pixels())
        elif scheme == "file":  # FFmpeg opens the rest after "file:" as a path
            _check_video_file(text[len("file:") :], get_max_pixels())
        is_live = scheme in LIVE_SCHEMES if live is None else live
        return _Capture(text, text, camera=False), is_live
    if isinstance(source, np.ndarray):
        if source.ndim != 4:
            raise ValueError(
                f"an array source must be N×H×W×C frames, got shape {source.shape}; for one image use FER.analyze"
            )
        return _Iterable(source, fps, bool(live)), bool(live)
    if isinstance(source, (bytes, bytearray, dict)) or not hasattr(source, "__iter__"):
        raise TypeError(
            f"source must be a video path, a camera index, a URL or an iterable of images, got {type(source).__name__}"
        )
    return _Iterable(source, fps, bool(live)), bool(live)


def _default_workers(fer) -> int:
    """Every usable core, counting the intra-op threads of ``fer``'s models, at most 4: beyond
    that, frames wait longer in the pool than they gain."""
    return max(1, min(4, usable_cores() // fer.options["threads"]))


def _move_landmarks(landmarks: np.ndarray, old_box, new_box) -> np.ndarray:
    """Landmarks of ``old_box`` carried to ``new_box`` (the same place relative to the box)."""
    (ox1, oy1, ox2, oy2), (nx1, ny1, nx2, ny2) = old_box, new_box
    sx, sy = (nx2 - nx1) / max(ox2 - ox1, 1e-6), (ny2 - ny1) / max(oy2 - oy1, 1e-6)
    return (landmarks - np.array([ox1, oy1])) * np.array([sx, sy]) + np.array([nx1, ny1])


class _Decoder:
    """The decoding thread's side: it reads the source into the bounded queue. It holds no
    reference to its Stream, so that a Stream dropped without close() is collected, and its
    __del__ stops this thread."""

    def __init__(self, reader, live: bool, size: int):
        self.reader, self.live = reader, live
        self.queue: queue.Queue = queue.Queue(maxsize=size)
        self.stop = threading.Event()
        self._dropped: list = []
        self._lock = threading.Lock()

    def _put(self, item) -> None:
        if not self.live or isinstance(item, _End):
            while not self.stop.is_set():
                try:
                    self.queue.put(item, timeout=0.05)
                    return
                except queue.Full:
                    continue
            return
        while True:  # live: make room by dropping the oldest waiting frame
            try:
                self.queue.put_nowait(item)
                return
            except queue.Full:
                try:
                    stale = self.queue.get_nowait()
                except queue.Empty:
                    continue
                with self._lock:
                    self._dropped.append(stale.index)

    def run(self) -> None:
        end = _End()
        try:
            for index, (stamp, image) in enumerate(self.reader.frames()):
                if self.stop.is_set():
                    break
                self._put(_Frame(index, stamp, image))
        # Any error, even KeyboardInterrupt or SystemExit, is handed to the consumer (raised there,
        # after the good frames): this thread must not die with it unreported.
        except BaseException as exc:  # noqa: BLE001
            end = _End(exc)
        finally:
            self._put(end)

    def dropped_before(self, index: int) -> tuple:
        """The frames dropped before ``index`` not reported yet."""
        with self._lock:
            out = tuple(i for i in self._dropped if i < index)
            self._dropped = [i for i in self._dropped if i >= index]
        return out


class Stream:
    """The iterator ``FER.stream`` returns: :class:`StreamFrame` after :class:`StreamFrame`.

    Iterate it once; ``close()`` (or leaving a ``with`` block, or the end of the source) stops
    the decoding thread and releases the source. When a file ends before its last frame, the
    frames read are yielded, then :class:`fastfer.VideoDecodeError` is raised. ``source_fps``,
    ``frame_count`` and ``size`` say what the source declares (None where unknown).

    Args (after ``fer`` and ``source``, see :meth:`fastfer.FER.stream`):
        every: run the detector on every ``every``-th processed frame (default 1).
        smoothing: the newest frame's weight in each track's smoothed probabilities, in (0, 1]
            (default :data:`fastfer.video.smoothing.DEFAULT_ALPHA`, 0.3; 1 = none).
        between: between detections, "reuse" the tracks' last probabilities (default) or
            "classify" the predicted boxes.
        live: drop stale frames rather than wait for the consumer (default: True for a camera
            index and the URL schemes of :data:`LIVE_SCHEMES`, else False).
        queue_size: decoded frames waiting at most (default 1 live, 8 otherwise).
        max_missed, iou_threshold: see :class:`fastfer.video.tracking.Tracker`.
        fps: for an iterable source, timestamps are ``index / fps`` (default None: no timestamps,
            or seconds since the start for a live iterable).
        workers: detection frames analysed at once in a thread pool over ``fer`` (default: the
            usable cores divided by ``fer``'s intra-op threads, at most 4; 1 = in the caller's
            thread). The output is the same whatever the number.
        cuts: end every track at a scene cut (default True; see :mod:`fastfer.video.cuts`): a
            hard cut from one person to another at the same place gives the second a new id and
            its own smoothed expression from its first frame, instead of the first's. About
            0.1–0.2 ms a frame. False: tracks run across cuts, as SORT alone does.
    """

    def __init__(
        self,
        fer,
        source,
        *,
        every: int = 1,
        smoothing: float = DEFAULT_ALPHA,
        between: str = "reuse",
        live: Optional[bool] = None,
        queue_size: Optional[int] = None,
        max_missed: int = 5,
        iou_threshold: float = 0.3,
        fps: Optional[float] = None,
        workers: Optional[int] = None,
        cuts: bool = True,
    ):
        self.every = positive_int(every, "every")
        self.workers = _default_workers(fer) if workers is None else positive_int(workers, "workers")
        if between not in ("reuse", "classify"):
            raise ValueError(f"between must be 'reuse' or 'classify', got {between!r}")
        if live is not None and not isinstance(live, bool):
            raise TypeError(f"live must be True, False or None, got {live!r}")
        if fps is not None:
            fps = positive_number(fps, "fps")
        if not isinstance(cuts, bool):
            raise TypeError(f"cuts must be True or False, got {cuts!r}")
        self._cuts = CutDetector() if cuts else None
        self._fer, self._between = fer, between
        self._smoother = TrackSmoother(smoothing)
        self._tracker = Tracker(iou_threshold=iou_threshold, max_missed=max_missed)
        if queue_size is not None:  # checked before the source is opened, as every option is
            queue_size = positive_int(queue_size, "queue_size")
        self._reader, self.live = open_source(source, fps=fps, live=live)
        size = queue_size if queue_size is not None else (1 if self.live else 8)
        self.source_fps = self._reader.fps
        self.frame_count = self._reader.frame_count
        self.size = getattr(self._reader, "size", None)
        self._decoder = _Decoder(self._reader, self.live, size)
        self._thread: Optional[threading.Thread] = None
        self._ahead: "deque[_Ahead]" = deque()  # frames taken from the queue, oldest first
        self._end: Optional[_End] = None
        self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="fastfer-stream") if self.workers > 1 else None
        self._done = False
        self._until_detection = 0  # processed frames to go before the next detection frame
        self._last_index = -1
        self._last: dict = {}  # track id -> (box, landmarks, score, raw probs) at its last detection

    # --- the consumer --------------------------------------------------------------------------

    def __iter__(self) -> "Stream":
        return self

    def __enter__(self) -> "Stream":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __next__(self) -> StreamFrame:
        if self._done:
            raise StopIteration
        if self._thread is None:
            self._thread = threading.Thread(target=self._decoder.run, name="fastfer-decode", daemon=True)
            self._thread.start()
        self._take_ahead()
        if not self._ahead:
            end = self._end
            self.close()
            if end is not None and end.error is not None:
                raise end.error
            raise StopIteration
        ahead = self._ahead.popleft()
        try:
            return self._process(ahead)
        except BaseException:
            self.close()
            raise

    def _take_ahead(self) -> None:
        """Take frames from the queue until ``workers`` detection frames are waiting here (or
        the source ended), starting the analysis of each in the pool. It waits for a frame only
        when none is waiting, so a live source's newest frame is not held back for the next one."""
        while (
            self._end is None
            and len(self._ahead) < self.workers * self.every
            and sum(1 for ahead in self._ahead if ahead.detect) < self.workers
        ):
            try:
                item = self._decoder.queue.get(block=not self._ahead)
            except queue.Empty:
                return
            if isinstance(item, _End):
                self._end = item
                return
            # In frame order, here in the caller's thread: the cuts, hence which frames are
            # detected, do not depend on the number of workers.
            cut = self._cuts is not None and self._cuts.update(item.image)
            detect = cut or self._until_detection == 0
            self._until_detection = self.every - 1 if detect else self._until_detection - 1
            analysis = self._pool.submit(self._fer.analyze, item.image) if detect and self._pool is not None else None
            self._ahead.append(_Ahead(item, self._decoder.dropped_before(item.index), detect, cut, analysis))

    def close(self) -> None:
        """Stop decoding and release the source (idempotent)."""
        if self._done:
            return
        self._done = True
        self._decoder.stop.set()
        if self._pool is not None:  # frames not yielded yet are not analysed
            self._pool.shutdown(wait=True, cancel_futures=True)
        self._ahead.clear()
        if self._thread is not None:
            # Unblock a decoder waiting on a full queue. One stuck inside a source that never
            # returns (a hung camera or iterable) is left behind, a daemon thread, after 2 s.
            deadline = time.monotonic() + 2.0
            while self._thread.is_alive() and time.monotonic() < deadline:
                try:
                    self._decoder.queue.get_nowait()
                except queue.Empty:
                    pass
                self._thread.join(timeout=0.05)
            if self._thread.is_alive():
                return  # releasing a source another thread is reading could crash it
        self._reader.release()

    def __del__(self):
        try:
            self.close()
        # __del__ must not raise, and close() here may meet a half-built Stream (its __init__ failed),
        # interpreter shutdown, or any error of the source's own release.
        except Exception:  # noqa: BLE001
            pass

    # --- one frame -------------------------------------------------------------------------------

    def _process(self, ahead: _Ahead) -> StreamFrame:
        frame = ahead.frame
        gap = frame.index - self._last_index if self._last_index >= 0 else 1
        self._last_index = frame.index
        if ahead.cut:  # the faces from here on are others: no id, box or smoothing carries over
            self._tracker.end_all()
        if ahead.detect:
            found = ahead.analysis.result() if ahead.analysis is not None else self._fer.analyze(frame.image)
            faces = self._detect(found, gap)
        else:
            faces = self._carry(frame.image, gap)
        faces.sort(key=lambda f: f.track_id)
        return StreamFrame(frame.index, frame.timestamp, faces, frame.image, ahead.detect, ahead.dropped, ahead.cut)

    def _detect(self, found: list, gap: int) -> list:
        ids = self._tracker.update(np.array([f.box for f in found]).reshape(-1, 4), frames=gap)
        live = set(int(i) for i in self._tracker.ids)
        self._smoother.keep_only(live)
        self._last = {i: v for i, v in self._last.items() if i in live}
        out = []
        for face, track_id in zip(found, ids):
            track_id = int(track_id)
            self._last[track_id] = (face.box, face.landmarks, face.score, face.probs)
            out.append(
                self._tracked(
                    face.box,
                    face.score,
                    face.landmarks,
                    face.probs,
                    track_id,
                    self._smoother.update(track_id, face.probs),
                    True,
                )
            )
        return out

    def _carry(self, image: np.ndarray, gap: int) -> list:
        ids, boxes = self._tracker.advance(frames=gap)
        h, w = image.shape[:2]
        boxes = np.clip(boxes, 0, [w, h, w, h])
        keep = (boxes[:, 2] - boxes[:, 0] >= 2) & (boxes[:, 3] - boxes[:, 1] >= 2)  # left the image
        ids, boxes = ids[keep], boxes[keep]
        if self._between == "classify" and len(ids):
            raw_all = self._fer.classifier.classify_boxes(image, boxes)
        out = []
        for k, (track_id, box) in enumerate(zip(ids, boxes)):
            track_id = int(track_id)
            old_box, landmarks, score, raw = self._last[track_id]
            if self._between == "classify":
                raw = raw_all[k]
                smoothed = self._smoother.update(track_id, raw)
            else:
                smoothed = self._smoother.get(track_id)
            out.append(
                self._tracked(
                    tuple(box), score, _move_landmarks(landmarks, old_box, box), raw, track_id, smoothed, False
                )
            )
        return out

    @staticmethod
    def _tracked(box, score, landmarks, raw, track_id: int, smoothed, detected: bool) -> TrackedFace:
        raw = frozen_float32(raw)
        smoothed = frozen_float32(smoothed)
        return TrackedFace(
            tuple(float(v) for v in box),
            float(score),
            frozen_float32(landmarks),
            LABELS[int(np.argmax(smoothed))],
            smoothed,
            track_id,
            raw,
            LABELS[int(np.argmax(raw))],
            detected,
        )
