"""The exceptions fastfer raises on purpose.

Every one derives from :class:`Error`. Where a built-in category fits, the class derives from it
too, so ``except ValueError`` keeps working for callers who do not know fastfer's classes.
Kernels called with arrays of the wrong dtype or shape raise plain ``TypeError`` / ``ValueError``.
"""

from __future__ import annotations


class Error(Exception):
    """Base class of fastfer's own exceptions."""


class UnsupportedInputError(Error, TypeError):
    """The object given as an image is of a type fastfer does not read."""


class InvalidImageError(Error, ValueError):
    """The image was read but cannot be used (wrong shape, dtype, empty, ...)."""


class ImageDecodeError(InvalidImageError):
    """The bytes or file are not an image OpenCV can decode (corrupt, truncated, unknown format)."""


class ImageTooLargeError(InvalidImageError):
    """The image has more pixels than the configured cap (checked before decoding)."""


class ModelError(Error):
    """A model cannot be used: unknown name, bad spec, unreadable or invalid ONNX."""


class ModelSpecError(ModelError, ValueError):
    """A model's spec does not fit the use asked of it: a detector used as a classifier, an unknown
    decoder kind, labels other than fastfer.LABELS, outputs that do not match its anchors."""


class ModelNotFoundError(ModelError, LookupError):
    """No shipped or registered model has this name."""


class ModelIntegrityError(ModelError):
    """A model file's bytes do not match the sha256 its manifest entry records."""


class BackendError(Error, RuntimeError):
    """The requested backend cannot be used (e.g. FASTFER_BACKEND=native without the module)."""


class VideoDecodeError(Error, OSError):
    """A video source cannot be opened, or ended before its last frame (a truncated or corrupt
    file). ``frames_read`` is how many frames were read, all of them good."""

    def __init__(self, message: str, frames_read: int = 0):
        super().__init__(message)
        self.frames_read = frames_read
