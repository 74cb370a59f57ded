"""Reads an encoded image's format and pixel size from its headers, without decoding it.

:func:`fastfer.load_image` checks the pixel cap with this *before* handing bytes to OpenCV, so a
small file that claims a huge image (a "decompression bomb") is refused without allocating it.

The size reported is an upper bound on every buffer a decoder could allocate for the file: each
format is walked the way its decoder walks it (JPEG markers with fill bytes and ``FF 00``
stuffing as libjpeg skips them, every frame header before the scan; every PNG/APNG chunk, every
GIF frame, every WebP chunk, every TIFF directory and its tile size), and where a file holds
several sizes (frames, pages, repeated headers, tiles) the largest width and the largest height
are taken, frame offsets included. A header that lies to one reader and not to the other
therefore cannot shrink the size seen here below what the decoder sees. :mod:`fastfer.io.image`
checks the decoded array against the cap as well.

Safety rule: only formats whose size can be read here are accepted. OpenCV decodes some others
too (JPEG 2000, OpenEXR, Radiance HDR, Sun raster, PFM, BigTIFF, ...); they are refused as
unrecognised rather than decoded blind, because their size cannot be checked up-front.

Every read is bounds-checked and every loop advances, so hostile input yields
:class:`~fastfer.errors.ImageDecodeError`, never an out-of-range read or an endless loop.
"""

from __future__ import annotations

import re
import struct
from typing import Union

from ..errors import ImageDecodeError

Buffer = Union[bytes, bytearray, memoryview]

SUPPORTED_FORMATS = ("JPEG", "PNG", "BMP", "GIF", "WebP", "TIFF", "PNM")
#: The file names fastfer takes for images of those formats when it lists a folder (lower case).
IMAGE_EXTENSIONS = frozenset(
    (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".ppm", ".pgm", ".pnm", ".pam")
)

# JPEG start-of-frame markers (they hold the size). C4 (DHT), C8 (JPG) and CC (DAC) are not frames.
_JPEG_SOF = frozenset({0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF})
_JPEG_EOI, _JPEG_SOS = 0xD9, 0xDA
# The next marker as libjpeg finds it: after any run of FF fill bytes, a byte that is not 00 (FF 00
# is a stuffed data byte, not a marker) and not a marker without a length (TEM, RST0-7, SOI),
# which libjpeg steps over too. Stray bytes before it are skipped, as libjpeg does (with a warning).
# (The last FF of a fill run is followed by the marker byte, so one FF in the pattern suffices.)
_JPEG_NEXT_MARKER = re.compile(rb"\xff([^\x00\x01\xd0-\xd8\xff])")
_PNM_SPACE = b" \t\r\n\v\f"
# Walking limits: files with more frames/pages/chunks than this are refused, not walked for ever.
_MAX_TIFF_DIRECTORIES = 1024
_MAX_PNG_CHUNKS = 1 << 20


def image_size(data: Buffer) -> tuple[str, int, int]:
    """Return ``(format, width, height)`` of an encoded image, read from its headers only.

    ``format`` is one of :data:`SUPPORTED_FORMATS`. ``width`` and ``height`` bound every frame,
    page and canvas in the file (see the module docstring). Raises ``ImageDecodeError`` for
    empty, truncated or malformed headers and for formats not in :data:`SUPPORTED_FORMATS`.
    """
    if len(data) == 0:
        raise ImageDecodeError("empty data: no image")
    head = bytes(data[:12])
    for magic, fmt, reader in _SIGNATURES:
        if _starts_with(head, magic, fmt):
            width, height = reader(data)
            if width <= 0 or height <= 0:
                raise ImageDecodeError(f"malformed {fmt} header: size {width}x{height}")
            return fmt, width, height
    raise ImageDecodeError(
        f"image format not recognised (starts with {head[:8]!r}); supported formats: {', '.join(SUPPORTED_FORMATS)}"
    )


