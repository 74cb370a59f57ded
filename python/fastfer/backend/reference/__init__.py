"""Numpy twins of every native kernel in ``fastfer._core``: same names, same signatures, same
results within the tolerance each docstring states. They document the kernels, serve when the
native module is missing or ``FASTFER_BACKEND=python``, and are what the tests compare against.
"""

from .detect import decode_boxes, decode_landmarks, make_anchors, nms
from .preprocess import detector_input, face_input, resize, similarity_transform, to_gray
from .yunet import yunet_scores

__all__ = [
    "resize",
    "to_gray",
    "detector_input",
    "face_input",
    "similarity_transform",
    "make_anchors",
    "decode_boxes",
    "decode_landmarks",
    "nms",
    "yunet_scores",
]
