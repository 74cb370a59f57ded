"""load_image and the header sniffer behind its pixel cap.

Everything runs on real OpenCV (and, where installed, Pillow) encoders and decoders: the sniffer's
sizes are checked against files the real encoders wrote, and hand-built headers cover the
variants the encoders do not write (old BMP headers, big-endian TIFF, PNM comments, hostile JPEG).
"""

from __future__ import annotations

import io
import os
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
from _paths import SHIPPED_PHOTO
from hypothesis import given, settings, strategies as st

import fastfer
from fastfer import (
    ImageDecodeError,
    ImageTooLargeError,
    InvalidImageError,
    UnsupportedInputError,
    get_max_pixels,
    load_image,
    set_max_pixels,
)
from fastfer.io.image_header import SUPPORTED_FORMATS, image_size

ASTRONAUT = SHIPPED_PHOTO
HEIGHT, WIDTH = 7, 13
PACKAGE_ROOT = str(Path(fastfer.__file__).resolve().parent.parent)


@pytest.fixture
def bgr() -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (HEIGHT, WIDTH, 3), dtype=np.uint8)


@pytest.fixture
def restore_max_pixels(monkeypatch):
    """Put the process-wide cap back after a test changes it."""
    monkeypatch.setattr(fastfer.io.image, "_max_pixels", get_max_pixels())


def encode(ext: str, image: np.ndarray, params: tuple[int, ...] = ()) -> bytes:
    ok, buf = cv2.imencode(ext, image, list(params))
    assert ok, ext
    return buf.tobytes()


def png_bytes(image: np.ndarray) -> bytes:
    return encode(".png", image)


# --- accepted inputs ---------------------------------------------------------------------------


def test_path_as_str_and_pathlike(tmp_path, bgr):
    path = tmp_path / "face.png"
    path.write_bytes(png_bytes(bgr))
    for source in (str(path), path):
        image = load_image(source)
        assert image.dtype == np.uint8 and image.shape == (HEIGHT, WIDTH, 3)
        np.testing.assert_array_equal(image, bgr)


@pytest.mark.parametrize("wrap", [bytes, bytearray, memoryview])
def test_encoded_bytes_kinds(wrap, bgr):
    np.testing.assert_array_equal(load_image(wrap(png_bytes(bgr))), bgr)


def test_strided_memoryview_is_read_correctly(bgr):
    data = png_bytes(bgr)
    interleaved = np.zeros(2 * len(data), dtype=np.uint8)
    interleaved[::2] = np.frombuffer(data, dtype=np.uint8)
    view = memoryview(interleaved[::2])
    assert not view.c_contiguous
    np.testing.assert_array_equal(load_image(view), bgr)


def test_gray_arrays_become_bgr(bgr):
    gray = bgr[:, :, 0].copy()
    for array in (gray, gray[:, :, None]):
        image = load_image(array)
        assert image.shape == (HEIGHT, WIDTH, 3) and image.dtype == np.uint8
        for channel in range(3):
            np.testing.assert_array_equal(image[:, :, channel], gray)


def test_bgr_array_is_returned_as_is(bgr):
    assert load_image(bgr) is bgr
    view = np.zeros((40, 60, 3), dtype=np.uint8)[::2, 1::3]
    assert not view.flags.c_contiguous
    assert load_image(view) is view


def test_bgra_array_drops_alpha(bgr):
    bgra = np.dstack([bgr, np.full((HEIGHT, WIDTH), 77, np.uint8)])
    image = load_image(bgra)
    assert image.shape == (HEIGHT, WIDTH, 3)
    np.testing.assert_array_equal(image, bgr)