def image_format(head: Buffer) -> str | None:
    """The format of :data:`SUPPORTED_FORMATS` whose signature ``head`` (the first 12 bytes or
    more of a file) starts with, else None; nothing past the signature is checked."""
    head = bytes(head[:12])
    return next((fmt for magic, fmt, _reader in _SIGNATURES if _starts_with(head, magic, fmt)), None)


def _starts_with(head: bytes, magic: bytes, fmt: str) -> bool:
    return head.startswith(magic) and (fmt != "WebP" or head[8:12] == b"WEBP")


def _unpack(fmt: str, data: Buffer, offset: int, image_format: str) -> tuple:
    """``struct.unpack_from`` that reports running off the end as a truncated header."""
    try:
        return struct.unpack_from(fmt, data, offset)
    except struct.error:
        raise ImageDecodeError(f"truncated {image_format} header") from None


class _Bound:
    """The largest width and height seen so far (frames, pages, canvases)."""

    def __init__(self) -> None:
        self.width = self.height = 0
        self.seen = False

    def add(self, width: int, height: int) -> None:
        self.width, self.height = max(self.width, width), max(self.height, height)
        self.seen = True


def _jpeg_size(data: Buffer) -> tuple[int, int]:
    """Every frame header (SOFn) before the first scan, walked as libjpeg's jpeg_read_header walks
    the markers. libjpeg allocates for the first frame header it meets and fails on a second one
    (JERR_SOF_DUPLICATE), before or after the scan, so nothing after the first scan can make it
    allocate more; several headers before the scan count with the largest."""
    bound, pos = _Bound(), 2
    while True:
        found = _JPEG_NEXT_MARKER.search(data, pos)
        if found is None:  # the data ends: what was seen is all a decoder can see
            break
        marker, pos = found.group(1)[0], found.end()
        if _jpeg_header_ends(marker, bound):
            break
        if bound.seen and pos + 7 > len(data):  # cut off after a frame: nothing more to decode
            break
        (length,) = _unpack(">H", data, pos, "JPEG")
        if length < 2:  # the length counts its own 2 bytes; less would not advance
            raise ImageDecodeError(f"malformed JPEG: segment 0xFF{marker:02X} has length {length}")
        if marker in _JPEG_SOF:
            _precision, height, width = _unpack(">BHH", data, pos + 2, "JPEG")
            bound.add(width, height)
        pos += length  # a segment is skipped whole, as libjpeg skips it
    if not bound.seen:
        raise ImageDecodeError("truncated JPEG header: no frame (SOF) marker found")
    return bound.width, bound.height


def _jpeg_header_ends(marker: int, bound: _Bound) -> bool:
    """Whether ``marker`` ends the walk of the header: the end of the image (EOI) or the first scan
    (SOS). Either before any frame header is malformed (ImageDecodeError)."""
    if marker == _JPEG_EOI:
        what = "end of image"
    elif marker == _JPEG_SOS:
        what = "scan data"
    else:
        return False
    if not bound.seen:
        raise ImageDecodeError(f"malformed JPEG: {what} before any frame (SOF) header")
    return True


def _png_size(data: Buffer) -> tuple[int, int]:
    """IHDR, and every APNG frame control chunk (fcTL: size and offset on the canvas)."""
    chunk_type, width, height = _unpack(">4sII", data, 12, "PNG")
    if chunk_type != b"IHDR":
        raise ImageDecodeError("malformed PNG: first chunk is not IHDR")
    bound, pos = _Bound(), 8
    for _ in range(_MAX_PNG_CHUNKS):
        if pos + 8 > len(data):
            return bound.width, bound.height  # cut off: no further chunk can be decoded
        length, chunk_type = struct.unpack_from(">I4s", data, pos)
        if length > len(data) - pos - 12:
            # A chunk longer than the file: OpenCV's APNG reader allocates the declared length
            # before reading it (a 151-byte file took 4 GB and 20 s; found by tests/fuzz).
            raise ImageDecodeError(
                f"corrupt or truncated PNG data: chunk {chunk_type!r} at byte "
                f"{pos} declares {length} bytes, the file has "
                f"{max(0, len(data) - pos - 12)} left"
            )
        if length > 0x7FFFFFFF:  # over libpng's limit: decoders stop here, so the walk does too
            break
        body = pos + 8
        if chunk_type == b"IHDR":
            bound.add(*_unpack(">II", data, body, "PNG"))
        elif chunk_type == b"fcTL":
            _seq, w, h, x, y = _unpack(">5I", data, body, "PNG")
            bound.add(x + w, y + h)
        elif chunk_type == b"IEND":
            break
        pos = body + length + 4  # data, then the CRC
    else:
        raise ImageDecodeError(f"malformed PNG: more than {_MAX_PNG_CHUNKS} chunks")
    return bound.width, bound.height


