"""Two (or more) builds of fastfer side by side, in one run: speed ratios and bit-identity.

Each ``NAME=PYTHON`` names an interpreter with its own fastfer installed (a venv of an older
commit, the development venv, ...). Every interpreter runs the same public-API workload in a
persistent worker process; the workers take turns case by case (A B, then B A in the next round,
...), so each build meets the same machine load, and the idle one waits on its pipe without
using CPU. The cases:

- ``FER(threads=1).analyze`` (the default models) on the photo the package ships, given as its
  path (decoding included), and on 640x480 versions (aspect kept, grey borders, as the speed
  benchmarks fit them) of every photo in ../shared/data/photos (or $FASTFER_SHARED/data/photos)
  when present, given as arrays: ms per image;
- the native image kernels both versions expose in ``fastfer._core`` (benchmarks/bench_preprocess.py's
  cases: detector_input, resize, to_gray, face_input with boxes and with landmarks): ms per call.

Per interpreter and case it prints the median over rounds (each round's value: the median call
of its turn; for the photo set, the mean ms per image of one pass) with the rounds' min-max, and
the ratio to the first interpreter (the reference), taken round by round between neighbouring
turns: the median ratio, its interquartile range and min-max. Naming one interpreter twice
(``after=... again=...``) adds an A/A column: the noise floor of the ratios on this machine.

It then checks that the analyze outputs (boxes, scores, landmarks, probs, labels, at the
precision each is stored in) and the kernel outputs are bit-identical across the interpreters on
every input (exit status 1 when not, with what differs and by how much). The inputs are made once
by the driver (numpy + cv2 of the interpreter running this file) and handed to every worker as
the same arrays; each worker finds the shipped photo in its own package (their sha256 must agree).

Run from the repository root (the driver needs numpy and cv2, e.g. the development venv)::

    .venv/bin/python benchmarks/bench_versions.py before=/tmp/venv-before/bin/python \\
        after=.venv/bin/python [--rounds 15] [--turn 0.4] [--json out.json]

Workers start with ``python -I`` in a scratch folder, without PYTHONPATH or FASTFER_* variables,
so each imports the fastfer its own site-packages gives (the driver prints where from).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SIZE = (640, 480)
GREY = 114
PHOTO_SUFFIXES = (".jpg", ".jpeg", ".png")
# ArcFace's five-point template on a 112x112 crop (fastfer's FIVE_POINT_TEMPLATE_112 in both versions).
TEMPLATE_112 = np.array(
    [[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366], [41.5493, 92.3655], [70.7299, 92.2041]]
)
KERNELS = {
    "detector_input 1920x1080 -> 640": ("detector_input", "frame_1080p", (640,), {}),
    "detector_input 1920x1080 -> 600": ("detector_input", "frame_1080p", (600,), {}),
    "detector_input 640x480 as is": ("detector_input", "frame_vga", (0,), {}),
    "resize 1920x1080 -> 640x360": ("resize", "frame_1080p", (640, 360), {}),
    "resize 1920x1080 -> 701x394": ("resize", "frame_1080p", (701, 394), {}),
    "to_gray 1920x1080": ("to_gray", "frame_1080p", (), {}),
    "face_input 16 boxes -> 1x64x64 grey": (
        "face_input",
        "frame_1080p",
        ("boxes16",),
        {"size": 64, "gray": True, "mean": 127.5, "scale": 1 / 127.5},
    ),
    "face_input 16 aligned -> 3x112x112": ("face_input", "frame_1080p", (), {"landmarks": "marks16", "size": 112}),
}
SHIPPED = "analyze: shipped photo (path)"
PHOTOS = "analyze: 640x480 photos (arrays)"


# --- worker: runs inside each interpreter ----------------------------------------------------------


def _digest(*arrays) -> str:
    h = hashlib.sha256()
    for a in arrays:
        a = np.ascontiguousarray(a)
        h.update(f"{a.dtype}{a.shape}".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def _face_arrays(faces: list) -> dict:
    """One image's faces as arrays at the precision each field is stored in."""
    n = len(faces)
    probs = [f.probs if f.probs is not None else np.full(7, np.nan, np.float32) for f in faces]
    return {
        "boxes": np.array([f.box for f in faces], np.float64).reshape(n, 4),
        "scores": np.array([f.score for f in faces], np.float64).reshape(n),
        "landmarks": np.array([f.landmarks for f in faces]).reshape(n, 5, 2),
        "probs": np.array(probs).reshape(n, 7),
        "labels": np.array([f.label or "" for f in faces], dtype="U16").reshape(n),
    }