def test_pil_modes_give_bgr_in_the_right_order():
    Image = pytest.importorskip("PIL.Image")
    rgb = Image.new("RGB", (5, 4), (10, 20, 30))
    assert load_image(rgb).shape == (4, 5, 3)
    assert load_image(rgb)[0, 0].tolist() == [30, 20, 10]
    assert load_image(Image.new("L", (5, 4), 99))[3, 4].tolist() == [99, 99, 99]
    assert load_image(Image.new("RGBA", (5, 4), (10, 20, 30, 0)))[2, 2].tolist() == [30, 20, 10]
    palette = Image.new("P", (5, 4), 1)
    palette.putpalette([0, 0, 0, 200, 100, 50] + [0] * (256 * 3 - 6))
    assert load_image(palette)[1, 1].tolist() == [50, 100, 200]


def test_pil_image_read_from_a_file(tmp_path, bgr):
    Image = pytest.importorskip("PIL.Image")
    path = tmp_path / "face.png"
    path.write_bytes(png_bytes(bgr))
    with Image.open(path) as opened:  # a PIL.PngImagePlugin.PngImageFile, not PIL.Image.Image
        np.testing.assert_array_equal(load_image(opened), bgr)


def test_real_photo_matches_cv2_imread():
    image = load_image(ASTRONAUT)
    assert image.shape == (512, 512, 3) and image.dtype == np.uint8
    np.testing.assert_array_equal(image, cv2.imread(str(ASTRONAUT), cv2.IMREAD_COLOR))
    assert image_size(ASTRONAUT.read_bytes()) == ("JPEG", 512, 512)


def test_exif_rotation_is_applied_and_may_swap_width_and_height():
    Image = pytest.importorskip("PIL.Image")
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90° clockwise to display
    buffer = io.BytesIO()
    Image.new("RGB", (WIDTH, HEIGHT), (200, 0, 0)).save(buffer, "JPEG", exif=exif)
    assert image_size(buffer.getvalue()) == ("JPEG", WIDTH, HEIGHT)
    assert load_image(buffer.getvalue()).shape == (WIDTH, HEIGHT, 3)


# --- header sizes against the real encoders ----------------------------------------------------

ENCODINGS = [
    (".jpg", "JPEG", ()),
    (".png", "PNG", ()),
    (".bmp", "BMP", ()),
    (".gif", "GIF", ()),
    (".webp", "WebP", (cv2.IMWRITE_WEBP_QUALITY, 80)),  # lossy: VP8
    (".webp", "WebP", (cv2.IMWRITE_WEBP_QUALITY, 101)),  # lossless: VP8L
    (".tiff", "TIFF", ()),
    (".ppm", "PNM", ()),  # P6
    (".ppm", "PNM", (cv2.IMWRITE_PXM_BINARY, 0)),  # P3
    (".pgm", "PNM", ()),  # P5
    (".pgm", "PNM", (cv2.IMWRITE_PXM_BINARY, 0)),  # P2
    (".pbm", "PNM", ()),  # P4
    (".pbm", "PNM", (cv2.IMWRITE_PXM_BINARY, 0)),  # P1
    (".pam", "PNM", ()),  # P7
]


def encoded_samples(bgr: np.ndarray) -> list[tuple[str, bytes]]:
    gray = bgr[:, :, 0].copy()
    return [(fmt, encode(ext, gray if ext in (".pgm", ".pbm") else bgr, params)) for ext, fmt, params in ENCODINGS]


@pytest.mark.parametrize("index", range(len(ENCODINGS)), ids=[e[0] + str(e[2]) for e in ENCODINGS])
def test_header_size_matches_the_encoder(index, bgr):
    fmt, data = encoded_samples(bgr)[index]
    assert image_size(data) == (fmt, WIDTH, HEIGHT)
    assert load_image(data).shape == (HEIGHT, WIDTH, 3)


def test_webp_extended_header():
    bgra = np.full((HEIGHT, WIDTH, 4), 9, np.uint8)
    data = encode(".webp", bgra, (cv2.IMWRITE_WEBP_QUALITY, 80))
    assert data[12:16] == b"VP8X"
    assert image_size(data) == ("WebP", WIDTH, HEIGHT)


