"""Reads an encoded image's format and pixel size from its header, without decoding it.

:func:`fastfer.load_image` checks the pixel cap with this *before* handing bytes to OpenCV, so a
small file that claims a huge image (a "decompression bomb") is refused without allocating it.

Safety rule: only formats whose size can be read here are accepted. OpenCV decodes some others
too (JPEG 2000, OpenEXR, Radiance HDR, Sun raster, PFM, BigTIFF, ...); they are refused as
unrecognised rather than decoded blind, because their size cannot be checked up-front.

Every read is bounds-checked and every loop advances, so hostile input yields
:class:`~fastfer.errors.ImageDecodeError`, never an out-of-range read or an endless loop.
"""

from __future__ import annotations

import struct
from typing import Union

from .errors import ImageDecodeError

Buffer = Union[bytes, bytearray, memoryview]

SUPPORTED_FORMATS = ("JPEG", "PNG", "BMP", "GIF", "WebP", "TIFF", "PNM")

# JPEG start-of-frame markers (they hold the size). C4 (DHT), C8 (JPG) and CC (DAC) are not frames.
_JPEG_SOF = frozenset({0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7,
                       0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF})
# Markers that stand alone, without a length field: TEM, RST0-7, SOI.
_JPEG_STANDALONE = frozenset({0x01, *range(0xD0, 0xD9)})
_JPEG_EOI, _JPEG_SOS = 0xD9, 0xDA
_PNM_SPACE = b" \t\r\n\v\f"


def image_size(data: Buffer) -> tuple[str, int, int]:
    """Return ``(format, width, height)`` of an encoded image, read from its header only.

    ``format`` is one of :data:`SUPPORTED_FORMATS`. Raises ``ImageDecodeError`` for empty,
    truncated or malformed headers and for formats not in :data:`SUPPORTED_FORMATS`.
    """
    if len(data) == 0:
        raise ImageDecodeError("empty data: no image")
    head = bytes(data[:12])
    for magic, fmt, reader in _SIGNATURES:
        if head.startswith(magic) and (fmt != "WebP" or head[8:12] == b"WEBP"):
            width, height = reader(data)
            if width <= 0 or height <= 0:
                raise ImageDecodeError(f"malformed {fmt} header: size {width}x{height}")
            return fmt, width, height
    raise ImageDecodeError(
        f"image format not recognised (starts with {head[:8]!r}); supported formats: "
        f"{', '.join(SUPPORTED_FORMATS)}")


def _unpack(fmt: str, data: Buffer, offset: int, image_format: str) -> tuple:
    """``struct.unpack_from`` that reports running off the end as a truncated header."""
    try:
        return struct.unpack_from(fmt, data, offset)
    except struct.error:
        raise ImageDecodeError(f"truncated {image_format} header") from None


def _jpeg_size(data: Buffer) -> tuple[int, int]:
    pos, end = 2, len(data)
    while True:
        # Like libjpeg, skip stray bytes before a marker, then any 0xFF fill bytes.
        while pos < end and data[pos] != 0xFF:
            pos += 1
        while pos < end and data[pos] == 0xFF:
            pos += 1
        if pos >= end:
            raise ImageDecodeError("truncated JPEG header: no frame (SOF) marker found")
        marker = data[pos]
        pos += 1
        if marker in _JPEG_SOF:
            _length, _precision, height, width = _unpack(">HBHH", data, pos, "JPEG")
            return width, height
        if marker in (_JPEG_EOI, _JPEG_SOS):
            raise ImageDecodeError("malformed JPEG: scan data or end before any frame (SOF) header")
        if marker in _JPEG_STANDALONE:
            continue
        (length,) = _unpack(">H", data, pos, "JPEG")
        if length < 2:  # the length counts its own 2 bytes; less would not advance
            raise ImageDecodeError(f"malformed JPEG: segment 0xFF{marker:02X} has length {length}")
        pos += length


def _png_size(data: Buffer) -> tuple[int, int]:
    chunk_type, width, height = _unpack(">4sII", data, 12, "PNG")
    if chunk_type != b"IHDR":
        raise ImageDecodeError("malformed PNG: first chunk is not IHDR")
    return width, height


def _bmp_size(data: Buffer) -> tuple[int, int]:
    (header_size,) = _unpack("<I", data, 14, "BMP")
    if header_size == 12:  # OS/2 BITMAPCOREHEADER: unsigned 16-bit sizes
        return _unpack("<HH", data, 18, "BMP")
    if header_size < 40:
        raise ImageDecodeError(f"malformed BMP: unknown info header size {header_size}")
    width, height = _unpack("<ii", data, 18, "BMP")
    return width, abs(height)  # negative height means rows stored top-down


def _gif_size(data: Buffer) -> tuple[int, int]:
    return _unpack("<HH", data, 6, "GIF")  # logical screen size