class Worker:
    """The workload of one interpreter: the FER, the kernels and their inputs."""

    def __init__(self, inputs: str):
        import cv2

        cv2.setNumThreads(1)
        import fastfer
        from fastfer import _core

        self.fastfer, self.core = fastfer, _core
        self.data = dict(np.load(inputs, allow_pickle=False))
        self.photo_names = [str(n) for n in self.data.pop("photo_names")]
        self.shipped = str(Path(fastfer.__file__).parent / "data" / "astronaut.jpg")
        self.fer = fastfer.FER(threads=1)
        self.cases = {SHIPPED: lambda: self.fer.analyze(self.shipped)}
        if self.photo_names:
            self.cases[PHOTOS] = self._photo_pass
        for name, (func, frame, args, kwargs) in KERNELS.items():
            self.cases[name] = self._kernel_call(func, frame, args, kwargs)

    def _kernel_call(self, func: str, frame: str, args: tuple, kwargs: dict):
        fn, image = getattr(self.core, func), self.data[frame]
        args = tuple(self.data[a] if isinstance(a, str) else a for a in args)
        kwargs = {k: self.data[v] if isinstance(v, str) else v for k, v in kwargs.items()}
        return lambda: fn(image, *args, **kwargs)

    def _photo_pass(self):
        return [self.fer.analyze(self.data[f"photo_{i}"]) for i in range(len(self.photo_names))]

    def info(self) -> dict:
        caps = self.fastfer.capabilities()
        import cv2
        import onnxruntime

        return {
            "fastfer_file": self.fastfer.__file__,
            "core_file": self.core.__file__,
            "core_mtime": time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(os.path.getmtime(self.core.__file__))),
            "python": sys.version.split()[0],
            "versions": f"numpy {np.__version__}, cv2 {cv2.__version__}, onnxruntime {onnxruntime.__version__}",
            "capabilities": {k: caps.get(k) for k in ("version", "backend", "simd", "inference", "precision")},
            "models": f"{self.fer.detector.spec.name} (max_side {self.fer.detector.max_side}, min_face "
            f"{self.fer.detector.min_face}) + {self.fer.classifier.spec.name}",
            "shipped_sha256": hashlib.sha256(Path(self.shipped).read_bytes()).hexdigest(),
            "cases": list(self.cases),
        }

    def time_case(self, case: str, reps: int) -> float:
        """The median seconds of ``reps`` calls of ``case``."""
        fn, spent = self.cases[case], []
        for _ in range(reps):
            start = time.perf_counter()
            fn()
            spent.append(time.perf_counter() - start)
        return float(np.median(spent))

    def outputs(self, path: str) -> None:
        """Every analyze result and kernel output of this build, saved to ``path``."""
        arrays = {}
        images = [("shipped", self.shipped)] + [(n, self.data[f"photo_{i}"]) for i, n in enumerate(self.photo_names)]
        for name, image in images:
            for key, value in _face_arrays(self.fer.analyze(image)).items():
                arrays[f"analyze|{name}|{key}"] = value
        for name in KERNELS:
            out = self.cases[name]()
            for k, value in enumerate(out if isinstance(out, tuple) else (out,)):
                arrays[f"kernel|{name}|{k}"] = np.asarray(value)
        np.savez(path, **arrays)


def worker_main(inputs: str) -> None:
    """Answer the driver's JSON lines on stdin until 'quit'; anything printed goes to stderr."""
    reply, sys.stdout = sys.stdout, sys.stderr
    worker = Worker(inputs)
    for line in sys.stdin:
        msg = json.loads(line)
        op = msg["op"]
        if op == "quit":
            break
        if op == "info":
            out = worker.info()
        elif op == "time":
            out = worker.time_case(msg["case"], msg["reps"])
        elif op == "outputs":
            out = worker.outputs(msg["path"])
        reply.write(json.dumps(out) + "\n")
        reply.flush()


# --- driver ----------------------------------------------------------------------------------------


