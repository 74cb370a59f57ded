"""Runs each fuzz target for a bounded time and reports executions and findings.

    python tests/fuzz/run.py [--seconds 60] [--sanitize] [--json FILE] [TARGET ...]

Targets (tests/fuzz/fuzz_<target>.py): images (header reader + decode + pixel cap), kernels
(native against numpy twins), onnx_scan (the model scan), ppm (the C++ example's PPM reader).
Each runs under atheris/libFuzzer for ``--seconds`` on a scratch copy of its seed corpus
(tests/fuzz/corpus/<target>, never written to), with a per-input timeout of 20 s and a 4 GiB RSS
limit. ``--sanitize`` first builds the native module with ASan + UBSan (tests/fuzz/sanitize.py),
then replays every corpus input on it after each coverage-guided round (see run_target); the ppm
target always needs that build (it links the sanitized core library), fuzzes under it, and is
skipped without it. Crashing inputs are kept in ``--artifacts`` (default: a
temporary folder, printed). Exit status 1 when any target found something.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import sanitize  # noqa: E402

TARGETS = ("images", "kernels", "onnx_scan", "ppm")
# Longest input libFuzzer makes per target: big enough for every seed, small enough to mutate fast.
MAX_LEN = {"images": 16384, "kernels": 4096, "onnx_scan": 16384, "ppm": 4096}


def ppm_library(work: Path) -> Path:
    """Builds tests/fuzz/ppm_harness.cpp (the example's reader) with ASan/UBSan against the
    sanitized core library."""
    out = work / "libfastfer_fuzz_ppm.so"  # the path _libfuzzer gives the target
    command = [
        os.environ.get("CXX", "g++"),
        "-std=c++17",
        "-O1",
        "-g",
        "-shared",
        "-fPIC",
        f"-fsanitize={sanitize.SANITIZERS}",
        "-fno-sanitize-recover=all",
        "-fno-omit-frame-pointer",
        f"-I{sanitize.ROOT / 'cpp' / 'include'}",
        str(HERE / "ppm_harness.cpp"),
        str(sanitize.core_library()),
        "-ldl",
        "-o",
        str(out),
    ]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"building the PPM harness failed:\n{result.stderr[-3000:]}")
    return out


def _libfuzzer(target: str, flags: list, sanitized: bool, folder: Path, timeout: float) -> tuple:
    """One libFuzzer process over the target's scratch corpus and its seeds: (returncode, output,
    runs), returncode None when it had to be killed."""
    env = sanitize.environment() if sanitized else dict(os.environ)
    env["FASTFER_FUZZ_SCRATCH"] = str(folder)
    if target == "ppm":
        env["FASTFER_FUZZ_PPM_LIBRARY"] = str(folder / "libfastfer_fuzz_ppm.so")
    script = HERE / f"fuzz_{target}.py"
    argv = [
        str(script),
        *flags,
        "-timeout=20",
        "-rss_limit_mb=4096",
        f"-max_len={MAX_LEN[target]}",
        f"-artifact_prefix={folder / 'artifacts'}/",
        "-print_final_stats=1",
        str(folder / "corpus"),
        str(HERE / "corpus" / target),
    ]
    if sanitized:
        # No site hooks (an editable install would redirect `import fastfer`): see sanitize.py.
        command = sanitize.python_command()
        command[-1] += (
            f"sys.path.insert(0, {str(HERE)!r}); sys.argv = {argv!r}; import runpy; "
            f"runpy.run_path({str(script)!r}, run_name='__main__')"
        )
    else:
        command = [sys.executable] + argv
    try:
        result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return None, f"hung: no exit after {timeout:.0f} s", 0
    output = result.stdout + result.stderr
    runs = re.findall(r"stat::number_of_executed_units:\s*(\d+)", output) or re.findall(r"Done (\d+) runs", output)
    return result.returncode, output, int(runs[-1]) if runs else 0


def run_target(target: str, seconds: int, sanitized: bool, work: Path) -> dict:
    """Runs one target; returns {target, seconds, sanitized, runs, replayed, status, detail}.

    Coverage guidance and ASan do not mix here: atheris bundles libFuzzer, and a preloaded GCC
    libasan answers the coverage-registration calls with its own empty stubs, so a sanitized
    process fuzzes blind. So with ``sanitized``, the Python-side targets (images, kernels,
    onnx_scan) fuzz coverage-guided on the plain module, then every input of the grown corpus
    (and the seeds) is replayed once on the ASan/UBSan module (``replayed``). The ppm target has
    no coverage to lose (its code is C++ only): it fuzzes under the sanitizers directly.
    """
    report = {"target": target, "seconds": seconds, "sanitized": sanitized, "runs": 0, "replayed": 0}
    folder = work / target
    for sub in ("corpus", "artifacts"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    if target == "ppm":
        if not sanitized:
            return {**report, "status": "skipped", "detail": "needs --sanitize (links the sanitized core)"}
        ppm_library(folder)
    start = time.monotonic()
    fuzz_sanitized = sanitized and target == "ppm"
    rc, output, report["runs"] = _libfuzzer(
        target, [f"-max_total_time={seconds}"], fuzz_sanitized, folder, 3 * seconds + 300
    )
    if rc is not None and rc == 0 and sanitized and not fuzz_sanitized:
        rc, replay_output, report["replayed"] = _libfuzzer(target, ["-runs=0"], True, folder, 3 * seconds + 600)
        output += replay_output
    report["wall_seconds"] = round(time.monotonic() - start, 1)
    if rc is None:
        return {**report, "status": "finding", "detail": output}
    if "needs the native module" in output and rc != 0:
        return {**report, "status": "skipped", "detail": output.strip().splitlines()[-1]}
    artifacts = folder / "artifacts"
    # crash-, timeout- (over 20 s), oom-: findings. slow-unit- (over 10 s): noted, not failed.
    found = sorted(str(p) for p in artifacts.iterdir() if not p.name.startswith("slow-unit-"))
    report["slow_units"] = sorted(str(p) for p in artifacts.glob("slow-unit-*"))
    sanitizer_error = re.search(r"(ERROR: AddressSanitizer.*|runtime error:.*)", output)
    if rc != 0 or found or sanitizer_error:
        detail = sanitizer_error.group(1) if sanitizer_error else output[-3000:]
        return {**report, "status": "finding", "detail": detail, "artifacts": found, "returncode": rc}
    return {**report, "status": "ok", "detail": ""}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("targets", nargs="*", metavar="TARGET", help=f"any of {', '.join(TARGETS)} (default: all)")
    parser.add_argument("--seconds", type=int, default=60, help="per target (default 60)")
    parser.add_argument("--sanitize", action="store_true", help="on the ASan/UBSan build")
    parser.add_argument("--artifacts", type=Path, help="where to keep corpora and crashing inputs")
    parser.add_argument("--json", type=Path, help="write the reports here as a JSON list")
    args = parser.parse_args(argv)
    if args.seconds < 1:
        parser.error("--seconds must be >= 1")
    unknown = [t for t in args.targets if t not in TARGETS]
    if unknown:
        parser.error(f"unknown target(s) {', '.join(unknown)}; the targets: {', '.join(TARGETS)}")
    try:
        import atheris  # noqa: F401
    except ImportError:
        parser.exit(2, "atheris is not installed (pip install atheris; Linux x86-64, Python 3.11+)\n")
    if args.sanitize:
        sanitize.build()
    work = args.artifacts or Path(tempfile.mkdtemp(prefix="fastfer_fuzz_"))
    reports = []
    for target in args.targets or TARGETS:
        report = run_target(target, args.seconds, args.sanitize, work)
        reports.append(report)
        replay = f", {report['replayed']:,} replayed under ASan/UBSan" if report["replayed"] else ""
        under = " under ASan/UBSan" if report["sanitized"] and target == "ppm" else ""
        print(
            f"{target:10s} {report['status']:8s} {report['runs']:>9,} runs in {report['seconds']} s"
            f"{under}{replay}"
            f"{': ' + report['detail'][:300] if report['detail'] else ''}",
            flush=True,
        )
    print(f"corpora and artifacts: {work}")
    if args.json:
        args.json.write_text(json.dumps(reports, indent=1))
    return 1 if any(r["status"] == "finding" for r in reports) else 0


if __name__ == "__main__":
    sys.exit(main())
