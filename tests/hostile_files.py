"""Image files whose headers lie, for the hostile-file tests and as fuzzing seeds.

Each generator returns the bytes of a file that claims one size to a careless reader and holds
another for the decoder (or several sizes at once: frames, pages, repeated headers). ``HOSTILE``
maps a name to ``(bytes, big)``: ``big`` is True when some reading of the file yields an image of
``BIG`` pixels or more, so a pixel cap below that must refuse it; False for files that only look
suspicious (a frame header inside a comment) and must still load.

Only numpy, OpenCV, struct and zlib are used, so the seeds can be rebuilt anywhere fastfer runs:
``python tests/hostile_files.py OUTDIR`` writes one file per entry.
"""

from __future__ import annotations

import struct
import sys
import zlib
from pathlib import Path

import cv2
import numpy as np

BIG_W, BIG_H = 1200, 1000  # what the lying files really decode to (or claim somewhere)
BIG = BIG_W * BIG_H
SMALL = 8  # the size they show first


def _encode(ext: str, image: np.ndarray, params=()) -> bytes:
    ok, buf = cv2.imencode(ext, image, list(params))
    assert ok, ext
    return buf.tobytes()


def _pattern(width: int, height: int) -> np.ndarray:
    y, x = np.mgrid[0:height, 0:width]
    return np.dstack([(x * 7) % 256, (y * 5) % 256, ((x + y) * 3) % 256]).astype(np.uint8)


# --- JPEG ------------------------------------------------------------------------------------


def _jpeg_segments(data: bytes) -> list:
    """(marker, segment bytes) up to and including SOS + the rest of the file (cv2's output)."""
    pos, out = 2, []
    while True:
        marker = data[pos + 1]
        if marker == 0xDA:
            out.append((marker, data[pos:]))
            return out
        (length,) = struct.unpack_from(">H", data, pos + 2)
        out.append((marker, data[pos : pos + 2 + length]))
        pos += 2 + length


def _sof(segment: bytes, width: int, height: int) -> bytes:
    return segment[:5] + struct.pack(">HH", height, width) + segment[9:]


def _jpeg_parts(progressive: bool = False):
    params = (cv2.IMWRITE_JPEG_PROGRESSIVE, 1) if progressive else ()
    segments = _jpeg_segments(_encode(".jpg", _pattern(16, 16), params))
    tables = b"".join(s for m, s in segments if m not in (0xDA,) and not 0xC0 <= m <= 0xC2)
    sof = next(s for m, s in segments if 0xC0 <= m <= 0xC2)
    scan = segments[-1][1]
    return tables, sof, scan


def jpeg_ff00_hides_frame() -> bytes:
    """The issue's bypass: ``FF 00`` read as a marker with a length skips the real (big) frame
    header and lands on a small one inside a comment; libjpeg skips FF 00 and sees the big one."""
    tables, sof, scan = _jpeg_parts()
    body = tables + _sof(sof, BIG_W, BIG_H)
    fake = _sof(sof, SMALL, SMALL)
    comment = b"\xff\xfe" + struct.pack(">H", 2 + len(fake)) + fake
    skip = 2 + len(body) + 4  # from the fake length field to the fake SOF inside the comment
    return b"\xff\xd8\xff\x00" + struct.pack(">H", skip) + body + comment + scan


def jpeg_fill_bytes_before_frame() -> bytes:
    tables, sof, scan = _jpeg_parts()
    return b"\xff\xd8" + tables + b"\xff" * 9 + _sof(sof, BIG_W, BIG_H)[1:] + scan


def jpeg_stray_bytes_before_frame() -> bytes:
    tables, sof, scan = _jpeg_parts()
    return b"\xff\xd8" + tables + b"\x00\x11\x22junk" + _sof(sof, BIG_W, BIG_H) + scan


def jpeg_two_frames_small_first() -> bytes:
    tables, sof, scan = _jpeg_parts()
    return b"\xff\xd8" + tables + _sof(sof, SMALL, SMALL) + _sof(sof, BIG_W, BIG_H) + scan


