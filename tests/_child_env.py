"""The environment for build tools the tests start (cmake, bash, apt-get through the header fetch).

Under the sanitized suite (tests/test_sanitizers.py) every child inherits the preloaded libasan,
and gpgv, which apt-get runs to check a fetched Debian package, hangs under it (seen: a futex wait
that never ends). The build tools hold none of fastfer's native code, so they start without it.
"""

from __future__ import annotations

import os

SANITIZER_VARIABLES = ("LD_PRELOAD", "ASAN_OPTIONS", "UBSAN_OPTIONS")


def build_tool_env() -> dict:
    """This process's environment without the sanitized run's preload."""
    env = dict(os.environ)
    if env.get("FASTFER_SANITIZED"):
        for key in SANITIZER_VARIABLES:
            env.pop(key, None)
    return env
