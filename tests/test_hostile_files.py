"""Files that lie about their size, and paths that are not image files (issue 13, items 1 and 2).

The hostile files come from ``hostile_files.py`` (also the fuzzers' seeds). Every check runs on
the real header reader and the real OpenCV decoders: the header reader's size must bound what
the decoder produces, and load_image must refuse anything over the cap whatever the headers say.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from hostile_files import BIG, BIG_H, BIG_W, hostile_files

import fastfer
from fastfer import ImageDecodeError, ImageTooLargeError, load_image
from fastfer.io.image_header import image_size

HOSTILE = hostile_files()
PACKAGE_ROOT = str(Path(fastfer.__file__).resolve().parent.parent)
CAP = BIG - 1  # one pixel short of what the lying files hold


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_lying_headers_never_beat_the_cap(name):
    data, big = HOSTILE[name]
    if big:
        with pytest.raises(ImageTooLargeError, match="more than the cap"):
            load_image(data, max_pixels=CAP)
    else:  # suspicious-looking but small: still loads, within the cap
        image = load_image(data, max_pixels=CAP)
        assert image.shape[0] * image.shape[1] <= CAP


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_header_size_bounds_what_the_decoder_produces(name):
    """The decoder itself is the oracle: whenever OpenCV decodes a file, the header reader's
    size holds at least as many pixels, so the cap is checked before the decoder allocates."""
    data, _big = HOSTILE[name]
    _fmt, width, height = image_size(data)
    try:
        decoded = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    except cv2.error:
        decoded = None
    if decoded is not None:
        assert width * height >= decoded.shape[0] * decoded.shape[1]


@pytest.mark.parametrize("fmt, options", [("PNG", {}), ("GIF", {}), ("WEBP", {"lossless": True}), ("TIFF", {})])
def test_honest_multi_frame_files_load_at_their_size(fmt, options):
    """No false alarms: animations and multi-page files that Pillow writes (APNG, GIF, animated
    WebP, multi-page TIFF) load at their canvas size, and the cap still applies to them."""
    pil = pytest.importorskip("PIL.Image")
    import io

    frames = [pil.fromarray(np.full((40, 60, 3), 40 * k, np.uint8)) for k in range(3)]
    buffer = io.BytesIO()
    frames[0].save(buffer, fmt, save_all=True, append_images=frames[1:], **options)
    data = buffer.getvalue()
    assert image_size(data)[1:] == (60, 40)
    assert load_image(data).shape == (40, 60, 3)
    with pytest.raises(ImageTooLargeError):
        load_image(data, max_pixels=60 * 40 - 1)


def test_the_issue_example_decodes_big_but_is_refused_at_a_cap_of_100():
    data, _ = HOSTILE["jpeg_ff00_hides_frame"]
    decoded = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    assert decoded.shape[:2] == (BIG_H, BIG_W)  # what libjpeg really makes of it
    assert image_size(data) == ("JPEG", BIG_W, BIG_H)
    with pytest.raises(ImageTooLargeError, match="1200x1000"):
        load_image(data, max_pixels=100)


@pytest.mark.parametrize("wrap", [bytes, bytearray, memoryview])
def test_every_input_kind_is_held_to_the_cap(wrap, tmp_path):
    data, _ = HOSTILE["jpeg_ff00_hides_frame"]
    with pytest.raises(ImageTooLargeError):
        load_image(wrap(data), max_pixels=CAP)
    path = tmp_path / "lying.jpg"
    path.write_bytes(data)
    with pytest.raises(ImageTooLargeError, match="lying.jpg"):
        load_image(path, max_pixels=CAP)


def test_decoded_size_is_checked_even_when_a_header_reader_is_fooled(monkeypatch):
    """Second line of defence: simulate a header-reader bug (it reports 8x8 for everything);
    the decoded array is still held to the cap."""
    data, _ = HOSTILE["jpeg_ff00_hides_frame"]
    monkeypatch.setattr(fastfer.io.image, "image_size", lambda _data: ("JPEG", 8, 8))
    with pytest.raises(ImageTooLargeError, match="as decoded"):
        load_image(data, max_pixels=CAP)


def _run_python(code: str, **env) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if k != "OPENCV_IO_MAX_IMAGE_PIXELS"}
    environment.update(PYTHONPATH=PACKAGE_ROOT, **env)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=environment, timeout=120)


@pytest.mark.parametrize("cap, opencv_limit", [("1000", "100000000"), ("200000000", "200000000")])
def test_opencv_limit_follows_the_default_cap_but_never_below_the_builtin_one(cap, opencv_limit):
    """fastfer sets OPENCV_IO_MAX_IMAGE_PIXELS before cv2 loads: its default cap, but never below
    the built-in 100 megapixels, since OpenCV's limit cannot move once loaded while fastfer's cap
    can still be raised (set_max_pixels, --max-pixels). A lower cap is held by fastfer's own checks:
    the file whose FF 00 stuffing hides its frame is still refused."""
    code = (
        "import sys; sys.path.insert(0, %r)\n"
        "import fastfer, os\n"
        "from hostile_files import jpeg_ff00_hides_frame\n"
        "print(os.environ['OPENCV_IO_MAX_IMAGE_PIXELS'])\n"
        "try:\n"
        "    fastfer.load_image(jpeg_ff00_hides_frame())\n"
        "except fastfer.ImageTooLargeError:\n"
        "    print('refused')\n"
    ) % str(Path(__file__).parent)
    result = _run_python(code, FASTFER_MAX_PIXELS=cap)
    assert result.returncode == 0, result.stderr
    refused = ["refused"] if int(cap) < 1200 * 1000 else []  # the hidden frame is 1200x1000
    assert result.stdout.split() == [opencv_limit] + refused


def test_opencv_limit_is_reported_as_image_too_large():
    """A user's smaller OPENCV_IO_MAX_IMAGE_PIXELS wins; load_image reports it as too large."""
    code = (
        "import sys; sys.path.insert(0, %r)\n"
        "import fastfer\n"
        "from hostile_files import jpeg_progressive_big\n"
        "try:\n"
        "    fastfer.load_image(jpeg_progressive_big(), max_pixels=10**8)\n"
        "except fastfer.ImageTooLargeError as exc:\n"
        "    print(exc)\n"
    ) % str(Path(__file__).parent)
    result = _run_python(code, OPENCV_IO_MAX_IMAGE_PIXELS="5000")
    assert result.returncode == 0, result.stderr
    assert "OPENCV_IO_MAX_IMAGE_PIXELS" in result.stdout


