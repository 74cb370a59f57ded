"""Scaling out: many images over the cores of one machine in threads or processes
(:mod:`~fastfer.scale.parallel`) and over a Ray cluster (:mod:`~fastfer.scale.ray`). It may import
``core`` and everything below it; never ``video``, ``eval`` or ``cli``.
"""
