"""Drop-in replacements for the two most used expression libraries, on fastfer's models: one
import line changes, the calls and the shapes of their results stay.

- :mod:`fastfer.adapters.fer`: the ``fer`` package's ``FER`` (``detect_emotions``,
  ``top_emotion``, ``find_faces``): ``from fastfer.adapters.fer import FER``.
- :mod:`fastfer.adapters.deepface`: deepface's ``DeepFace.analyze(img, actions=["emotion"])``:
  ``from fastfer.adapters.deepface import DeepFace``.

This package is of the front layer (beside :mod:`fastfer.compat`, which gives the shapes of
ModelScope and the MobileNetV3 detector): it may import ``core`` and everything below it, and
never ``cli`` or ``serve``.
"""

from __future__ import annotations

__all__ = ["deepface", "fer"]
