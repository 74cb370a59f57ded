"""Reading input safely: image loading and decoding (:mod:`~fastfer.io.image`), every guard against
hostile files (regular files only, sizes read from the headers before decoding, the pixel cap,
OpenCV's own decoder limit) and the one list of image formats fastfer reads. It may import only the
top-level ``errors`` and ``_args``, so every layer above can use it.
"""