def test_gif_logical_screen_size():
    header = b"GIF87a" + struct.pack("<HH", 300, 200) + b"\x00\x00\x00"
    assert image_size(header) == ("GIF", 300, 200)


def bmp(info_header: bytes, width: int, rows: int) -> bytes:
    stride = (3 * width + 3) & ~3
    pixels = bytes(stride * rows)
    offset = 14 + len(info_header)
    return b"BM" + struct.pack("<IHHI", offset + len(pixels), 0, 0, offset) + info_header + pixels


def test_bmp_core_header_and_top_down_rows():
    core = bmp(struct.pack("<IHHHH", 12, 5, 3, 1, 24), 5, 3)
    assert image_size(core) == ("BMP", 5, 3)
    assert load_image(core).shape == (3, 5, 3)
    top_down = bmp(struct.pack("<IiiHHIIiiII", 40, 5, -3, 1, 24, 0, 0, 0, 0, 0, 0), 5, 3)
    assert image_size(top_down) == ("BMP", 5, 3)
    assert load_image(top_down).shape == (3, 5, 3)


@pytest.mark.parametrize("order", ["<", ">"])
@pytest.mark.parametrize("width_type", [3, 4])
def test_tiff_byte_orders_and_tag_types(order, width_type):
    magic = b"II*\x00" if order == "<" else b"MM\x00*"
    width_value = struct.pack(order + "H", 640) + b"\x00\x00" if width_type == 3 else struct.pack(order + "I", 640)
    entries = [
        struct.pack(order + "HHI", 254, 4, 1) + bytes(4),  # NewSubfileType, ignored
        struct.pack(order + "HHI", 256, width_type, 1) + width_value,
        struct.pack(order + "HHII", 257, 4, 1, 480),
    ]
    data = magic + struct.pack(order + "IH", 8, len(entries)) + b"".join(entries) + bytes(4)
    assert image_size(data) == ("TIFF", 640, 480)


def test_pnm_with_comments(bgr):
    header = b"P6\n# made by hand\n13 # width\n# height next\n 7\n255\n"
    data = header + bgr[:, :, ::-1].tobytes()
    assert image_size(data) == ("PNM", WIDTH, HEIGHT)
    np.testing.assert_array_equal(load_image(data), bgr)


def jpeg_with_segments(jpeg: bytes, segments: bytes) -> bytes:
    return jpeg[:2] + segments + jpeg[2:]


def test_jpeg_with_large_app_segments_and_fill_bytes(bgr):
    jpeg = encode(".jpg", bgr)
    big_exif = b"\xff\xe1" + struct.pack(">H", 65535) + b"Exif\x00\x00" + bytes(65527)
    icc = b"\xff\xe2" + struct.pack(">H", 40002) + bytes(40000)
    comment = b"\xff\xff\xff\xfe" + struct.pack(">H", 7) + b"hello"  # COM after fill bytes
    data = jpeg_with_segments(jpeg, big_exif + icc + comment)
    assert image_size(data) == ("JPEG", WIDTH, HEIGHT)
    np.testing.assert_array_equal(load_image(data), load_image(jpeg))


@pytest.mark.parametrize(
    "data, message",
    [
        (b"\xff\xd8\xff\xe0\x00\x00" + bytes(100), "length 0"),
        (b"\xff\xd8\xff\xe0\x00\x01" + bytes(100), "length 1"),
        (b"\xff\xd8\xff\xda\x00\x08" + bytes(100), "before any frame"),
        (b"\xff\xd8\xff\xd9", "before any frame"),
        (b"\xff\xd8" + b"\xff" * 1000, "truncated"),
        (b"\xff\xd8\xff\xe0\x10\x00" + bytes(100), "truncated"),
        (b"\xff\xd8\xff\xc0\x00\x11\x08", "truncated"),
        (b"\xff\xd8\xff\xc0\x00\x11\x08\x00\x00\x00\x10", "size 16x0"),
    ],
)
def test_hostile_jpeg_headers_fail_cleanly(data, message):
    with pytest.raises(ImageDecodeError, match=message):
        image_size(data)


