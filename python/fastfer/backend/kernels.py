"""The image and detection kernels of the active backend (see ``fastfer.capabilities()``).

Each name here is either ``fastfer._core.<name>`` (native) or ``fastfer.backend.reference.<name>`` (numpy
twin); both have the same signature and documented results. Read the twin's docstrings.
"""

from __future__ import annotations

from . import active as _impl
from .reference import __all__ as __all__  # the same names on both backends: the twins' list

# Bounds on one call, the same on both backends (tests/test_kernel_bounds.py checks they agree):
# more than these raises ValueError before any work or allocation. Re-exported (`as` keeps them
# public for linters) because fastfer.kernels had them before the package was cut into layers.
from .reference._checks import MAX_OUTPUT_ELEMENTS as MAX_OUTPUT_ELEMENTS  # resize / *_input values
from .reference.detect import (
    MAX_ANCHORS as MAX_ANCHORS,
    MAX_NMS_BOX_AREA as MAX_NMS_BOX_AREA,
    MAX_NMS_CANDIDATES as MAX_NMS_CANDIDATES,
)

resize = _impl.resize
to_gray = _impl.to_gray
detector_input = _impl.detector_input
face_input = _impl.face_input
similarity_transform = _impl.similarity_transform
make_anchors = _impl.make_anchors
decode_boxes = _impl.decode_boxes
decode_landmarks = _impl.decode_landmarks
nms = _impl.nms
yunet_scores = _impl.yunet_scores
