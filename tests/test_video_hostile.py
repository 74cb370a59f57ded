"""Video and image inputs that used to crash, hang, eat gigabytes or claim success (issue 22,
part B, items 1, 3, 4, 5 and 8).

Every file is made here in ``tmp_path``; the command runs for real (``python -m fastfer video``
in a child process, whose exit status and peak memory are what is checked) and the stream on
the real models. A child that hangs is killed after a timeout, so a regression fails, not blocks.
"""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

import fastfer
from fastfer import ImageTooLargeError, VideoDecodeError, load_image
from fastfer.io.image_header import image_size

PACKAGE_ROOT = str(Path(fastfer.__file__).resolve().parent.parent)
NON_UTF8 = os.fsdecode(b"v\xff.avi")  # os.fsencode gives back b"v\xff.avi": not valid UTF-8
SHOWN = r"v\xff.avi"  # how the errors name it
HUGE = 16000  # a 16000x16000 frame: 256 megapixels, 768 MB as BGR
# Decoding one HUGE frame took 1.8 to 2.8 GB; refused before decoding, the command stays near
# what loading the models takes (about 300 MB).
PEAK_MB = 900


# --- files ------------------------------------------------------------------------------------


def _chunk(fourcc: bytes, body: bytes) -> bytes:
    return fourcc + struct.pack("<I", len(body)) + body + (b"\0" if len(body) % 2 else b"")


