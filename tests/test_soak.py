"""A soak (issue 13, item 6): 8 threads sharing one FER and 8 threads each with its own, calling
analyze on a mix of valid and hostile inputs; every outcome must equal the serial one (the same
faces, or the same exception type and message), and resident memory must stay flat after warm-up.

The short version (CI) makes a few hundred calls and only reports memory. The full version,
``FASTFER_SOAK=full python -m pytest tests/test_soak.py -s``, makes thousands of calls
(``FASTFER_SOAK_CALLS`` per thread, default 250, so 4,000) and asserts that RSS grew by less than
``FASTFER_SOAK_RSS_MB`` (default 64) MiB over the last three quarters of the calls (warm-up: every
thread runs every input once; the first quarter lets the allocator settle). Both print one line:
calls, mismatches, RSS after warm-up and after each quarter.
"""

from __future__ import annotations

import os
import random
import struct
import threading
import zlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from _paths import SHIPPED_PHOTO

import fastfer

FULL = os.environ.get("FASTFER_SOAK", "").strip().lower() == "full"
CALLS_PER_THREAD = int(os.environ.get("FASTFER_SOAK_CALLS", "250")) if FULL else 12  # 4 quarters
RSS_BUDGET_MB = float(os.environ.get("FASTFER_SOAK_RSS_MB", "64"))
THREADS = 8
# Small tensors keep a call cheap: the soak is about concurrency and memory, not accuracy.
FER_OPTIONS = dict(max_side=320, threads=1)


def rss_mib() -> float:
    """Resident set size of this process (Linux /proc; 0 elsewhere)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except OSError:
        return 0.0


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def hostile_inputs(tmp: Path) -> dict:
    """Inputs a stranger may send: broken files, lying headers (tests/hostile_files.py), wrong
    arrays. Each must give the same outcome every time, in any thread."""
    photo = SHIPPED_PHOTO.read_bytes()
    huge_png = (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", struct.pack(">IIBBBBB", 100000, 100000, 8, 2, 0, 0, 0))
        + _png_chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + _png_chunk(b"IEND", b"")
    )
    cases = {
        "truncated jpeg": photo[: len(photo) // 3],
        "jpeg header only": photo[:600],
        "garbage": bytes(random.Random(13).randrange(256) for _ in range(4096)),
        "empty bytes": b"",
        "png claiming 10^10 pixels": huge_png,
        "missing file": str(tmp / "no_such_file.jpg"),
        "a folder": str(tmp),
        "float array": np.zeros((32, 32, 3), np.float32),
        "empty array": np.zeros((0, 32, 3), np.uint8),
        "5 channels": np.zeros((32, 32, 5), np.uint8),
        "not an image": object(),
    }
    from hostile_files import hostile_files  # files whose headers lie, one or more per format

    for name, (data, _big) in hostile_files().items():
        cases[f"hostile file {name}"] = data
    return cases


def valid_inputs() -> dict:
    photo = fastfer.load_image(str(SHIPPED_PHOTO))
    rng = np.random.default_rng(13)
    return {
        "photo path": str(SHIPPED_PHOTO),
        "photo bytes": SHIPPED_PHOTO.read_bytes(),
        "photo array": photo,
        "photo, flipped view": photo[:, ::-1],
        "photo, small": photo[::4, ::4].copy(),
        "blank": np.zeros((96, 128, 3), np.uint8),
        "noise": rng.integers(0, 256, (120, 160, 3), dtype=np.uint8),
        "grey": np.full((64, 64), 128, np.uint8),
    }


def outcome(fer: fastfer.FER, image) -> tuple:
    """What one analyze call gives, comparably: the faces' values, or the exception."""
    try:
        faces = fer.analyze(image)
    except Exception as exc:  # noqa: BLE001  the soak compares every kind of failure too
        return ("error", type(exc).__name__, str(exc))
    return ("faces", tuple(repr(sorted(face.to_dict().items())) for face in faces))


# Extended suite (CONTRIBUTING.md): a soak runs for a minute or more.
pytestmark = pytest.mark.extended


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    cases = {**valid_inputs(), **hostile_inputs(tmp_path_factory.mktemp("soak"))}
    return list(cases.items())


def test_soak_threads_match_serial_with_flat_memory(inputs):
    shared = fastfer.FER(**FER_OPTIONS)
    serial = {name: outcome(shared, image) for name, image in inputs}
    assert any(o[0] == "faces" and o[1] for o in serial.values()), "no input found a face"
    assert any(o[0] == "error" for o in serial.values())
    own = [fastfer.FER(**FER_OPTIONS) for _ in range(THREADS)]

    mismatches: list = []
    lock = threading.Lock()
    calls = [0]

    def worker(fer: fastfer.FER, seed: int, rounds: int) -> None:
        order = random.Random(seed)
        # rounds == 0: warm-up, every input once (each session meets every tensor size).
        picks = (
            order.sample(inputs, len(inputs))
            if rounds == 0
            else [inputs[order.randrange(len(inputs))] for _ in range(rounds)]
        )
        for name, image in picks:
            got = outcome(fer, image)
            with lock:
                calls[0] += 1
                if got != serial[name]:
                    mismatches.append((name, got, serial[name]))

    # One pool for the whole soak: the same 16 threads throughout, as in a service.
    pool = ThreadPoolExecutor(2 * THREADS)

    def round_of(rounds: int, seed: int) -> None:
        jobs = [(shared, seed + t) for t in range(THREADS)] + [(own[t], seed + 100 + t) for t in range(THREADS)]
        for future in [pool.submit(worker, fer, s, rounds) for fer, s in jobs]:
            future.result()

    try:
        # Warm-up: every session's buffers, every thread's allocator arena (the short soak only
        # starts them: it checks results, not memory).
        warm_up = 0 if FULL else 2
        round_of(warm_up, seed=0)
        rss = [rss_mib()]
        quarter = max(1, CALLS_PER_THREAD // 4)
        for q in range(4):  # RSS after each quarter: flat means the later quarters add nothing
            round_of(quarter, seed=1000 + 100 * q)
            rss.append(rss_mib())
    finally:
        pool.shutdown()
    print(
        f"\nsoak: {calls[0]} calls ({'full' if FULL else 'short'}, {2 * THREADS} threads, "
        f"{len(inputs)} inputs), {len(mismatches)} mismatches, RSS {rss[0]:.1f} MiB after "
        f"warm-up, then {', '.join(f'{r:.1f}' for r in rss[1:])} MiB after each quarter "
        f"({shared.inference} inference)"
    )
    assert not mismatches, mismatches[:3]
    assert calls[0] == 2 * THREADS * ((warm_up or len(inputs)) + 4 * quarter)
    if FULL:
        # From the end of the first quarter: the allocator settles during it.
        assert rss[4] - rss[1] < RSS_BUDGET_MB, f"RSS grew {rss[4] - rss[1]:.1f} MiB: {rss}"
