"""Regression tests for what the fuzzers of tests/fuzz/ found (each input is also a seed of its
target's corpus, tests/fuzz/corpus/<target>/finding_*)."""

from __future__ import annotations

from pathlib import Path

import pytest

from fastfer import load_image
from fastfer.errors import ImageDecodeError
from fastfer.io.image_header import image_size

CORPUS = Path(__file__).resolve().parent / "fuzz" / "corpus"


def test_a_png_chunk_longer_than_the_file_is_refused_before_decoding():
    """151 bytes whose IDAT declares 4,177,461,284 bytes: OpenCV's PNG reader allocated the
    declared length (4 GB, 20 s) before finding the file short, while the header said 8x8."""
    data = (CORPUS / "images" / "finding_png_chunk_longer_than_file").read_bytes()
    assert len(data) == 151
    with pytest.raises(ImageDecodeError, match="declares 4177461284 bytes"):
        image_size(data)
    with pytest.raises(ImageDecodeError, match="corrupt or truncated PNG data"):
        load_image(data)