def _bmp_size(data: Buffer) -> tuple[int, int]:
    (header_size,) = _unpack("<I", data, 14, "BMP")
    if header_size == 12:  # OS/2 BITMAPCOREHEADER: unsigned 16-bit sizes
        return _unpack("<HH", data, 18, "BMP")
    if header_size < 40:
        raise ImageDecodeError(f"malformed BMP: unknown info header size {header_size}")
    width, height = _unpack("<ii", data, 18, "BMP")
    return width, abs(height)  # negative height means rows stored top-down


def _gif_size(data: Buffer) -> tuple[int, int]:
    """The logical screen, and every frame's image descriptor (offset + size)."""
    bound = _Bound()
    screen_w, screen_h, flags = _unpack("<HHB", data, 6, "GIF")
    bound.add(screen_w, screen_h)
    pos = 13 + (3 << ((flags & 7) + 1) if flags & 0x80 else 0)  # after the global colour table
    end = len(data)
    while pos < end:
        block = data[pos]
        if block == 0x3B:  # trailer
            break
        if block == 0x21:  # extension: label, then data sub-blocks
            pos = _gif_skip_sub_blocks(data, pos + 2)
        elif block == 0x2C:  # image descriptor
            if pos + 10 > end:
                break
            left, top, width, height, flags = struct.unpack_from("<HHHHB", data, pos + 1)
            bound.add(left + width, top + height)
            pos += 10 + (3 << ((flags & 7) + 1) if flags & 0x80 else 0)
            pos = _gif_skip_sub_blocks(data, pos + 1)  # after the LZW minimum code size
        else:
            break  # not a GIF block: the decoder stops (or fails) here too
    return bound.width, bound.height


def _gif_skip_sub_blocks(data: Buffer, pos: int) -> int:
    end = len(data)
    while pos < end and data[pos] != 0:
        pos += data[pos] + 1
    return pos + 1


def _webp_size(data: Buffer) -> tuple[int, int]:
    """Every chunk of the RIFF container: the VP8X canvas, each ANMF frame and each VP8/VP8L
    bitstream (also those inside frames)."""
    bound = _Bound()
    _webp_chunks(data, 12, len(data), bound, depth=0)
    if not bound.seen:
        (chunk,) = _unpack("4s", data, 12, "WebP")
        raise ImageDecodeError(f"malformed WebP: no image size in the first chunk {chunk!r}")
    return bound.width, bound.height