def test_every_prefix_gives_the_size_or_a_decode_error(bgr):
    """Cutting any file anywhere in its header yields the true size or ImageDecodeError."""
    for fmt, data in encoded_samples(bgr):
        for cut in range(0, 80):
            try:
                assert image_size(data[:cut]) == (fmt, WIDTH, HEIGHT)
            except ImageDecodeError:
                pass
        with pytest.raises(ImageDecodeError):
            image_size(data[:3])


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\x89PNG\r\n\x1a\n\x00\x00",
        b"BM\x00",
        b"GIF89a\x01",
        b"RIFF\x00\x00\x00\x00WEBPVP8 ",
        b"II*\x00\x08\x00\x00\x00",
        b"MM\x00*\x00\x00\xff\xff",
        b"P6\n13 ",
        b"P7\nWIDTH 3\n",
    ],
)
def test_truncated_headers(data):
    with pytest.raises(ImageDecodeError):
        image_size(data)


@pytest.mark.parametrize(
    "data", [b"hello world, not an image", b"RIFF\x24\x00\x00\x00WAVEfmt ", b"\x00\x00\x00\x0cjP  \r\n\x87\n"]
)  # JPEG 2000: not sized
def test_unknown_format_lists_the_supported_ones(data):
    with pytest.raises(ImageDecodeError, match="not recognised") as info:
        image_size(data)
    assert all(fmt in str(info.value) for fmt in SUPPORTED_FORMATS)


SIGNATURES = [
    b"\xff\xd8\xff",
    b"\x89PNG\r\n\x1a\n",
    b"BM",
    b"GIF89a",
    b"RIFF\x00\x00\x00\x00WEBP",
    b"II*\x00",
    b"MM\x00*",
    b"P5 ",
    b"P7\n",
]


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(SIGNATURES), st.binary(max_size=200))
def test_random_headers_never_crash(signature, tail):
    try:
        fmt, width, height = image_size(signature + tail)
    except ImageDecodeError:
        return
    assert fmt in SUPPORTED_FORMATS and width > 0 and height > 0


# --- pixel cap ---------------------------------------------------------------------------------


def test_cap_applies_to_every_input_kind(tmp_path):
    square = np.zeros((20, 20, 3), np.uint8)
    path = tmp_path / "square.png"
    path.write_bytes(png_bytes(square))
    sources = [path, str(path), png_bytes(square), square, square[:, :, 0]]
    try:
        from PIL import Image

        sources.append(Image.new("RGB", (20, 20)))
    except ImportError:
        pass
    for source in sources:
        with pytest.raises(ImageTooLargeError, match=r"20x20 = 400 pixels.*cap of 100"):
            load_image(source, max_pixels=100)
        assert load_image(source, max_pixels=400).shape == (20, 20, 3)
        with pytest.raises(ImageTooLargeError):
            load_image(source, max_pixels=399)


def test_process_cap_is_used_when_none_is_given(restore_max_pixels):
    square = np.zeros((20, 20, 3), np.uint8)
    set_max_pixels(100)
    assert get_max_pixels() == 100
    with pytest.raises(ImageTooLargeError):
        load_image(square)
    assert load_image(square, max_pixels=1000) is square


def test_oversized_png_header_is_refused_without_decoding(tmp_path):
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    # Well-formed chunks (a chunk longer than the file is refused as truncated before the size).
    bomb = (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">II", 100_000, 100_000) + b"\x08\x02\x00\x00\x00")
        + chunk(b"IDAT", os.urandom(1000))
    )
    with pytest.raises(ImageTooLargeError, match=r"100000x100000 = 10,000,000,000 pixels"):
        load_image(bomb)
    path = tmp_path / "bomb.png"
    path.write_bytes(bomb)
    with pytest.raises(ImageTooLargeError, match="bomb.png"):
        load_image(path)


