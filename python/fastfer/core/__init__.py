"""The core: :class:`~fastfer.core.fer.FER` (detect, align, classify in one call), the
:class:`~fastfer.core.detector.Detector` and :class:`~fastfer.core.classifier.Classifier` it runs,
the :class:`~fastfer.core.result.Face` it returns, and the per-stage timing of one call. It may
import ``backend``, ``models``, ``io`` and the top-level ``errors``, ``labels`` and ``_args``;
never ``video``, ``scale``, ``eval``, ``cli`` or the modules that present results (``draw``,
``table``, ``compat``).
"""