def jpeg_frame_after_scan() -> bytes:
    """Not big: a small frame and its scan, then a big frame header after the scan. libjpeg has
    allocated for the first frame and fails at the second (a duplicate frame header)."""
    tables, sof, scan = _jpeg_parts()
    scan = scan[:-2]  # without EOI
    return b"\xff\xd8" + tables + _sof(sof, SMALL, SMALL) + scan + _sof(sof, BIG_W, BIG_H) + tables + scan + b"\xff\xd9"


def jpeg_progressive_big() -> bytes:
    tables, sof, scan = _jpeg_parts(progressive=True)
    return b"\xff\xd8" + tables + _sof(sof, BIG_W, BIG_H) + scan


def jpeg_frame_in_comment() -> bytes:
    """Not big: a big frame header inside a comment is data, for libjpeg and for fastfer."""
    tables, sof, scan = _jpeg_parts()
    fake = _sof(sof, BIG_W, BIG_H)
    comment = b"\xff\xfe" + struct.pack(">H", 2 + len(fake)) + fake
    return b"\xff\xd8" + comment + tables + sof + scan


# --- PNG / APNG -------------------------------------------------------------------------------


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _ihdr(width: int, height: int) -> bytes:
    return _chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))


def _idat(width: int, height: int) -> bytes:
    rows = (
        b"".join(b"\x00" + bytes(range(3 * width)) for _ in range(height))
        if width < 80
        else b"".join(b"\x00" + bytes(3 * width) for _ in range(height))
    )
    return _chunk(b"IDAT", zlib.compress(rows))


def _fctl(seq: int, width: int, height: int, x: int = 0, y: int = 0) -> bytes:
    return _chunk(b"fcTL", struct.pack(">5IHHBB", seq, width, height, x, y, 1, 10, 0, 0))


PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _png(*chunks: bytes) -> bytes:
    """A PNG file: the signature, ``chunks`` and IEND."""
    return PNG_SIGNATURE + b"".join(chunks) + _chunk(b"IEND", b"")


def _apng(frames: int, *chunks: bytes) -> bytes:
    """An animated PNG of a SMALL x SMALL canvas declaring ``frames`` frames, then ``chunks``."""
    return _png(_ihdr(SMALL, SMALL), _chunk(b"acTL", struct.pack(">II", frames, 0)), *chunks)


def png_big() -> bytes:
    """A plain PNG whose header says BIG but whose data is a few bytes."""
    return _png(_ihdr(BIG_W, BIG_H), _chunk(b"IDAT", zlib.compress(b"\x00" * 64)))


def apng_frame_larger_than_canvas() -> bytes:
    return _apng(1, _fctl(0, BIG_W, BIG_H), _idat(SMALL, SMALL))


def apng_second_frame_offset() -> bytes:
    frame = zlib.compress(b"".join(b"\x00" + bytes(3 * SMALL) for _ in range(SMALL)))
    return _apng(
        2,
        _fctl(0, SMALL, SMALL),
        _idat(SMALL, SMALL),
        _fctl(1, SMALL, SMALL, BIG_W, BIG_H),
        _chunk(b"fdAT", struct.pack(">I", 2) + frame),
    )


def png_second_header_larger() -> bytes:
    return _png(_ihdr(SMALL, SMALL), _ihdr(BIG_W, BIG_H), _idat(SMALL, SMALL))


# --- GIF ---------------------------------------------------------------------------------------

_GIF_PIXEL = b"\x02\x02\x44\x01\x00"  # LZW minimum code size 2, one sub-block, terminator


def _gif(screen: tuple, frames: list) -> bytes:
    out = b"GIF89a" + struct.pack("<HHBBB", *screen, 0x80, 0, 0) + b"\x00\x00\x00\xff\xff\xff"
    for left, top, width, height in frames:
        out += b"\x2c" + struct.pack("<HHHHB", left, top, width, height, 0) + _GIF_PIXEL
    return out + b"\x3b"


def gif_frame_larger_than_screen() -> bytes:
    return _gif((SMALL, SMALL), [(0, 0, BIG_W, BIG_H)])


def gif_second_frame_offset() -> bytes:
    return _gif((SMALL, SMALL), [(0, 0, SMALL, SMALL), (BIG_W, BIG_H, 1, 1)])


def gif_big_screen() -> bytes:
    return _gif((BIG_W, BIG_H), [(0, 0, 1, 1)])


# --- WebP --------------------------------------------------------------------------------------