def _webp_chunks(data: Buffer, pos: int, end: int, bound: _Bound, depth: int) -> None:
    while pos + 8 <= end:
        chunk, size = struct.unpack_from("<4sI", data, pos)
        body = pos + 8
        if chunk == b"VP8 ":  # lossy: key frame header, 14-bit sizes after a start code
            start_code, width, height = _unpack("<3sHH", data, body + 3, "WebP")
            if start_code != b"\x9d\x01\x2a":
                raise ImageDecodeError("malformed WebP: bad VP8 start code")
            bound.add(width & 0x3FFF, height & 0x3FFF)
        elif chunk == b"VP8L":  # lossless: signature byte, then 14-bit width-1 and height-1
            signature, bits = _unpack("<BI", data, body, "WebP")
            if signature != 0x2F:
                raise ImageDecodeError("malformed WebP: bad VP8L signature")
            bound.add((bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1)
        elif chunk == b"VP8X":  # extended: 24-bit canvas width-1 and height-1
            bound.add(*_webp_24bit_pair(data, body + 4))
        elif chunk == b"ANMF" and depth == 0:  # a frame: 24-bit x/2, y/2, width-1, height-1
            x, y = _webp_24bit_pair(data, body)
            width, height = _webp_24bit_pair(data, body + 6)
            bound.add(2 * (x - 1) + width, 2 * (y - 1) + height)
            _webp_chunks(data, body + 16, min(end, body + size), bound, depth=1)
        if not bound.seen and pos == 12:
            raise ImageDecodeError(f"malformed WebP: unknown first chunk {chunk!r}")
        pos = body + size + (size & 1)  # chunks are padded to an even size


def _webp_24bit_pair(data: Buffer, pos: int) -> tuple[int, int]:
    a0, a1, a2, b0, b1, b2 = _unpack("<6B", data, pos, "WebP")
    return (a0 | a1 << 8 | a2 << 16) + 1, (b0 | b1 << 8 | b2 << 16) + 1


# ImageWidth, ImageLength; TileWidth, TileLength (a decoder allocates one whole tile, whatever the
# image's size: a 16×16 image in 16384×16368 tiles made OpenCV allocate 1 GiB).
_TIFF_SIZE_TAGS = (256, 257)
_TIFF_TILE_TAGS = (322, 323)


def _tiff_size(data: Buffer) -> tuple[int, int]:
    """Width and height of every directory (page) in the chain, every copy of a repeated tag;
    a tile larger than its page counts with its own width and height."""
    order = "<" if bytes(data[:2]) == b"II" else ">"
    (ifd,) = _unpack(order + "I", data, 4, "TIFF")
    bound, visited = _Bound(), set[int]()
    while ifd != 0 and ifd not in visited:
        if len(visited) >= _MAX_TIFF_DIRECTORIES:
            raise ImageDecodeError(f"malformed TIFF: more than {_MAX_TIFF_DIRECTORIES} directories")
        visited.add(ifd)
        if not bound.seen:
            (count,) = _unpack(order + "H", data, ifd, "TIFF")
        elif ifd + 2 > len(data):
            break  # a later page cut off: the decoder fails on it, after the first one
        else:
            (count,) = struct.unpack_from(order + "H", data, ifd)
        found = _tiff_directory_sizes(data, order, ifd, count)
        if 256 not in found or 257 not in found:
            raise ImageDecodeError("malformed TIFF: a directory lacks the width or height tag")
        bound.add(found[256], found[257])
        bound.add(found.get(322, 0), found.get(323, 0))
        next_at = ifd + 2 + 12 * count
        ifd = struct.unpack_from(order + "I", data, next_at)[0] if next_at + 4 <= len(data) else 0
    return bound.width, bound.height


def _tiff_directory_sizes(data: Buffer, order: str, ifd: int, count: int) -> dict[int, int]:
    """{tag: the largest value} of a directory's size and tile size tags."""
    found: dict[int, int] = {}
    for entry in range(ifd + 2, ifd + 2 + 12 * count, 12):  # count is 16-bit: bounded
        tag, value_type, n = _unpack(order + "HHI", data, entry, "TIFF")
        if tag not in _TIFF_SIZE_TAGS and tag not in _TIFF_TILE_TAGS:
            continue
        if value_type not in (3, 4) or n != 1:
            raise ImageDecodeError(f"malformed TIFF: size tag {tag} has type {value_type}, count {n}")
        # Values shorter than 4 bytes sit left-justified in the field, in the file's byte order.
        (value,) = _unpack(order + ("H" if value_type == 3 else "I"), data, entry + 8, "TIFF")
        found[tag] = max(found.get(tag, 0), value)
    return found


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
                value, pos = _pnm_number(data, pos)
                fields[token] = max(fields.get(token, 0), value)  # OpenCV refuses repeats
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
