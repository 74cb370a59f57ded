"""Runs each fuzz target for a bounded time and reports executions and findings.

    python tests/fuzz/run.py [--seconds 60] [--sanitize] [--json FILE] [TARGET ...]

Targets (tests/fuzz/fuzz_<target>.py): images (header reader + decode + pixel cap), kernels
(native against numpy twins), onnx_scan (the model scan), ppm (the C++ example's PPM reader).
Each runs under atheris/libFuzzer for ``--seconds`` on a scratch copy of its seed corpus
(tests/fuzz/corpus/<target>, never written to), with a per-input timeout of 20 s and a 4 GiB RSS
limit. ``--sanitize`` first builds the native module with ASan + UBSan (tests/fuzz/sanitize.py)
and runs the targets on it; the ppm target always needs that build (it links the sanitized core
library) and is skipped without it. Crashing inputs are kept in ``--artifacts`` (default: a
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
    out = work / "libfastfer_fuzz_ppm.so"
    command = [os.environ.get("CXX", "g++"), "-std=c++17", "-O1", "-g", "-shared", "-fPIC",
               f"-fsanitize={sanitize.SANITIZERS}", "-fno-sanitize-recover=all",
               "-fno-omit-frame-pointer", f"-I{sanitize.ROOT / 'cpp' / 'include'}",
               str(HERE / "ppm_harness.cpp"), str(sanitize.core_library()), "-ldl", "-o", str(out)]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"building the PPM harness failed:\n{result.stderr[-3000:]}")
    return out


def run_target(target: str, seconds: int, sanitized: bool, work: Path) -> dict:
    """Runs one target; returns {target, seconds, runs, status, detail}."""
    report = {"target": target, "seconds": seconds, "sanitized": sanitized, "runs": 0}
    folder = work / target
    corpus, artifacts = folder / "corpus", folder / "artifacts"
    corpus.mkdir(parents=True, exist_ok=True)
    artifacts.mkdir(parents=True, exist_ok=True)
    env = sanitize.environment() if sanitized else dict(os.environ)
    env["FASTFER_FUZZ_SCRATCH"] = str(folder)
    if target == "ppm":
        if not sanitized:
            return {**report, "status": "skipped", "detail": "needs --sanitize (links the sanitized core)"}
        env["FASTFER_FUZZ_PPM_LIBRARY"] = str(ppm_library(folder))
    script = HERE / f"fuzz_{target}.py"
    argv = [str(script), f"-max_total_time={seconds}", "-timeout=20", "-rss_limit_mb=4096",
            f"-max_len={MAX_LEN[target]}", f"-artifact_prefix={artifacts}/", "-print_final_stats=1",
            str(corpus), str(HERE / "corpus" / target)]
    if sanitized:
        # No site hooks (an editable install would redirect `import fastfer`): see sanitize.py.
        command = sanitize.python_command()
        command[-1] += (f"sys.path.insert(0, {str(HERE)!r}); sys.argv = {argv!r}; import runpy; "
                        f"runpy.run_path({str(script)!r}, run_name='__main__')")
    else:
        command = [sys.executable] + argv
    start = time.monotonic()
    try:
        result = subprocess.run(command, env=env, capture_output=True, text=True,
                                timeout=3 * seconds + 300)
    except subprocess.TimeoutExpired as exc:
        return {**report, "status": "finding", "detail": f"hung: no exit after {exc.timeout:.0f} s"}
    output = result.stdout + result.stderr
    runs = re.findall(r"stat::number_of_executed_units:\s*(\d+)", output) or \
        re.findall(r"Done (\d+) runs", output)
    report["runs"] = int(runs[-1]) if runs else 0
    report["wall_seconds"] = round(time.monotonic() - start, 1)
    if "needs the native module" in output and result.returncode != 0:
        return {**report, "status": "skipped", "detail": output.strip().splitlines()[-1]}
    # crash-, timeout- (over 20 s), oom-: findings. slow-unit- (over 10 s): noted, not failed.
    found = sorted(str(p) for p in artifacts.iterdir() if not p.name.startswith("slow-unit-"))
    report["slow_units"] = sorted(str(p) for p in artifacts.glob("slow-unit-*"))
    sanitizer_error = re.search(r"(ERROR: AddressSanitizer.*|runtime error:.*)", output)
    if result.returncode != 0 or found or sanitizer_error:
        detail = sanitizer_error.group(1) if sanitizer_error else output[-3000:]
        return {**report, "status": "finding", "detail": detail, "artifacts": found,
                "returncode": result.returncode}
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
        print(f"{target:10s} {report['status']:8s} {report['runs']:>9,} runs in {report['seconds']} s"
              f"{' (ASan/UBSan)' if report['sanitized'] else ''}"
              f"{': ' + report['detail'][:300] if report['detail'] else ''}", flush=True)
    print(f"corpora and artifacts: {work}")
    if args.json:
        args.json.write_text(json.dumps(reports, indent=1))
    return 1 if any(r["status"] == "finding" for r in reports) else 0


if __name__ == "__main__":
    sys.exit(main())