def _riff(chunks: bytes) -> bytes:
    return b"RIFF" + struct.pack("<I", 4 + len(chunks)) + b"WEBP" + chunks


def _webp_chunk(kind: bytes, body: bytes) -> bytes:
    return kind + struct.pack("<I", len(body)) + body + (b"\x00" if len(body) & 1 else b"")


def _vp8l(width: int, height: int) -> bytes:
    """The VP8L chunk of a real lossless encoding of a width×height image."""
    data = _encode(".webp", np.full((height, width, 3), 77, np.uint8), (cv2.IMWRITE_WEBP_QUALITY, 101))
    assert data[12:16] == b"VP8L"
    (size,) = struct.unpack_from("<I", data, 16)
    return data[12 : 20 + size + (size & 1)]


def _u24(value: int) -> bytes:
    return struct.pack("<I", value)[:3]


def _vp8x(flags: int, width: int, height: int) -> bytes:
    return _webp_chunk(b"VP8X", bytes([flags, 0, 0, 0]) + _u24(width - 1) + _u24(height - 1))


def webp_small_canvas_big_bitstream() -> bytes:
    return _riff(_vp8x(0, SMALL, SMALL) + _vp8l(BIG_W, BIG_H))


def webp_animation_frame_larger_than_canvas() -> bytes:
    frame = _u24(0) + _u24(0) + _u24(BIG_W - 1) + _u24(BIG_H - 1) + _u24(100) + b"\x00"
    return _riff(
        _vp8x(0x02, SMALL, SMALL) + _webp_chunk(b"ANIM", bytes(6)) + _webp_chunk(b"ANMF", frame + _vp8l(BIG_W, BIG_H))
    )


def webp_second_bitstream_big() -> bytes:
    return _riff(_vp8l(SMALL, SMALL) + _vp8l(BIG_W, BIG_H))


# --- TIFF --------------------------------------------------------------------------------------


def _tiff(order: str, pages: list, duplicate_width=None, loop: bool = False) -> bytes:
    """Grey 8-bit uncompressed pages (width, height), each with its own strip of zeros."""
    magic = b"II*\x00" if order == "<" else b"MM\x00*"
    out = bytearray(magic + struct.pack(order + "I", 8))
    for index, (width, height) in enumerate(pages):
        entries = [
            (256, 4, width),
            (257, 4, height),
            (258, 3, 8),
            (259, 3, 1),
            (262, 3, 1),
            (273, 4, 0),
            (277, 3, 1),
            (278, 4, height),
            (279, 4, SMALL * SMALL),
        ]
        if duplicate_width is not None:
            entries.insert(1, (256, 4, duplicate_width))
        ifd = len(out)
        size = 2 + 12 * len(entries) + 4
        strip = ifd + size
        out += struct.pack(order + "H", len(entries))
        for tag, kind, value in entries:
            value = strip if tag == 273 else value
            packed = struct.pack(order + "H", value) + b"\x00\x00" if kind == 3 else struct.pack(order + "I", value)
            out += struct.pack(order + "HHI", tag, kind, 1) + packed
        last = index == len(pages) - 1
        next_ifd = ifd if loop and last else (0 if last else strip + SMALL * SMALL)
        out += struct.pack(order + "I", next_ifd) + bytes(SMALL * SMALL)
    return bytes(out)


def tiff_second_page_larger() -> bytes:
    return _tiff("<", [(SMALL, SMALL), (BIG_W, BIG_H)])