class Remote:
    """A worker process running this file under one interpreter."""

    def __init__(self, name: str, python: str, inputs: Path, scratch: Path):
        env = {k: v for k, v in os.environ.items() if not k.startswith(("FASTFER_", "PYTHON"))}
        self.name, self.python = name, python
        self.proc = subprocess.Popen(
            [python, "-I", str(Path(__file__).resolve()), "--worker", str(inputs)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            cwd=scratch,
            env=env,
            text=True,
        )

    def ask(self, **msg):
        self.proc.stdin.write(json.dumps(msg) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"worker {self.name} ({self.python}) exited with {self.proc.wait()}")
        return json.loads(line)

    def close(self) -> None:
        try:
            if self.proc.poll() is None:
                self.proc.stdin.write(json.dumps({"op": "quit"}) + "\n")
                self.proc.stdin.close()
            self.proc.wait(timeout=30)
        except (OSError, subprocess.TimeoutExpired):  # a worker that died or hangs: end it
            self.proc.kill()
            self.proc.wait()


def _fit(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """``image`` scaled to fit ``width`` x ``height`` (aspect kept), centred on a grey frame."""
    import cv2

    h, w = image.shape[:2]
    scale = min(width / w, height / h)
    nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
    resized = cv2.resize(image, (nw, nh), interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    frame = np.full((height, width, 3), GREY, np.uint8)
    top, left = (height - nh) // 2, (width - nw) // 2
    frame[top : top + nh, left : left + nw] = resized
    return frame


def _kernel_inputs() -> dict:
    """bench_preprocess.py's frames, 16 boxes and the template placed in each of them."""
    rng = np.random.default_rng(3)
    xy = rng.uniform(0, 1700, (16, 2)) * [1, 0.5]
    size = rng.uniform(40, 200, (16, 1))
    boxes = np.hstack([xy, xy + size])
    marks = boxes[:, None, :2] + TEMPLATE_112[None] / 112 * (boxes[:, 2:3, None] - boxes[:, 0:1, None])
    return {
        "frame_1080p": np.random.default_rng(1).integers(0, 256, (1080, 1920, 3), dtype=np.uint8),
        "frame_vga": np.random.default_rng(2).integers(0, 256, (480, 640, 3), dtype=np.uint8),
        "boxes16": boxes,
        "marks16": marks,
    }


def make_inputs(photo_dir: Path, path: Path) -> list:
    """Write every worker's inputs to ``path``; the names of the photos used."""
    import cv2

    files = sorted(p for p in photo_dir.glob("*") if p.suffix.lower() in PHOTO_SUFFIXES) if photo_dir.is_dir() else []
    arrays, names = _kernel_inputs(), []
    for p in files:
        image = cv2.imread(str(p), cv2.IMREAD_COLOR)
        if image is not None:
            arrays[f"photo_{len(names)}"] = _fit(image, *SIZE)
            names.append(p.name)
    np.savez(path, photo_names=np.array(names, dtype="U200"), **arrays)
    return names


def _calibrate(ref: Remote, cases: list, turn: float) -> dict:
    """Calls per turn for each case, so that a turn lasts about ``turn`` seconds on the reference."""
    reps = {}
    for case in cases:
        t = max(ref.ask(op="time", case=case, reps=3), 1e-6)
        reps[case] = 1 if case == PHOTOS else int(min(500, max(3, round(turn / t))))
    return reps


def measure(remotes: list, reps: dict, rounds: int) -> dict:
    """{case: {name: [seconds per round]}}, the interpreters' turns rotating every round."""
    times = {case: {r.name: [] for r in remotes} for case in reps}
    for i in range(rounds):
        order = remotes[i % len(remotes) :] + remotes[: i % len(remotes)]
        for case, n in reps.items():
            for remote in order:
                times[case][remote.name].append(remote.ask(op="time", case=case, reps=n))
        print(f"  round {i + 1}/{rounds} done", file=sys.stderr, flush=True)
    return times


def _per_image(case: str, seconds: list, n_photos: int) -> np.ndarray:
    return np.asarray(seconds) * 1e3 / (n_photos if case == PHOTOS else 1)


def summarise(times: dict, n_photos: int) -> list:
    """Rows of the table: per case, each interpreter's median ms [min-max] and paired ratios."""
    rows = []
    for case, per_name in times.items():
        names = list(per_name)
        ref = _per_image(case, per_name[names[0]], n_photos)
        row = {"case": case, "ms": {}, "ratio": {}}
        for name in names:
            ms = _per_image(case, per_name[name], n_photos)
            row["ms"][name] = {"median": float(np.median(ms)), "min": float(ms.min()), "max": float(ms.max())}
            if name != names[0]:
                r = ms / ref
                q1, median, q3 = (float(q) for q in np.percentile(r, [25, 50, 75]))
                row["ratio"][name] = {
                    "median": median,
                    "q1": q1,
                    "q3": q3,
                    "min": float(r.min()),
                    "max": float(r.max()),
                }
        rows.append(row)
    return rows


def print_table(rows: list, names: list) -> None:
    """One line per case: each build's median ms [min-max], then each ratio to the first build
    (median of the rounds' paired ratios, their interquartile range and min-max)."""
    cols = [f"{n} ms [min-max]" for n in names] + [f"{n}/{names[0]} (IQR) [min-max]" for n in names[1:]]
    lines = []
    for row in rows:
        cells = [f"{m['median']:.3f} [{m['min']:.3f}-{m['max']:.3f}]" for m in row["ms"].values()]
        cells += [
            f"{r['median']:.3f} ({r['q1']:.3f}-{r['q3']:.3f}) [{r['min']:.3f}-{r['max']:.3f}]"
            for r in row["ratio"].values()
        ]
        lines.append((row["case"], cells))
    width = 2 + max(len(c) for c in cols + [c for _, cells in lines for c in cells])
    print(f"{'case':<38}" + "".join(c.rjust(width) for c in cols))
    for case, cells in lines:
        print(f"{case:<38}" + "".join(c.rjust(width) for c in cells))


def _differences(a: np.ndarray, b: np.ndarray) -> str:
    if a.shape != b.shape:
        return f"shape {a.shape} vs {b.shape}"
    if a.dtype.kind in "US":
        return f"{int((a != b).sum())} of {a.size} differ"
    diff = np.abs(a.astype(np.float64) - b.astype(np.float64))
    f32 = np.array_equal(a.astype(np.float32), b.astype(np.float32), equal_nan=True)
    return f"max |diff| {np.nanmax(diff):.3g}, {int((diff > 0).sum())} of {a.size} values differ, float32-equal: {f32}"


def compare_outputs(files: dict) -> list:
    """(reference, other, key, what differs) for every output not bit-identical to the reference's."""
    names = list(files)
    loaded = {n: np.load(p, allow_pickle=False) for n, p in files.items()}
    ref = loaded[names[0]]
    found = []
    for name in names[1:]:
        other = loaded[name]
        for key in sorted(set(ref.files) | set(other.files)):
            if key not in ref.files or key not in other.files:
                found.append((names[0], name, key, "missing on one side"))
            elif _digest(ref[key]) != _digest(other[key]):
                found.append((names[0], name, key, _differences(ref[key], other[key])))
    return found


def machine() -> dict:
    model = platform.processor() or platform.machine()
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        model = re.search(r"^Model name:\s*(.+)$", out, re.M).group(1).strip()
    except (OSError, subprocess.CalledProcessError, AttributeError):
        pass
    return {"cpu": model, "logical_cpus": os.cpu_count(), "usable_cpus": len(os.sched_getaffinity(0))}


def _loadavg() -> str:
    try:
        return Path("/proc/loadavg").read_text().split(" ", 3)[:3].__str__()
    except OSError:
        return "?"


def _git_state(fastfer_file: str) -> str:
    """The commit and uncommitted changes of the checkout a development install runs from, if any."""
    where = str(Path(fastfer_file).parent)
    try:
        git = ["git", "-C", where]
        head = subprocess.run([*git, "log", "-1", "--format=%h %s"], capture_output=True, text=True, check=True)
        dirty = subprocess.run(
            [*git, "status", "--porcelain", "--", ":/python", ":/cpp", ":/CMakeLists.txt"],
            capture_output=True,
            text=True,
            check=True,
        )
    except (OSError, subprocess.CalledProcessError):
        return "not a git checkout (an installed package)"
    changed = len(dirty.stdout.splitlines())
    return f"checkout at {head.stdout.strip()[:70]}; {changed} uncommitted paths under python/, cpp/, CMakeLists.txt"


def _describe(infos: dict, pythons: dict) -> None:
    print(f"machine: {json.dumps(machine())}; load average (1, 5, 15 min) {_loadavg()}")
    for name, info in infos.items():
        print(f"[{name}] {pythons[name]} (python {info['python']}): fastfer from {info['fastfer_file']}")
        print(f"    _core {info['core_file']} (modified {info['core_mtime']}); {info['versions']}")
        print(f"    capabilities {json.dumps(info['capabilities'])}; models {info['models']}")
        print(f"    {_git_state(info['fastfer_file'])}")


def _check_shipped(infos: dict) -> None:
    shas = {info["shipped_sha256"] for info in infos.values()}
    print(f"shipped photo sha256: {'identical' if len(shas) == 1 else 'DIFFERENT: ' + str(shas)}")


def _report_identity(found: list, names: list) -> bool:
    if not found:
        print(f"outputs: bit-identical across {', '.join(names)} (every analyze result and kernel output)")
        return True
    print(f"outputs: {len(found)} NOT bit-identical:")
    for ref, other, key, what in found:
        print(f"  {other} vs {ref}: {key}: {what}")
    return False


def run(args, scratch: Path) -> int:
    pythons = {}
    for spec in args.interpreters:  # a path stays a path from the workers' scratch folder (links kept)
        name, python = spec.split("=", 1)
        pythons[name] = os.path.abspath(python) if os.sep in python else python
    photo_names = make_inputs(args.photos, scratch / "inputs.npz")
    print(f"photos ({len(photo_names)}, fitted into {SIZE[0]}x{SIZE[1]}): {', '.join(photo_names) or 'none'}")
    remotes = []
    try:
        for name, python in pythons.items():
            remotes.append(Remote(name, python, scratch / "inputs.npz", scratch))
        infos = {r.name: r.ask(op="info") for r in remotes}
        _describe(infos, pythons)
        _check_shipped(infos)
        cases = [c for c in infos[remotes[0].name]["cases"] if all(c in i["cases"] for i in infos.values())]
        for r in remotes:  # warm-up: every case a few times in every build
            for case in cases:
                r.ask(op="time", case=case, reps=2)
        reps = _calibrate(remotes[0], cases, args.turn)
        start = time.perf_counter()
        times = measure(remotes, reps, args.rounds)
        print(f"measured {args.rounds} rounds in {time.perf_counter() - start:.0f} s; load average {_loadavg()}")
        for r in remotes:
            r.ask(op="outputs", path=str(scratch / f"out_{r.name}.npz"))
    finally:
        for r in remotes:
            r.close()
    return _finish(args, infos, reps, times, photo_names, scratch)


def _finish(args, infos: dict, reps: dict, times: dict, photo_names: list, scratch: Path) -> int:
    names = list(infos)
    rows = summarise(times, len(photo_names))
    print(f"\nms per image (analyze) or per call (kernels): median over {args.rounds} interleaved rounds")
    print_table(rows, names)
    identical = _report_identity(compare_outputs({n: scratch / f"out_{n}.npz" for n in names}), names)
    if args.json:
        report = {"machine": machine(), "builds": infos, "reps": reps, "rounds": args.rounds, "rows": rows}
        report.update({"photos": photo_names, "bit_identical": identical, "seconds": times})
        Path(args.json).write_text(json.dumps(report, indent=2))
    return 0 if identical else 1


def main() -> int:
    if len(sys.argv) == 3 and sys.argv[1] == "--worker":
        worker_main(sys.argv[2])
        return 0
    shared = Path(os.environ.get("FASTFER_SHARED", "").strip() or ROOT.parent / "shared")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("interpreters", nargs="+", metavar="NAME=PYTHON", help="the first is the reference")
    parser.add_argument("--rounds", type=int, default=15, help="interleaved rounds (default 15)")
    parser.add_argument("--turn", type=float, default=0.4, help="seconds per turn, about (default 0.4)")
    parser.add_argument("--photos", type=Path, default=shared / "data" / "photos", help="folder of photos")
    parser.add_argument("--json", help="also write the report, every round's times included, here")
    args = parser.parse_args()
    if len(args.interpreters) < 2 or any("=" not in s for s in args.interpreters):
        parser.error("give at least two NAME=PYTHON")
    with tempfile.TemporaryDirectory(prefix="bench_versions_") as scratch:
        return run(args, Path(scratch))


if __name__ == "__main__":
    sys.exit(main())