def _webp_size(data: Buffer) -> tuple[int, int]:
    (chunk,) = _unpack("4s", data, 12, "WebP")
    if chunk == b"VP8 ":  # lossy: key frame header, 14-bit sizes after a start code
        start_code, width, height = _unpack("<3sHH", data, 23, "WebP")
        if start_code != b"\x9d\x01\x2a":
            raise ImageDecodeError("malformed WebP: bad VP8 start code")
        return width & 0x3FFF, height & 0x3FFF
    if chunk == b"VP8L":  # lossless: signature byte, then 14-bit width-1 and height-1
        signature, bits = _unpack("<BI", data, 20, "WebP")
        if signature != 0x2F:
            raise ImageDecodeError("malformed WebP: bad VP8L signature")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if chunk == b"VP8X":  # extended: 24-bit canvas width-1 and height-1
        w0, w1, w2, h0, h1, h2 = _unpack("<6B", data, 24, "WebP")
        return (w0 | w1 << 8 | w2 << 16) + 1, (h0 | h1 << 8 | h2 << 16) + 1
    raise ImageDecodeError(f"malformed WebP: unknown first chunk {chunk!r}")


def _tiff_size(data: Buffer) -> tuple[int, int]:
    order = "<" if bytes(data[:2]) == b"II" else ">"
    (ifd,) = _unpack(order + "I", data, 4, "TIFF")
    (count,) = _unpack(order + "H", data, ifd, "TIFF")
    found: dict[int, int] = {}
    for entry in range(ifd + 2, ifd + 2 + 12 * count, 12):  # count is 16-bit: bounded
        tag, value_type = _unpack(order + "HH", data, entry, "TIFF")
        if tag not in (256, 257):  # ImageWidth, ImageLength
            continue
        if value_type not in (3, 4):
            raise ImageDecodeError(f"malformed TIFF: size tag {tag} has type {value_type}")
        # Values shorter than 4 bytes sit left-justified in the field, in the file's byte order.
        (found[tag],) = _unpack(order + ("H" if value_type == 3 else "I"), data, entry + 8, "TIFF")
        if len(found) == 2:
            return found[256], found[257]
    raise ImageDecodeError("malformed TIFF: first IFD lacks the width or height tag")


def _pnm_size(data: Buffer) -> tuple[int, int]:
    if len(data) < 3 or data[2] not in _PNM_SPACE + b"#":
        raise ImageDecodeError("malformed PNM: the P1 to P7 magic must be followed by white space")
    if data[1] == ord("7"):  # PAM: "WIDTH w", "HEIGHT h", ... up to "ENDHDR"
        fields: dict[bytes, int] = {}
        pos = 2
        while True:
            token, pos = _pnm_token(data, pos)
            if token == b"ENDHDR":
                break
            if token in (b"WIDTH", b"HEIGHT"):
                fields[token], pos = _pnm_number(data, pos)
        if len(fields) != 2:
            raise ImageDecodeError("malformed PNM: PAM header lacks WIDTH or HEIGHT")
        return fields[b"WIDTH"], fields[b"HEIGHT"]
    width, pos = _pnm_number(data, 2)
    height, _ = _pnm_number(data, pos)
    return width, height


def _pnm_number(data: Buffer, pos: int) -> tuple[int, int]:
    token, pos = _pnm_token(data, pos)
    if not token.isdigit() or len(token) > 10:
        raise ImageDecodeError(f"malformed PNM: expected a size, found {token[:20]!r}")
    return int(token), pos


def _pnm_token(data: Buffer, pos: int) -> tuple[bytes, int]:
    """Next white-space separated token after ``pos``, skipping ``#`` comments; and the end."""
    end = len(data)
    while pos < end and (data[pos] in _PNM_SPACE or data[pos] == ord("#")):
        if data[pos] == ord("#"):
            while pos < end and data[pos] not in b"\r\n":
                pos += 1
        else:
            pos += 1
    start = pos
    while pos < end and data[pos] not in _PNM_SPACE and data[pos] != ord("#"):
        pos += 1
    if pos >= end:  # a header token must be followed by white space, so this is a cut-off
        raise ImageDecodeError("truncated PNM header")
    return bytes(data[start:pos]), pos


_SIGNATURES = (
    (b"\xff\xd8\xff", "JPEG", _jpeg_size),
    (b"\x89PNG\r\n\x1a\n", "PNG", _png_size),
    (b"BM", "BMP", _bmp_size),
    (b"GIF87a", "GIF", _gif_size),
    (b"GIF89a", "GIF", _gif_size),
    (b"RIFF", "WebP", _webp_size),
    (b"II*\x00", "TIFF", _tiff_size),
    (b"MM\x00*", "TIFF", _tiff_size),
    *((b"P%d" % kind, "PNM", _pnm_size) for kind in range(1, 8)),  # P1-P6 PBM/PGM/PPM, P7 PAM
)
