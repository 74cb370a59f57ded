"""Where the time of one ``FER.analyze`` goes, stage by stage.

``analyze_timed(fer, image)`` does what ``fer.analyze(image)`` does (same faces) and also returns
a :class:`StageTimes`:

- ``decode``: reading the input (a JPEG/PNG decode for a path or bytes; the checks for an array);
- ``pre``: the detector input (resize, pad, normalise, layout; anchors);
- ``detector``: the detector's ONNX Runtime run;
- ``post``: scores, top-k, box and landmark decoding, NMS, back to image pixels;
- ``crops``: the classifier's face crops (framing, resize, grey, normalise);
- ``classifier``: the classifier's ONNX Runtime run (and its label order / softmax);
- ``other``: the rest of the call (the Python/C++ crossing, building the Face objects);
- ``total``: the whole call, wall clock.

With the native pipeline (``fer.inference == "native"``) the stages are measured inside the C++
call (``fastfer._core.Pipeline.last_stages``, per thread, so concurrent callers do not mix);
with the Python path, around the same steps ``FER.analyze`` takes. All in seconds.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass

from ..io.image import load_image
from .fer import FER

#: The stages of one analyze call, in the order they run.
STAGES = ("decode", "pre", "detector", "post", "crops", "classifier")


@dataclass(frozen=True)
class StageTimes:
    """Seconds spent in each stage of one analyze call (see the module docstring)."""

    decode: float
    pre: float
    detector: float
    post: float
    crops: float
    classifier: float
    other: float
    total: float

    @property
    def inference(self) -> float:
        """Seconds inside ONNX Runtime (detector + classifier)."""
        return self.detector + self.classifier

    @property
    def outside_inference(self) -> float:
        """Share of the call spent outside ONNX Runtime (fastfer's own work), 0..1."""
        return max(0.0, 1.0 - self.inference / self.total) if self.total > 0 else 0.0

    def to_dict(self) -> dict:
        return asdict(self)


def _finish(stages: dict, start: float, decoded: float) -> StageTimes:
    total = time.perf_counter() - start
    known = dict(stages, decode=decoded)
    other = max(0.0, total - sum(known[s] for s in STAGES))
    return StageTimes(**{s: float(known[s]) for s in STAGES}, other=other, total=total)


def analyze_timed(fer: FER, image) -> tuple:
    """``(fer.analyze(image), StageTimes)``: the same faces, and where the time went."""
    if not isinstance(fer, FER):
        raise TypeError(f"analyze_timed needs a fastfer.FER, got {type(fer).__name__}")
    start = time.perf_counter()
    img = load_image(image)
    decoded = time.perf_counter() - start
    faces, stages = fer.analyze_stages(img)
    return faces, _finish(stages, start, decoded)
