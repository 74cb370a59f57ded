"""Which precision of the shipped models runs faster on this CPU.

ONNX Runtime's int8 convolutions and matrix products are fast only where the CPU has an 8-bit dot
product instruction: VNNI on x86 (AVX-512 VNNI, AVX-VNNI, or AMX), SDOT/UDOT on ARM ("asimddp").
Without one, x86 falls back to AVX2 16-bit multiply-adds (VPMADDUBSW): the int8 models run slower
than the float32 ones there, and full-range int8 weights can saturate those 16-bit sums, as ONNX
Runtime's quantisation guide warns (a full-range int8 fernet read 69.2% of FER2013 PrivateTest
there, 70.1% with VNNI; tools/models/quantize.py now gives classifiers 7-bit weights, which cannot
saturate). Measured with the default pipeline (docs/speed.md): on an AMD EPYC with AVX-512
VNNI, int8 RetinaFace took 0.55-0.58x the time of float32; on an AMD EPYC with AVX2 only,
1.06-1.13x (the whole 640x480 call 65.7 against 58.8 ms). So the default models are the int8
builds where the CPU has the instruction and the float32 ones elsewhere; ``FASTFER_PRECISION=int8``
or ``fp32`` overrides the choice.
"""

from __future__ import annotations

import os
import platform
from typing import Iterable, Optional

#: The /proc/cpuinfo flags that give ONNX Runtime fast int8 kernels, per machine architecture.
INT8_DOT_PRODUCT_FLAGS = {
    "x86_64": ("avx512_vnni", "avx_vnni", "amx_int8"),
    "aarch64": ("asimddp",),
}
_ARCH_ALIASES = {"amd64": "x86_64", "x64": "x86_64", "arm64": "aarch64"}
#: The precisions the shipped models come in (fastfer bench lists them in this order).
PRECISIONS = ("fp32", "int8")


def cpu_flags(cpuinfo: str = "/proc/cpuinfo") -> Optional[frozenset]:
    """The CPU's feature flags as Linux lists them ("flags" on x86, "Features" on ARM), or None
    where there is no such file (macOS, Windows)."""
    try:
        with open(cpuinfo, encoding="ascii", errors="replace") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key.strip().lower() in ("flags", "features"):
                    return frozenset(value.split())
    except OSError:
        return None
    return frozenset()


def machine() -> str:
    """The architecture under the names of INT8_DOT_PRODUCT_FLAGS."""
    name = platform.machine().lower()
    return _ARCH_ALIASES.get(name, name)


def int8_is_fast(flags: Optional[Iterable[str]], arch: str) -> bool:
    """True where the flags name an 8-bit dot-product instruction for ``arch``. Without flags (no
    /proc/cpuinfo): ARM64 machines that run such systems (Apple silicon, Windows on Snapdragon) all
    have SDOT/UDOT; x86 ones are not known, and float32 is the safe side (never much slower, and
    slightly more accurate)."""
    if flags is None:
        return arch == "aarch64"
    return any(flag in set(flags) for flag in INT8_DOT_PRODUCT_FLAGS.get(arch, ()))


def has_int8_dot_product() -> bool:
    """int8_is_fast for this machine's CPU."""
    return int8_is_fast(cpu_flags(), machine())


def default_precision() -> str:
    """ "int8" or "fp32": FASTFER_PRECISION when set (ValueError on any other value), else the
    faster of the two on this CPU."""
    request = os.environ.get("FASTFER_PRECISION", "").strip().lower()
    if request in PRECISIONS:
        return request
    if request not in ("", "auto"):
        raise ValueError(f"FASTFER_PRECISION must be 'int8', 'fp32' or 'auto', got {request!r}")
    return "int8" if has_int8_dot_product() else "fp32"