# --- paths that are not image files (item 2) -----------------------------------------------------


def _load_within(path, seconds: float = 20.0, **kwargs):
    """load_image(path) in a thread: the exception it raised, or a failure if it blocks."""
    outcome = {}

    def target():
        try:
            load_image(path, **kwargs)
            outcome["result"] = "loaded"
        except Exception as exc:  # noqa: BLE001 - the test inspects it
            outcome["result"] = exc

    thread = threading.Thread(target=target, daemon=True)
    start = time.monotonic()
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"load_image({path!r}) blocked for {seconds} s"
    return outcome["result"], time.monotonic() - start


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/urandom"])
def test_devices_are_refused_without_reading(device):
    if not os.path.exists(device):
        pytest.skip(f"{device} does not exist here")
    error, _ = _load_within(device)
    assert isinstance(error, ImageDecodeError) and "character device" in str(error)
    assert device in str(error)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this OS")
def test_fifo_without_a_writer_is_refused_at_once(tmp_path):
    fifo = tmp_path / "pipe.jpg"
    os.mkfifo(fifo)
    error, _ = _load_within(fifo)
    assert isinstance(error, ImageDecodeError) and "FIFO" in str(error)


@pytest.mark.skipif(not hasattr(socket, "AF_UNIX"), reason="no Unix sockets on this OS")
def test_socket_is_refused(tmp_path):
    path = tmp_path / "s.jpg"
    with socket.socket(socket.AF_UNIX) as server:
        server.bind(str(path))
        error, _ = _load_within(path)
    assert isinstance(error, ImageDecodeError) and "socket" in str(error)


def test_directory_is_still_an_is_a_directory_error(tmp_path):
    error, _ = _load_within(tmp_path)
    assert isinstance(error, IsADirectoryError)


def test_multi_gigabyte_sparse_file_is_refused_by_its_size(tmp_path):
    sparse = tmp_path / "huge.jpg"
    with open(sparse, "wb") as file:
        file.truncate(8 << 30)  # 8 GiB, no blocks written
    error, _ = _load_within(sparse)
    assert isinstance(error, ImageTooLargeError) and "8,589,934,592 bytes" in str(error)
    assert str(sparse) in str(error)


def test_file_limit_follows_the_cap(tmp_path):
    """A file larger than any image within the cap can need is refused unread; the same file
    is read (and then fails as the non-image it is) under a larger cap."""
    path = tmp_path / "padded.ppm"
    with open(path, "wb") as file:
        file.write(b"P6\n1 1\n255\n\x00\x00\x00")
        file.truncate(fastfer.io.image.max_file_bytes(10) + 1)
    error, _ = _load_within(path, max_pixels=10)
    assert isinstance(error, ImageTooLargeError) and "limit" in str(error)
    assert load_image(path, max_pixels=10**6).shape == (1, 1, 3)  # trailing zeros are ignored


def test_symlink_to_a_device_is_refused(tmp_path):
    if not os.path.exists("/dev/zero"):
        pytest.skip("/dev/zero does not exist here")
    link = tmp_path / "photo.jpg"
    link.symlink_to("/dev/zero")
    error, _ = _load_within(link)
    assert isinstance(error, ImageDecodeError) and "character device" in str(error)


# --- the command line: a refused image inside a batch (item 1) ---------------------------------


def test_cli_reports_a_lying_file_in_a_batch_and_goes_on(tmp_path):
    """`fastfer analyze` over a batch whose middle image is refused by the cap: no traceback, the
    refused file named on stderr, the images before and after it still analysed."""
    from fastfer.cli.common import EXAMPLE  # the photo shipped with fastfer

    lying = tmp_path / "lying.jpg"
    lying.write_bytes(HOSTILE["jpeg_ff00_hides_frame"][0])
    after = tmp_path / "after.jpg"
    after.write_bytes(EXAMPLE.read_bytes())
    height, width = cv2.imread(str(EXAMPLE)).shape[:2]
    cap = max(width * height, 1000)
    assert cap < BIG  # the photo fits the cap, the lying file does not
    args = ["analyze", "--json", "--batch-size", "3", "--max-pixels", str(cap), EXAMPLE, lying, after]
    result = subprocess.run(
        [sys.executable, "-m", "fastfer", *map(str, args)], capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [Path(line["path"]).name for line in lines] == [EXAMPLE.name, "lying.jpg", "after.jpg"]
    assert "faces" in lines[0] and "faces" in lines[2] and len(lines[2]["faces"]) >= 1
    assert "more than the cap" in lines[1]["error"]
    assert "1 of 3 inputs could not be read" in result.stderr
