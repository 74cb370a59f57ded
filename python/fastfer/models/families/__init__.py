"""The detector families, one module each: a family's decoder fields (parsed from a spec's
``decoder`` mapping), its output roles and widths, and how its outputs become scores, boxes and
landmarks. Each has a native twin in ``cpp/src/detectors/``.

A new family is one module here (a :class:`~fastfer.models.families.base.DetectorDecoder`
subclass), its name in ``FAMILIES`` below, and its C++ file and ``DetectorKind``.
"""

from __future__ import annotations

from .base import DetectorDecoder, Kernels
from .blazeface import BlazeFace
from .retinaface import RetinaFace
from .yunet import YuNet

#: decoder kind (the manifest's ``decoder.kind``) -> its family.
FAMILIES: dict[str, type[DetectorDecoder]] = {family.kind: family for family in (RetinaFace, YuNet, BlazeFace)}

__all__ = ["FAMILIES", "BlazeFace", "DetectorDecoder", "Kernels", "RetinaFace", "YuNet"]
