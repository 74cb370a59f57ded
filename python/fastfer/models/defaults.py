"""The defaults of the model spec and of the Detector's options, written once for Python.

The C++ pipeline has the same values (``cpp/include/fastfer/pipeline.h``, ``detector_input.h``),
exposed by the native module under the same names; tests/test_schema.py checks that they agree.
"""

from __future__ import annotations

#: Dynamic-size models shrink images whose long side exceeds this, unless the caller gives another
#: (1600: WIDER FACE images at their original size).
DEFAULT_MAX_SIDE = 1600
#: The IoU above which NMS drops the lower-scored of two boxes, unless the caller gives another.
DEFAULT_NMS_IOU = 0.4
#: Results never hold more faces than this (the best-scored ones are kept); the default max_faces.
MAX_FACES = 1000
#: Candidates kept for NMS after the score threshold (best first): bounds the NMS cost.
PRE_NMS_TOP_K = 5000
#: A detector's score threshold when neither its spec nor the caller gives one.
DEFAULT_SCORE_THRESHOLD = 0.5
#: Dynamic-size detector inputs are padded right and bottom to a multiple of this.
DEFAULT_PAD_MULTIPLE = 32
#: A classifier's face crop when its spec gives none: the box made square, no margin.
DEFAULT_CROP_MARGIN = 0.0
DEFAULT_CROP_SQUARE = True
#: A model's probabilities (and a detector's scores) may stray this far outside [0, 1] (rounding
#: in a quantised softmax); further is a ModelError. Compared in float32.
PROBABILITY_SLACK = 1e-3
