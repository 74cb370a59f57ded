"""Reads a whole file into memory, but only a regular file and only up to a byte limit.

A path may name something that is not a file at all: ``/dev/zero`` and ``/dev/urandom`` never end,
a FIFO blocks the reader until a writer comes, a socket cannot be read, and a sparse file may
claim gigabytes. Each is refused here with an error naming it, before anything is read:
the path is checked with ``stat``, opened with ``O_NONBLOCK`` (so a FIFO swapped in after the check
cannot block), checked again on the open descriptor, refused when its size is over the limit,
and read in chunks of at most ``limit + 1`` bytes in all (so a file that grows while it is read
cannot exceed the limit either).
"""

from __future__ import annotations

import errno
import os
import stat

_CHUNK = 1 << 20

_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISSOCK, "a socket"),
)


class NotARegularFile(OSError):
    """The path names a directory, device, FIFO or socket; ``kind`` says which."""

    def __init__(self, filename: str, kind: str):
        super().__init__(
            errno.EISDIR if kind == "a directory" else errno.EINVAL, f"is {kind}, not a regular file", filename
        )
        self.kind = kind


class FileTooLarge(OSError):
    """The file holds more bytes than the caller's limit."""

    def __init__(self, filename: str, size: int, limit: int, *, at_least: bool = False):
        what = "grew past" if at_least else f"is {size:,} bytes, more than"
        super().__init__(errno.EFBIG, f"{what} the limit of {limit:,} bytes", filename)
        self.size, self.limit = size, limit


def _check_regular(info: os.stat_result, filename: str) -> None:
    if stat.S_ISREG(info.st_mode):
        return
    for test, kind in _KINDS:
        if test(info.st_mode):
            raise NotARegularFile(filename, kind)
    raise NotARegularFile(filename, "of an unknown kind")


def stat_regular_file(path: "str | os.PathLike[str]") -> os.stat_result:
    """``os.stat`` of ``path`` (symbolic links followed); :class:`NotARegularFile` for directories,
    devices, FIFOs and sockets, ``FileNotFoundError`` as ``os.stat`` raises it. Used before
    handing a path to a library that opens it itself (OpenCV's video reader blocks for ever on a
    FIFO), where the check on the open descriptor below is not available."""
    filename = os.fsdecode(path)
    info = os.stat(filename)
    _check_regular(info, filename)
    return info


def read_regular_file(path: "str | os.PathLike[str]", limit: int) -> bytearray:
    """The bytes of the regular file at ``path`` (symbolic links followed).

    Raises ``FileNotFoundError``/``PermissionError`` as ``open`` does, :class:`NotARegularFile`
    for directories, devices, FIFOs and sockets, and :class:`FileTooLarge` when the file holds
    more than ``limit`` bytes (checked by size before reading, and again while reading).
    """
    filename = os.fsdecode(path)
    _check_regular(os.stat(filename), filename)  # a socket or FIFO is named before open() sees it
    flags = (
        os.O_RDONLY
        | getattr(os, "O_NONBLOCK", 0)
        | getattr(os, "O_CLOEXEC", 0)
        | getattr(os, "O_NOCTTY", 0)
        | getattr(os, "O_BINARY", 0)
    )
    fd = os.open(filename, flags)
    with os.fdopen(fd, "rb", buffering=0) as file:
        info = os.fstat(fd)
        _check_regular(info, filename)  # the path may have been swapped since the stat above
        if info.st_size > limit:
            raise FileTooLarge(filename, info.st_size, limit)
        # Read into one buffer of the stated size plus one byte, then on in chunks while the file
        # keeps giving more (it grew, or it is a /proc pseudo-file that reports size 0): never more
        # than limit + 1 bytes in all, so such a file cannot exceed the limit either.
        buffer = bytearray(info.st_size + 1)
        view, total = memoryview(buffer), 0
        while True:
            if total == len(buffer):
                if total > limit:
                    raise FileTooLarge(filename, total, limit, at_least=True)
                view.release()  # a bytearray cannot grow while a view of it exists
                buffer.extend(bytes(min(_CHUNK, limit + 1 - total)))
                view = memoryview(buffer)
            got = file.readinto(view[total:])
            if not got:
                break
            total += got
        view.release()
    del buffer[total:]
    return buffer
