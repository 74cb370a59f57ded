"""Evaluation: the WIDER FACE protocol for detectors (:mod:`~fastfer.eval.widerface`), FER2013 and
image-folder expression sets for classifiers (:mod:`~fastfer.eval.fer2013`) and the speed
benchmark with its Pareto plot (:mod:`~fastfer.eval.bench`). It may import ``core`` and everything
below it; never ``video``, ``scale`` or ``cli``.
"""