def avi_mjpeg(frames: list, width: int, height: int, fps: int = 10) -> bytes:
    """A minimal MJPEG AVI (no index: FFmpeg scans the frames) declaring ``width``×``height``."""
    avih = struct.pack("<14I", 1_000_000 // fps, 0, 0, 0, len(frames), 0, 1, 0, width, height, 0, 0, 0, 0)
    strh = struct.pack(
        "<4s4sIHHIIIIIIII4h",
        b"vids",
        b"MJPG",
        0,
        0,
        0,
        0,
        1,
        fps,
        0,
        len(frames),
        0,
        0xFFFFFFFF,
        0,
        0,
        0,
        min(width, 32767),
        min(height, 32767),
    )
    strf = struct.pack("<IiiHH4sIiiII", 40, width, height, 1, 24, b"MJPG", 0, 0, 0, 0, 0)
    strl = _chunk(b"LIST", b"strl" + _chunk(b"strh", strh) + _chunk(b"strf", strf))
    header = _chunk(b"LIST", b"hdrl" + _chunk(b"avih", avih) + strl)
    movi = _chunk(b"LIST", b"movi" + b"".join(_chunk(b"00dc", frame) for frame in frames))
    return _chunk(b"RIFF", b"AVI " + header + movi)


def grey_jpeg(width: int, height: int) -> bytes:
    """A valid baseline JPEG of mid-grey, ``width`` and ``height`` multiples of 16, built without
    the pixels: every 8×8 block codes as DC 0 + end of block (6 bits), four blocks in 3 bytes. A
    16000² frame is 3 MB here and decodes to 768 MB."""
    ok, encoded = cv2.imencode(".jpg", np.full((16, 16), 128, np.uint8))
    assert ok
    data = encoded.tobytes()
    sof, sos = data.find(b"\xff\xc0"), data.find(b"\xff\xda")
    head = bytearray(data[: sos + 2 + struct.unpack_from(">H", data, sos + 2)[0]])
    struct.pack_into(">HH", head, sof + 5, height, width)
    assert width % 16 == 0 and height % 16 == 0
    return bytes(head) + b"\x28\xa2\x8a" * (width * height // 256) + b"\xff\xd9"


def gif_screen(width: int, height: int) -> bytes:
    """A GIF whose logical screen is ``width``×``height``, holding one 1×1 frame (35 bytes)."""
    return (
        b"GIF89a"
        + struct.pack("<HHBBB", width, height, 0x80, 0, 0)
        + b"\x00\x00\x00\xff\xff\xff"
        + b"\x2c"
        + struct.pack("<HHHHB", 0, 0, 1, 1, 0)
        + b"\x02\x02\x44\x01\x00\x3b"
    )


def tiff_tiled(width: int, height: int, tile_w: int, tile_h: int, pixels: bytes = b"") -> bytes:
    """A grey 8-bit little-endian TIFF of ``width``×``height`` in tiles of ``tile_w``×``tile_h``;
    ``pixels``: every tile's bytes in a row (tile by tile), or nothing (tiles of zeros, 256 bytes)."""
    tiles = -(-width // tile_w) * -(-height // tile_h)
    tile_bytes = len(pixels) // tiles if pixels else 256
    entries = [
        (256, 4, 1, width),
        (257, 4, 1, height),
        (258, 3, 1, 8),
        (259, 3, 1, 1),
        (262, 3, 1, 1),
        (277, 3, 1, 1),
        (322, 4, 1, tile_w),
        (323, 4, 1, tile_h),
        (324, 4, tiles, None),
        (325, 4, tiles, None),
    ]
    ifd_size = 2 + 12 * len(entries) + 4
    offsets_at = 8 + ifd_size
    counts_at = offsets_at + 4 * tiles
    data_at = counts_at + 4 * tiles
    out = bytearray(b"II*\x00" + struct.pack("<IH", 8, len(entries)))
    for tag, kind, count, value in entries:
        if tag == 324:
            value = offsets_at if tiles > 1 else data_at
        elif tag == 325:
            value = counts_at if tiles > 1 else tile_bytes
        field = struct.pack("<HH", value, 0) if kind == 3 else struct.pack("<I", value)
        out += struct.pack("<HHI", tag, kind, count) + field
    out += struct.pack("<I", 0)
    out += b"".join(struct.pack("<I", data_at + k * tile_bytes) for k in range(tiles))
    out += struct.pack("<I", tile_bytes) * tiles
    return bytes(out + (pixels or bytes(256 * tiles)))


def small_video(path: Path, frames: int = 3) -> Path:
    """Three 64×48 frames in an MJPEG AVI, written under a UTF-8 name and then renamed (OpenCV
    cannot take ``path`` itself when it is not valid UTF-8: the crash of item 1)."""
    made = path.with_name("made-by-opencv.avi")
    writer = cv2.VideoWriter(str(made), cv2.VideoWriter_fourcc(*"MJPG"), 10, (64, 48))
    assert writer.isOpened()
    for k in range(frames):
        writer.write(np.full((48, 64, 3), 40 * k, np.uint8))
    writer.release()
    made.rename(path)
    return path


# --- children ---------------------------------------------------------------------------------


def child_env(**extra) -> dict:
    env = dict(os.environ, PYTHONPATH=PACKAGE_ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    env.update(extra)
    return env


# Runs ``python ARGS...`` (``-m MODULE ...`` or ``-c CODE ...``) and, at exit, writes the process's
# own peak RSS (VmHWM) to the file $FASTFER_TEST_PEAK names. Not ru_maxrss (os.wait4): Linux
# carries the parent's high-water mark into a forked and exec'd child, so a child of a large
# pytest process reported the test runner's size, not its own.
_PEAK_WRAPPER = """
import atexit, os, runpy, sys
def _report():
    with open('/proc/self/status') as status, open(os.environ['FASTFER_TEST_PEAK'], 'w') as out:
        out.write(next(line.split()[1] for line in status if line.startswith('VmHWM:')))
atexit.register(_report)
mode, target, *rest = sys.argv[1:]
if mode == '-m':
    sys.argv = [target, *rest]
    runpy.run_module(target, run_name='__main__', alter_sys=True)
else:
    sys.argv = ['-c', *rest]
    exec(compile(target, '<string>', 'exec'), {'__name__': '__main__'})
"""


def run_child(args: list, cwd: Path, timeout: float = 60, **env) -> tuple:
    """(exit status, stdout, stderr, peak RSS in MB) of ``python args...`` (``args`` starts with
    ``-m`` or ``-c``); a child still running after ``timeout`` seconds is killed (status
    "timeout"). The peak is the child's own (VmHWM, see _PEAK_WRAPPER); None if it never said."""
    out, err = cwd / "child.out", cwd / "child.err"
    handle, name = tempfile.mkstemp(prefix="fastfer-peak-")  # outside cwd: tests list its files
    os.close(handle)
    peak_file = Path(name)
    peak_file.unlink()
    with open(out, "wb") as stdout, open(err, "wb") as stderr:
        proc = subprocess.Popen(
            [sys.executable, "-c", _PEAK_WRAPPER, *args],
            cwd=cwd,
            env=child_env(FASTFER_TEST_PEAK=str(peak_file), **env),
            stdin=subprocess.DEVNULL,
            stdout=stdout,
            stderr=stderr,
        )
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        return "timeout", out.read_text(errors="replace"), err.read_text(errors="replace"), None
    peak = int(peak_file.read_text()) / 1024 if peak_file.is_file() else None
    peak_file.unlink(missing_ok=True)
    return proc.returncode, out.read_text(errors="replace"), err.read_text(errors="replace"), peak


def fastfer_video(args: list, cwd: Path, timeout: float = 60, **env) -> tuple:
    return run_child(["-m", "fastfer", "video", *args, "--no-progress"], cwd, timeout, **env)


def stream_in_child(source: str, cwd: Path, timeout: float = 30) -> tuple:
    """``FER().stream(source)`` read to the end in a child; it prints the error's type and text."""
    code = (
        "import sys, fastfer\n"
        "try:\n"
        "    frames = sum(1 for _ in fastfer.FER().stream(sys.argv[1]))\n"
        "    print('frames', frames)\n"
        "except Exception as exc:\n"
        "    print(type(exc).__name__, exc)\n"
    )
    return run_child(["-c", code, source], cwd, timeout)


def error_lines(stderr: str) -> list:
    """stderr without FFmpeg's own messages (``[mjpeg @ 0x...] ...``)."""
    return [line for line in stderr.splitlines() if line.strip() and not line.startswith("[")]


def read_log(path: Path) -> dict:
    return json.loads(path.read_text().splitlines()[-1])


@pytest.fixture
def restore_max_pixels():
    before = fastfer.get_max_pixels()
    yield
    fastfer.set_max_pixels(before)


# --- 1. paths that are not valid UTF-8 ----------------------------------------------------------


def test_non_utf8_video_path_is_refused_by_the_stream(tmp_path):
    small_video(tmp_path / NON_UTF8)
    status, out, err, _ = stream_in_child(NON_UTF8, tmp_path)
    assert status == 0, f"the child died ({status}): {err[-500:]}"
    assert out.startswith("VideoDecodeError") and SHOWN in out and "UTF-8" in out, out


def test_non_utf8_input_and_output_paths_on_the_command_line(tmp_path):
    small_video(tmp_path / NON_UTF8)
    small_video(tmp_path / "ok.avi")
    for args, option in (([NON_UTF8], ""), (["ok.avi", "-o", NON_UTF8], "-o ")):
        status, out, err, _ = fastfer_video(args, tmp_path)
        assert status == 2, f"{args}: exit {status}: {err[-500:]}"
        lines = error_lines(err)
        assert len(lines) == 1 and lines[0].startswith("fastfer: error: "), err
        assert f"{option}{SHOWN}" in lines[0] and "UTF-8" in lines[0], lines
    assert sorted(os.listdir(tmp_path)) == sorted(["child.err", "child.out", "ok.avi", NON_UTF8])


# --- 3. FIFOs and devices -----------------------------------------------------------------------


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_fifo_is_refused_at_once_by_the_stream_and_the_command(tmp_path):
    os.mkfifo(tmp_path / "clip.mp4")
    started = time.monotonic()
    status, out, err, _ = stream_in_child("clip.mp4", tmp_path, timeout=20)
    assert status == 0, f"the stream did not return ({status}): {err[-500:]}"
    assert out.startswith("VideoDecodeError") and "FIFO" in out and "clip.mp4" in out, out
    status, out, err, _ = fastfer_video(["clip.mp4"], tmp_path, timeout=20)
    assert status == 2, f"exit {status}: {err[-500:]}"
    assert error_lines(err) == [line for line in error_lines(err) if "clip.mp4" in line and "FIFO" in line]
    small_video(tmp_path / "ok.avi")
    os.mkfifo(tmp_path / "out.avi")  # as the output: opening it to write would wait for a reader
    status, out, err, _ = fastfer_video(["ok.avi", "-o", "out.avi"], tmp_path, timeout=20)
    assert status == 2 and "-o out.avi" in err and "FIFO" in err, (status, err[-500:])
    assert time.monotonic() - started < 30


def test_device_is_refused_by_the_stream():
    fer = fastfer.FER()
    with pytest.raises(VideoDecodeError, match="character device"):
        fer.stream(os.devnull)


# --- 4. the pixel cap before decoding -----------------------------------------------------------


@pytest.mark.parametrize("name", ["screen.gif", "frames.avi"])
def test_video_frames_over_the_cap_are_refused_before_decoding(tmp_path, name):
    data = gif_screen(HUGE, HUGE) if name.endswith(".gif") else avi_mjpeg([grey_jpeg(HUGE, HUGE)], HUGE, HUGE)
    (tmp_path / name).write_bytes(data)
    status, out, err, peak = fastfer_video([name, "-o", "out.mp4", "--json", "log.jsonl"], tmp_path)
    assert status == 2, f"exit {status}: {err[-500:]}"
    lines = error_lines(err)
    assert len(lines) == 1 and f"{HUGE}x{HUGE}" in lines[0] and "--max-pixels" in lines[0], err
    assert "set_max_pixels" not in lines[0]  # the API's hint, not the command's
    assert peak is not None and peak < PEAK_MB, f"peak RSS {peak} MB: the frame was decoded"
    # Refused before any output is made, as a file that does not exist is: no output, no claim.
    assert "written to" not in out and not (tmp_path / "out.mp4").exists()
    assert not (tmp_path / "log.jsonl").exists()


def test_stream_refuses_frames_over_the_cap_when_opened(tmp_path, restore_max_pixels):
    path = small_video(tmp_path / "clip.avi")
    fer = fastfer.FER()  # its warm-up analyses a 64×64 image: made before the cap is lowered
    fastfer.set_max_pixels(64 * 48 - 1)
    with pytest.raises(ImageTooLargeError, match="64x48"):
        fer.stream(path)
    fastfer.set_max_pixels(64 * 48)
    assert sum(1 for _ in fer.stream(path)) == 3


# --- 5. TIFF tiles --------------------------------------------------------------------------------


@pytest.mark.parametrize("tile", [(16384, 16368), (16, 16_000_000)])
def test_tiff_tiles_count_toward_the_cap(tile, tmp_path):
    data = tiff_tiled(16, 16, *tile)
    assert len(data) < 600
    assert image_size(data) == ("TIFF", max(16, tile[0]), max(16, tile[1]))
    with pytest.raises(ImageTooLargeError, match="more than the cap"):
        load_image(data)
    (tmp_path / "tiles.tif").write_bytes(data)
    code = (
        "import sys, fastfer\n"
        "try:\n    fastfer.load_image(sys.argv[1])\n"
        "except fastfer.Error as exc:\n    print(type(exc).__name__)\n"
    )
    status, out, err, peak = run_child(["-c", code, "tiles.tif"], tmp_path)
    assert (status, out.strip()) == (0, "ImageTooLargeError"), err[-500:]
    assert peak is not None and peak < 400, f"peak RSS {peak} MB: OpenCV allocated the tile"


def test_tiled_tiff_within_the_cap_still_loads():
    # Four 32×32 tiles, tile by tile. (libtiff reads an uncompressed tile into a buffer rounded
    # up to 1 KiB and then refuses tiles of other sizes, so smaller tiles would not load.)
    pixels = bytes(range(256)) * 16
    data = tiff_tiled(64, 64, 32, 32, pixels)
    assert image_size(data) == ("TIFF", 64, 64)
    image = load_image(data)
    assert image.shape == (64, 64, 3)
    tiles = np.frombuffer(pixels, np.uint8).reshape(2, 2, 32, 32).transpose(0, 2, 1, 3).reshape(64, 64)
    assert np.array_equal(image[:, :, 0], tiles)
    with pytest.raises(ImageTooLargeError, match="8192x8192"):  # the tile, as any image that large
        load_image(tiff_tiled(16, 16, 8192, 8192), max_pixels=8192 * 8192 - 1)


# --- 8. a video without a single frame ------------------------------------------------------------


def test_text_file_named_jpg_is_not_a_video(tmp_path):
    (tmp_path / "notes.jpg").write_text("just some text\nnot a picture\n")
    status, out, err, _ = fastfer_video(["notes.jpg", "-o", "out.avi", "--json", "log.jsonl"], tmp_path)
    assert status == 2, f"exit {status}: {out} {err[-500:]}"
    lines = error_lines(err)
    assert len(lines) == 1 and "notes.jpg" in lines[0] and "no frame" in lines[0], err
    assert "written to out.avi" not in out and not (tmp_path / "out.avi").exists()
    last = read_log(tmp_path / "log.jsonl")
    assert last["ended"] == "error" and last["frames"] == 0 and "no frame" in last["error"]
    with pytest.raises(VideoDecodeError, match="no frame") as caught:
        list(fastfer.FER().stream(tmp_path / "notes.jpg"))
    assert caught.value.frames_read == 0


def test_gif_whose_screen_no_decoder_takes(tmp_path):
    """65535² is over the default cap, refused from the header; with the cap raised past it, FFmpeg
    opens the file and gives no frame: an error too, never '0 frames (complete)'."""
    (tmp_path / "screen.gif").write_bytes(gif_screen(65535, 65535))
    for env, says in (({}, "--max-pixels"), ({"FASTFER_MAX_PIXELS": str(1 << 33)}, "no frame")):
        status, out, err, _ = fastfer_video(["screen.gif", "-o", "out.mp4"], tmp_path, **env)
        assert status == 2, f"{env}: exit {status}: {out} {err[-500:]}"
        lines = error_lines(err)
        assert len(lines) == 1 and "screen.gif" in lines[0] and says in lines[0], err
        assert "complete" not in out and "written to" not in out
        assert not (tmp_path / "out.mp4").exists()
