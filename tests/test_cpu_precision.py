"""The default models' precision follows the CPU (fastfer.models.cpu): int8 where ONNX Runtime has an
8-bit dot-product instruction to run it on, float32 elsewhere, FASTFER_PRECISION to override."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from _paths import SHIPPED_PHOTO

import fastfer
from fastfer import models
from fastfer.models import cpu

# /proc/cpuinfo excerpts as Linux writes them (one processor each; the flags are abridged).
X86_VNNI = "processor\t: 0\nvendor_id\t: AuthenticAMD\nflags\t\t: fpu sse4_1 avx2 avx512f avx512_vnni avx512_bf16\n"
X86_AVX2 = "processor\t: 0\nvendor_id\t: AuthenticAMD\nflags\t\t: fpu sse4_1 avx2 fma\n"
ARM_DOT = "processor\t: 0\nFeatures\t: fp asimd evtstrm aes asimddp sha512\n"


@pytest.mark.parametrize(
    "text, arch, fast",
    [(X86_VNNI, "x86_64", True), (X86_AVX2, "x86_64", False), (ARM_DOT, "aarch64", True), (X86_VNNI, "aarch64", False)],
)
def test_the_flags_decide(tmp_path, text, arch, fast):
    path = tmp_path / "cpuinfo"
    path.write_text(text)
    assert cpu.int8_is_fast(cpu.cpu_flags(str(path)), arch) is fast


def test_without_cpuinfo_only_arm64_is_assumed_to_have_the_instruction(tmp_path):
    assert cpu.cpu_flags(str(tmp_path / "absent")) is None
    assert cpu.int8_is_fast(None, "aarch64") and not cpu.int8_is_fast(None, "x86_64")


def test_this_machine_gets_the_models_its_flags_call_for():
    expected = "int8" if cpu.has_int8_dot_product() else "fp32"
    if os.environ.get("FASTFER_PRECISION", "").strip():
        expected = os.environ["FASTFER_PRECISION"].strip().lower().replace("auto", expected)
    assert models.PRECISION == expected == fastfer.capabilities()["precision"]
    suffix = "_int8" if expected == "int8" else ""
    assert (models.DEFAULT_DETECTOR, models.DEFAULT_CLASSIFIER) == ("retinaface_mbv2" + suffix, "fernet" + suffix)
    fer = fastfer.FER()
    assert (fer.detector.spec.name, fer.classifier.spec.name) == fastfer.capabilities()["default_models"]


def _defaults_under(value: str) -> subprocess.CompletedProcess:
    code = "import json, fastfer; print(json.dumps(fastfer.capabilities()['default_models']))"
    return subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=300,
        env=dict(os.environ, FASTFER_PRECISION=value),
    )


@pytest.mark.parametrize(
    "value, expected", [("int8", ["retinaface_mbv2_int8", "fernet_int8"]), (" FP32 ", ["retinaface_mbv2", "fernet"])]
)
def test_the_environment_overrides_the_cpu(value, expected):
    run = _defaults_under(value)
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout) == expected


def test_a_bad_precision_is_refused_by_name():
    run = _defaults_under("int4")
    assert run.returncode != 0 and "FASTFER_PRECISION must be 'int8', 'fp32' or 'auto'" in run.stderr


def test_both_precisions_read_the_same_faces_the_same_way():
    """Whichever default a CPU gets, the answers are the same within int8's rounding."""
    photo = fastfer.load_image(SHIPPED_PHOTO)
    fp32 = fastfer.FER("retinaface_mbv2", "fernet").analyze(photo)
    int8 = fastfer.FER("retinaface_mbv2_int8", "fernet_int8").analyze(photo)
    assert [f.label for f in int8] == [f.label for f in fp32] == ["happy"]
    np.testing.assert_allclose([f.probs for f in int8], [f.probs for f in fp32], atol=0.05)