@pytest.mark.parametrize("bad", [0, -1, 1.5, "100", True, None, 10**6 + 0.0])
def test_set_max_pixels_rejects_bad_values(bad, restore_max_pixels):
    before = get_max_pixels()
    with pytest.raises(ValueError, match="positive int"):
        set_max_pixels(bad)
    assert get_max_pixels() == before
    if bad is not None:
        with pytest.raises(ValueError, match="positive int"):
            load_image(np.zeros((2, 2, 3), np.uint8), max_pixels=bad)


def run_python(code: str, env_value: str | None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "FASTFER_MAX_PIXELS"}
    env["PYTHONPATH"] = PACKAGE_ROOT
    if env_value is not None:
        env["FASTFER_MAX_PIXELS"] = env_value
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("env_value, expected", [(None, 100_000_000), ("1234", 1234), (" 5 ", 5)])
def test_default_cap_comes_from_the_environment(env_value, expected):
    result = run_python("import fastfer; print(fastfer.get_max_pixels())", env_value)
    assert result.returncode == 0, result.stderr
    assert int(result.stdout) == expected


@pytest.mark.parametrize("env_value", ["abc", "0", "-5"])
def test_bad_environment_cap_fails_at_import(env_value):
    result = run_python("import fastfer", env_value)
    assert result.returncode != 0
    assert "FASTFER_MAX_PIXELS" in result.stderr and "ValueError" in result.stderr


# --- errors ------------------------------------------------------------------------------------


def test_corrupt_file_names_the_file(tmp_path, bgr):
    path = tmp_path / "corrupt.png"
    path.write_bytes(png_bytes(bgr)[:41] + b"garbage" * 50)
    with pytest.raises(ImageDecodeError, match="corrupt or truncated PNG") as info:
        load_image(path)
    assert str(path) in str(info.value)


def test_header_errors_from_files_name_the_file(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_bytes(b"just some text")
    with pytest.raises(ImageDecodeError, match="not recognised") as info:
        load_image(path)
    assert str(path) in str(info.value)


def test_empty_file_and_empty_bytes(tmp_path):
    path = tmp_path / "empty.jpg"
    path.write_bytes(b"")
    with pytest.raises(ImageDecodeError, match="empty") as info:
        load_image(path)
    assert str(path) in str(info.value)
    for empty in (b"", bytearray(), memoryview(b"")):
        with pytest.raises(ImageDecodeError, match="empty"):
            load_image(empty)


def test_missing_file_and_directory(tmp_path):
    missing = tmp_path / "missing.jpg"
    with pytest.raises(FileNotFoundError, match="missing.jpg"):
        load_image(missing)
    with pytest.raises(IsADirectoryError, match=str(tmp_path.name)):
        load_image(tmp_path)


@pytest.mark.parametrize("dtype", [np.float32, np.bool_, np.uint16, np.int8])
def test_wrong_dtype(dtype):
    with pytest.raises(InvalidImageError, match=np.dtype(dtype).name) as info:
        load_image(np.zeros((4, 4, 3), dtype))
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize("shape", [(12,), (2, 2, 3, 1), (4, 4, 2), (4, 4, 5), (0, 5), (5, 0, 3), (0, 0, 1)])
def test_wrong_shape_or_empty(shape):
    with pytest.raises(InvalidImageError, match=r"got shape \(" + ", ".join(map(str, shape))):
        load_image(np.zeros(shape, np.uint8))


@pytest.mark.parametrize("source", [42, [1, 2, 3], None, {"path": "x.jpg"}, 3.5])
def test_unsupported_types(source):
    with pytest.raises(UnsupportedInputError) as info:
        load_image(source)
    assert isinstance(info.value, TypeError)
    message = str(info.value)
    assert type(source).__name__ in message and "numpy array" in message and "PIL" in message
