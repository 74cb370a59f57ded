"""The one progress bar of fastfer: a line on stderr, redrawn in place."""

from __future__ import annotations

import sys
import time


def show_progress(done: int, total: int, start: float, label: str) -> None:
    """Draws "<label> 123/320 [ 38%] 4.1 img/s" on stderr, ``start`` being the
    ``time.perf_counter()`` of the first image."""
    rate = done / max(time.perf_counter() - start, 1e-9)
    sys.stderr.write(f"\r{label} {done}/{total} [{100 * done // total:3d}%] {rate:.1f} img/s")
    sys.stderr.flush()
