"""``WS /v1/stream``: a client sends frames (JPEG or PNG bytes, one binary message each) and gets
each frame's faces back, followed across frames with the tracker and smoothing of
``FER.stream``: each connection iterates its own ``fer.stream(...)`` over the frames it sends.

Replies are JSON text messages: ``{"frame", "width", "height", "cut", "faces", "timing_ms"}`` for
a frame (``cut``: a scene cut came just before it, so its faces are new tracks; each face with
``track_id``, smoothed ``probs`` / ``label``, ``raw_probs`` / ``raw_label``), or
``{"error", "status"}`` for a message that could not be analysed (an undecodable frame 400, too
many pixels 413, the server busy 503, too slow 504); the connection stays open after such an
error. A frame larger than the body limit closes the connection (1009).

The connection is served one message at a time: the next frame is read only once the previous
reply has been handed to the socket, and a reply that cannot be sent within the timeout (a
client that never reads) ends the connection. So a client cannot make the server hold more than
one frame and one reply for it.
"""

from __future__ import annotations

import json
import queue
import threading
import time

import fastfer

_END = None  # put into a session's feed to end its stream


class StreamSession:
    """One connection's ``fer.stream``: frames are handed to it one at a time, and each call of
    :meth:`analyze` returns that frame's tracked faces."""

    def __init__(self, fer):
        self._feed: queue.Queue = queue.Queue()
        self._lock = threading.Lock()  # a timed-out frame may still be running when the next comes
        # One frame in flight, analysed in the calling worker thread: workers=1, a queue of 1.
        self._stream = fer.stream(self._frames(), workers=1, queue_size=1, live=False)

    def _frames(self):
        while True:
            image = self._feed.get()
            if image is _END:
                return
            yield image

    def analyze(self, data: bytes, submitted: float) -> dict:
        """The reply for one encoded frame; fastfer.Error when it cannot be decoded."""
        with self._lock:
            start = time.perf_counter()
            image = fastfer.load_image(data)
            self._feed.put(image)
            frame = next(self._stream, None)
            if frame is None:  # the stream stopped on an earlier error: the connection ends
                raise RuntimeError("this connection's stream has ended")
            done = time.perf_counter()
        height, width = image.shape[:2]
        return {
            "frame": frame.index,
            "width": width,
            "height": height,
            "cut": frame.cut,
            "faces": [face.to_dict() for face in frame.faces],
            "timing_ms": {"queue": round((start - submitted) * 1000, 3), "analysis": round((done - start) * 1000, 3)},
        }

    def close(self) -> None:
        self._feed.put(_END)
        self._stream.close()


def error_reply(status: int, message: str) -> str:
    return json.dumps({"error": message, "status": status})