def tiff_repeated_width_tag() -> bytes:
    return _tiff(">", [(SMALL, SMALL)], duplicate_width=BIG_W * BIG_H // SMALL)


def tiff_directory_loop() -> bytes:
    """Not big: the last directory points back at itself; the walk must end."""
    return _tiff("<", [(SMALL, SMALL), (SMALL, SMALL)], loop=True)


def tiff_big_endian_big() -> bytes:
    return _tiff(">", [(BIG_W, BIG_H)])


# --- BMP ---------------------------------------------------------------------------------------


def _bmp(info: bytes) -> bytes:
    pixels = bytes(3 * 4 * SMALL)
    offset = 14 + len(info)
    return b"BM" + struct.pack("<IHHI", offset + len(pixels), 0, 0, offset) + info + pixels


def bmp_top_down_big() -> bytes:
    return _bmp(struct.pack("<IiiHHIIiiII", 40, BIG_W, -BIG_H, 1, 24, 0, 0, 0, 0, 0, 0))


def bmp_core_header_big() -> bytes:
    return _bmp(struct.pack("<IHHHH", 12, BIG_W, BIG_H, 1, 24))


def bmp_most_negative_height() -> bytes:
    return _bmp(struct.pack("<IiiHHIIiiII", 40, 1, -(2**31), 1, 24, 0, 0, 0, 0, 0, 0))


# --- PNM / PAM ---------------------------------------------------------------------------------


def ppm_size_after_comment() -> bytes:
    return b"P6\n# %d %d\n%d %d\n255\n" % (SMALL, SMALL, BIG_W, BIG_H) + bytes(3 * SMALL * SMALL)


def pgm_comment_ends_at_carriage_return() -> bytes:
    return b"P5 #%d %d\r%d %d 255\n" % (SMALL, SMALL, BIG_W, BIG_H) + bytes(SMALL * SMALL)


def pam_repeated_width() -> bytes:
    return b"P7\nWIDTH %d\nHEIGHT %d\nWIDTH %d\nDEPTH 3\nMAXVAL 255\nENDHDR\n" % (SMALL, BIG_H, BIG_W) + bytes(
        3 * SMALL * SMALL
    )


def pam_big() -> bytes:
    return b"P7\nWIDTH %d\nHEIGHT %d\nDEPTH 3\nMAXVAL 255\nTUPLTYPE RGB\nENDHDR\n" % (BIG_W, BIG_H) + bytes(
        3 * SMALL * SMALL
    )


_GENERATORS = {
    # name: (generator, big)
    "jpeg_ff00_hides_frame": (jpeg_ff00_hides_frame, True),
    "jpeg_fill_bytes_before_frame": (jpeg_fill_bytes_before_frame, True),
    "jpeg_stray_bytes_before_frame": (jpeg_stray_bytes_before_frame, True),
    "jpeg_two_frames_small_first": (jpeg_two_frames_small_first, True),
    "jpeg_frame_after_scan": (jpeg_frame_after_scan, False),
    "jpeg_progressive_big": (jpeg_progressive_big, True),
    "jpeg_frame_in_comment": (jpeg_frame_in_comment, False),
    "png_big": (png_big, True),
    "apng_frame_larger_than_canvas": (apng_frame_larger_than_canvas, True),
    "apng_second_frame_offset": (apng_second_frame_offset, True),
    "png_second_header_larger": (png_second_header_larger, True),
    "gif_frame_larger_than_screen": (gif_frame_larger_than_screen, True),
    "gif_second_frame_offset": (gif_second_frame_offset, True),
    "gif_big_screen": (gif_big_screen, True),
    "webp_small_canvas_big_bitstream": (webp_small_canvas_big_bitstream, True),
    "webp_animation_frame_larger_than_canvas": (webp_animation_frame_larger_than_canvas, True),
    "webp_second_bitstream_big": (webp_second_bitstream_big, True),
    "tiff_second_page_larger": (tiff_second_page_larger, True),
    "tiff_repeated_width_tag": (tiff_repeated_width_tag, True),
    "tiff_directory_loop": (tiff_directory_loop, False),
    "tiff_big_endian_big": (tiff_big_endian_big, True),
    "bmp_top_down_big": (bmp_top_down_big, True),
    "bmp_core_header_big": (bmp_core_header_big, True),
    "bmp_most_negative_height": (bmp_most_negative_height, True),
    "ppm_size_after_comment": (ppm_size_after_comment, True),
    "pgm_comment_ends_at_carriage_return": (pgm_comment_ends_at_carriage_return, True),
    "pam_repeated_width": (pam_repeated_width, True),
    "pam_big": (pam_big, True),
}


def hostile_files() -> dict:
    """name -> (file bytes, big): every hostile file, built afresh."""
    return {name: (make(), big) for name, (make, big) in _GENERATORS.items()}


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python tests/hostile_files.py OUTDIR")
    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    for name, (data, _big) in hostile_files().items():
        (out / name).write_bytes(data)
    print(f"{len(_GENERATORS)} files in {out}")
