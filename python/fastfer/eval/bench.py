"""How fast FER is end to end, on real photos: what ``fastfer bench`` measures and prints.

For each *setting* (detector × precision × size policy ``min_face``; the classifier is the default
one at the same precision) and each *scene* (photos with 1 to 3 faces fitted into 640×480 and
into 1920×1080, and a crowd at 1920×1080), four ways of running:

- ``analyze``: ``FER(threads=1).analyze`` image by image: latency percentiles, images/s, the
  per-stage split (:mod:`fastfer.core.timing`) and the share of the call spent outside ONNX Runtime;
- ``analyze_batch``: ``FER(threads=1).analyze_batch`` on the scene's images, images/s;
- ``threads2``: ``FER(threads=2)`` (two ONNX Runtime intra-op threads), image by image;
- ``python_threads2``: two Python threads sharing one ``FER(threads=1)``, images/s.

Every measurement is preceded by one untimed pass over the images (warm-up), then repeated
``repeat`` times (``analyze``: more rounds when needed for :data:`MIN_LATENCY_SAMPLES` latencies);
the spread is shown as percentiles (p10, p50, p90, p99; each only from enough latencies,
:data:`PERCENTILE_SAMPLES`) of the per-image latencies and, for throughputs, the min/median/max
over rounds. Nothing here asserts a speed.

The photos are the team's (``$FASTFER_SHARED/data/photos`` or ``../shared/data/photos`` beside a
checkout, or ``photos_dir``); without them the photo the package ships stands in, and the crowd is
a 4×3 grid of it. :func:`pareto` adds WIDER FACE AP (the official protocol and ``--min-face``)
for each setting, to plot against ms per 640×480 image.
"""

from __future__ import annotations

import json
import os
import platform
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional, Sequence

import cv2
import numpy as np

from .. import backend, models
from .._args import positive_int
from .._version import __version__
from ..backend.runtime import native_inference_unavailable
from ..core.fer import FER
from ..core.timing import STAGES, analyze_timed
from ..io.image import load_image
from ..io.png import write_png
from ..models.cpu import PRECISIONS, has_int8_dot_product

SHIPPED_PHOTO = Path(__file__).resolve().parents[1] / "data" / "astronaut.jpg"
# 1 to 3 faces each (../shared/data/README.md); the crowds are separate.
FEW_FACES = (
    "alex_lacamoire_smiling.jpg",
    "angry_man.jpg",
    "astronaut.jpg",
    "biden_portrait.jpg",
    "crying_woman.jpg",
    "lin_manuel_miranda_speaking.jpg",
    "obama_portrait.jpg",
    "portrait_woman.jpg",
    "tom_cruise_smiling.jpg",
    "two_people.jpg",
)
CROWDS = ("bald_guys_collage.jpg", "stage_group.jpg")
SCENES = {"640x480": (640, 480), "1920x1080": (1920, 1080), "crowd": (1920, 1080)}
MODES = ("analyze", "analyze_batch", "threads2", "python_threads2")
GREY = 114


@dataclass(frozen=True)
class Setting:
    """One way to configure FER: models and size policy."""

    detector: str
    classifier: str
    precision: str
    min_face: int

    @property
    def label(self) -> str:
        return f"{self.detector}+{self.classifier} min_face={self.min_face}"

    def fer(self, threads: int = 1, **options) -> FER:
        return FER(self.detector, self.classifier, threads=threads, min_face=self.min_face, **options)


def default_photos_dir() -> Optional[Path]:
    """The team's photos: $FASTFER_SHARED/data/photos, else ../shared/data/photos beside the
    checkout this package runs from; None when neither exists."""
    env = os.environ.get("FASTFER_SHARED", "").strip()
    candidates = [Path(env) / "data" / "photos"] if env else []
    candidates.append(Path(__file__).resolve().parents[4] / "shared" / "data" / "photos")
    return next((c for c in candidates if c.is_dir()), None)


def fit(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """``image`` scaled to fit ``width`` × ``height`` (aspect kept), centred on a grey frame."""
    h, w = image.shape[:2]
    scale = min(width / w, height / h)
    nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
    resized = cv2.resize(image, (nw, nh), interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    frame = np.full((height, width, 3), GREY, np.uint8)
    top, left = (height - nh) // 2, (width - nw) // 2
    frame[top : top + nh, left : left + nw] = resized
    return frame


def scene_images(scene: str, photos_dir: Optional[Path] = None) -> tuple:
    """(images, source names) of one scene: BGR uint8 frames of the scene's size."""
    if scene not in SCENES:
        raise ValueError(f"unknown scene {scene!r}; expected one of {', '.join(SCENES)}")
    width, height = SCENES[scene]
    folder = Path(photos_dir) if photos_dir is not None else default_photos_dir()
    names = CROWDS if scene == "crowd" else FEW_FACES
    paths = [folder / n for n in names if folder is not None and (folder / n).is_file()]
    if paths:
        return [fit(load_image(p), width, height) for p in paths], [p.name for p in paths]
    photo = load_image(SHIPPED_PHOTO)
    if scene != "crowd":
        return [fit(photo, width, height)], [SHIPPED_PHOTO.name]
    tile = cv2.resize(photo, (width // 4, height // 3), interpolation=cv2.INTER_AREA)
    return [np.vstack([np.hstack([tile] * 4)] * 3)], [f"4x3 grid of {SHIPPED_PHOTO.name}"]


def settings(
    detectors: Optional[Sequence[str]] = None,
    precisions: Sequence[str] = PRECISIONS,
    min_faces: Optional[Sequence[int]] = None,
) -> list:
    """Every shipped detector (or those named) × precision × size policy. The int8 setting uses
    the ``_int8`` version of each model that has one; it is listed only when one of the two has.
    ``min_faces`` defaults to 0 (every face) and the library's default policy when it has one."""
    shipped = [n for n in models.available("detector") if not n.endswith("_int8")]
    names = list(detectors) if detectors else shipped
    for name in names:
        if models.spec(name).task != "detector":
            raise ValueError(f"{name!r} is not a detector")
    for p in precisions:
        if p not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}, got {p!r}")
    if min_faces is None:
        min_faces = sorted({0, models.DEFAULT_MIN_FACE})
    known = set(models.available())
    classifier = models.default_models("fp32")[1]  # the fp32 model of the default
    out = []
    for name in names:
        for precision in precisions:
            det, cls = name, classifier
            if precision == "int8":
                det = f"{name}_int8" if f"{name}_int8" in known else name
                cls = f"{classifier}_int8" if f"{classifier}_int8" in known else classifier
                if (det, cls) == (name, classifier):
                    continue
            out.extend(Setting(det, cls, precision, int(m)) for m in min_faces)
    return out


#: Latencies timed per setting and scene at the least: rounds over the images are added when
#: they are few (``--quick`` on the one shipped photo: 2 rounds would be 2 latencies).
MIN_LATENCY_SAMPLES = 20
#: The latencies a percentile needs to be reported (None below: the p99 of 20 latencies is
#: only their maximum).
PERCENTILE_SAMPLES = {10: 10, 50: 1, 90: 10, 99: 100}


def percentiles(seconds: Sequence[float]) -> dict:
    """Milliseconds: p10, p50, p90, p99 (each None when there are fewer latencies than
    :data:`PERCENTILE_SAMPLES` asks), mean, min, max; and ``samples``, their number."""
    ms = np.asarray(seconds, np.float64) * 1e3
    out = {f"p{q}": float(np.percentile(ms, q)) if ms.size >= need else None for q, need in PERCENTILE_SAMPLES.items()}
    return {**out, "mean": float(ms.mean()), "min": float(ms.min()), "max": float(ms.max()), "samples": int(ms.size)}


def _rates(counts_and_seconds: list) -> dict:
    """Images/s over rounds: median, min, max."""
    rates = [n / s for n, s in counts_and_seconds if s > 0]
    return {"median": float(np.median(rates)), "min": float(min(rates)), "max": float(max(rates))}


def _measure_analyze(fer: FER, images: list, repeat: int) -> dict:
    for image in images:  # warm-up: first-run allocations, caches
        fer.analyze(image)
    totals, stages, faces, rounds = [], {s: [] for s in (*STAGES, "other")}, [], []
    for _ in range(max(repeat, -(-MIN_LATENCY_SAMPLES // len(images)))):
        start = time.perf_counter()
        for image in images:
            found, t = analyze_timed(fer, image)
            totals.append(t.total)
            for s in stages:
                stages[s].append(getattr(t, s))
            faces.append(len(found))
        rounds.append((len(images), time.perf_counter() - start))
    inference = np.asarray(stages["detector"]) + np.asarray(stages["classifier"])
    return {
        "images_per_s": _rates(rounds),
        "latency_ms": percentiles(totals),
        "stages_ms": {s: float(np.median(v) * 1e3) for s, v in stages.items()},
        "outside_inference_share": float(np.median(1.0 - inference / np.asarray(totals))),
        "faces_per_image": float(np.mean(faces)),
    }


def _measure_throughput(run: Callable[[], int], repeat: int) -> dict:
    run()  # warm-up
    rounds = []
    for _ in range(repeat):
        start = time.perf_counter()
        count = run()
        rounds.append((count, time.perf_counter() - start))
    return {"images_per_s": _rates(rounds)}


def measure(setting: Setting, images: list, modes: Sequence[str] = MODES, repeat: int = 5) -> dict:
    """The measurements of one setting on one scene's images: {mode: {...}}."""
    for mode in modes:
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}; expected one of {', '.join(MODES)}")
    repeat = positive_int(repeat, "repeat")
    if not images:
        raise ValueError("no images to measure")
    out = {}
    fer = setting.fer(threads=1)
    if "analyze" in modes:
        out["analyze"] = _measure_analyze(fer, images, repeat)
    if "analyze_batch" in modes:
        out["analyze_batch"] = _measure_throughput(lambda: len(fer.analyze_batch(images)), repeat)
    if "python_threads2" in modes:
        with ThreadPoolExecutor(2) as pool:
            out["python_threads2"] = _measure_throughput(lambda: len(list(pool.map(fer.analyze, images))), repeat)
    if "threads2" in modes:
        two = setting.fer(threads=2)
        out["threads2"] = _measure_throughput(lambda: len([two.analyze(i) for i in images]), repeat)
    return out


def machine() -> dict:
    import onnxruntime

    cpu = platform.processor() or platform.machine()
    try:  # Linux: the model name is more useful than "x86_64"
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "onnxruntime": onnxruntime.__version__,
        "fastfer": __version__,
        "inference": "python" if native_inference_unavailable() else "native",
        "simd": backend.native.simd_level() if backend.native is not None else None,
        # int8 is fast only with an 8-bit dot product (fastfer.models.cpu): the figures depend on it
        "precision": models.PRECISION,
        "int8_dot_product": has_int8_dot_product(),
    }


def run(
    settings_list: Sequence[Setting],
    scenes: Sequence[str] = tuple(SCENES),
    modes: Sequence[str] = MODES,
    repeat: int = 5,
    photos_dir: Optional[Path] = None,
    progress: Optional[Callable[[str], None]] = None,
) -> dict:
    """Every setting on every scene: the JSON-able report ``fastfer bench --json`` prints."""
    report = {
        "machine": machine(),
        "repeat": repeat,
        "warmup_passes": 1,
        "modes": list(modes),
        "scenes": {},
        "results": [],
    }
    loaded = {}
    for scene in scenes:
        images, sources = scene_images(scene, photos_dir)
        loaded[scene] = images
        report["scenes"][scene] = {"size": list(SCENES[scene]), "images": len(images), "sources": sources}
    for setting in settings_list:
        for scene in scenes:
            if progress:
                progress(f"{setting.label} on {scene}")
            report["results"].append(
                {
                    "detector": setting.detector,
                    "classifier": setting.classifier,
                    "precision": setting.precision,
                    "min_face": setting.min_face,
                    "scene": scene,
                    **measure(setting, loaded[scene], modes, repeat),
                }
            )
    return report


def format_table(report: dict) -> str:
    """The report as a text table: one row per setting and scene."""
    m = report["machine"]
    lines = [
        f"fastfer {m['fastfer']}, {m['cpu']}, {m['cores']} cores, onnxruntime {m['onnxruntime']}, "
        f"inference {m['inference']}, simd {m['simd']}, default precision {m['precision']}; "
        f"{report['repeat']} rounds after 1 warm-up pass (analyze: at least {MIN_LATENCY_SAMPLES} "
        "images); images/s medians over rounds, latency percentiles over images (p10, p90 from "
        f"{PERCENTILE_SAMPLES[90]} images, p99 from {PERCENTILE_SAMPLES[99]}; - below)",
        f"{'detector':22} {'classifier':12} {'min':>4} {'scene':9} {'img/s':>7} {'p50':>7} {'p90':>7} "
        f"{'p99':>7} {'batch/s':>7} {'2thr/s':>7} {'2py/s':>7} {'faces':>5} {'out%':>5}  stages ms "
        "(pre det post crops cls)",
    ]
    for r in report["results"]:
        a = r.get("analyze")
        rate = lambda mode, r=r: f"{r[mode]['images_per_s']['median']:7.1f}" if mode in r else f"{'-':>7}"  # noqa: E731
        if a:
            lat, st = a["latency_ms"], a["stages_ms"]
            timing = f"{a['images_per_s']['median']:7.1f} " + " ".join(
                f"{'-':>7}" if lat[p] is None else f"{lat[p]:7.2f}" for p in ("p50", "p90", "p99")
            )
            extra = f"{a['faces_per_image']:5.1f} {100 * a['outside_inference_share']:5.1f}  " + " ".join(
                f"{st[s]:.2f}" for s in ("pre", "detector", "post", "crops", "classifier")
            )
        else:
            timing, extra = f"{'-':>7} {'-':>7} {'-':>7} {'-':>7}", ""
        lines.append(
            f"{r['detector']:22} {r['classifier']:12} {r['min_face']:4d} {r['scene']:9} {timing} "
            f"{rate('analyze_batch')} {rate('threads2')} {rate('python_threads2')} {extra}"
        )
    return "\n".join(lines)


# --- the Pareto view: WIDER FACE AP against ms per 640x480 image ----------------------------------

#: The int8 detectors were calibrated on every 5th image (sorted) of the WIDER dev sample
#: (tools/models/quantize.py): every setting is scored on the other images, so all are equal.
CALIBRATION_EVERY = 5
#: As ``fastfer eval widerface``: the precision-recall curve needs the low-score detections too.
WIDER_SCORE_THRESHOLD = 0.02


def wider_heldout(data_dir) -> list:
    """(name, path) of the WIDER FACE images under ``data_dir`` not used to calibrate int8 models."""
    from .widerface import iter_images

    return [item for i, item in enumerate(iter_images(data_dir)) if i % CALIBRATION_EVERY]


def wider_ap(setting: Setting, data_dir, min_face_eval: int, images: Optional[list] = None) -> dict:
    """WIDER FACE AP of a setting's detector (with its size policy): the official protocol, and
    with faces under ``min_face_eval`` pixels as ignore boxes (``--min-face``)."""
    from . import widerface

    data_dir = Path(data_dir)
    images = wider_heldout(data_dir) if images is None else images
    truth = widerface.load_ground_truth(data_dir / "ground_truth")
    fer = setting.fer(threads=1, score_threshold=WIDER_SCORE_THRESHOLD)
    predictions = {}
    for name, path in images:
        faces = fer.detect(path)
        predictions[name] = (
            np.array([f.box for f in faces], np.float32).reshape(-1, 4),
            np.array([f.score for f in faces], np.float32),
        )
    names = [n for n, _ in images]
    out = {}
    for key, min_face in (("official", 0), ("min_face", min_face_eval)):
        result = widerface.evaluate(predictions, truth, images=names, box_format="xyxy", min_face=min_face)
        out[key] = {s: float(result["ap"][s]) for s in widerface.SETTINGS}
    out["min_face_eval"] = min_face_eval
    out["images"] = len(names)
    return out


def pareto(
    settings_list: Sequence[Setting],
    wider_dir,
    min_face_eval: int,
    repeat: int = 5,
    photos_dir: Optional[Path] = None,
    progress: Optional[Callable[[str], None]] = None,
) -> dict:
    """For each setting: WIDER AP (official and --min-face) and ms per image at 640×480 and
    1920×1080 (``analyze`` p50)."""
    images = {s: scene_images(s, photos_dir)[0] for s in ("640x480", "1920x1080")}
    heldout = wider_heldout(wider_dir)
    rows = []
    for setting in settings_list:
        if progress:
            progress(f"{setting.label}: WIDER AP on {len(heldout)} images")
        ap = wider_ap(setting, wider_dir, setting.min_face or min_face_eval, heldout)
        if progress:
            progress(f"{setting.label}: speed")
        ms = {
            s: measure(setting, imgs, ("analyze",), repeat)["analyze"]["latency_ms"]["p50"]
            for s, imgs in images.items()
        }
        rows.append(
            {
                "detector": setting.detector,
                "classifier": setting.classifier,
                "precision": setting.precision,
                "min_face": setting.min_face,
                "ap": ap,
                "ms_640x480": ms["640x480"],
                "ms_1920x1080": ms["1920x1080"],
            }
        )
        if progress:  # the row as it is made: a long run that is stopped keeps what it measured
            progress(f"{setting.label}: " + json.dumps(rows[-1]))
    return {"machine": machine(), "repeat": repeat, "wider_images": len(heldout), "rows": rows}


def format_pareto(report: dict) -> str:
    lines = [
        f"WIDER FACE AP on {report['wider_images']} dev images (easy/medium/hard; official "
        "protocol, then with faces under min_face as ignore boxes) against analyze p50 ms",
        f"{'detector':22} {'classifier':12} {'min':>4} {'official e/m/h':>17} {'min-face e/m/h':>22} "
        f"{'ms 640x480':>10} {'ms 1080p':>9}",
    ]
    for r in sorted(report["rows"], key=lambda r: r["ms_640x480"]):
        o, m = r["ap"]["official"], r["ap"]["min_face"]
        lines.append(
            f"{r['detector']:22} {r['classifier']:12} {r['min_face']:4d} "
            f"{o['easy'] * 100:5.1f}/{o['medium'] * 100:5.1f}/{o['hard'] * 100:5.1f} "
            f"{m['easy'] * 100:5.1f}/{m['medium'] * 100:5.1f}/{m['hard'] * 100:5.1f} "
            f"(>={r['ap']['min_face_eval']:>3}px) "
            f"{r['ms_640x480']:10.2f} {r['ms_1920x1080']:9.2f}"
        )
    return "\n".join(lines)


def write_pareto_png(report: dict, path, size: tuple = (960, 640)) -> None:
    """Mean AP (easy, medium, hard) against ms per 640×480 image (log scale), one colour per
    setting: a filled dot for the --min-face score, a ring for the official one."""
    width, height = size
    left, right, top, bottom = 70, 330, 40, 60
    canvas = np.full((height, width, 3), 255, np.uint8)
    rows = report["rows"]
    if not rows:
        raise ValueError("no settings to plot")
    mean = lambda ap: 100 * float(np.mean([ap["easy"], ap["medium"], ap["hard"]]))  # noqa: E731
    ms = np.array([r["ms_640x480"] for r in rows])
    aps = np.array([[mean(r["ap"]["official"]), mean(r["ap"]["min_face"])] for r in rows])
    lo_x, hi_x = np.log10(ms.min() / 1.3), np.log10(ms.max() * 1.3)
    lo_y, hi_y = max(0.0, np.floor(aps.min() / 5) * 5 - 5), min(100.0, np.ceil(aps.max() / 5) * 5 + 2)
    px = lambda v: int(left + (np.log10(v) - lo_x) / (hi_x - lo_x) * (width - left - right))  # noqa: E731
    py = lambda v: int(height - bottom - (v - lo_y) / (hi_y - lo_y) * (height - top - bottom))  # noqa: E731
    font, black, grey = cv2.FONT_HERSHEY_SIMPLEX, (0, 0, 0), (200, 200, 200)
    cv2.rectangle(canvas, (left, top), (width - right, height - bottom), black, 1)
    for tick in [t for t in (0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000) if lo_x <= np.log10(t) <= hi_x]:
        cv2.line(canvas, (px(tick), top), (px(tick), height - bottom), grey, 1)
        cv2.putText(canvas, f"{tick:g}", (px(tick) - 10, height - bottom + 18), font, 0.45, black, 1)
    for tick in np.arange(lo_y, hi_y + 0.01, 5):
        cv2.line(canvas, (left, py(tick)), (width - right, py(tick)), grey, 1)
        cv2.putText(canvas, f"{tick:.0f}", (left - 30, py(tick) + 5), font, 0.45, black, 1)
    cv2.putText(canvas, "ms per 640x480 image (analyze p50, log scale)", (left + 120, height - 20), font, 0.5, black, 1)
    cv2.putText(
        canvas,
        "WIDER AP, mean of easy/medium/hard: dot = --min-face, ring = official",
        (left, top - 15),
        font,
        0.5,
        black,
        1,
    )
    palette = [
        (31, 119, 180),
        (255, 127, 14),
        (44, 160, 44),
        (214, 39, 40),
        (148, 103, 189),
        (140, 86, 75),
        (227, 119, 194),
        (127, 127, 127),
        (188, 189, 34),
        (23, 190, 207),
    ]
    for i, (r, t, (official, with_min)) in enumerate(zip(rows, ms, aps)):
        colour = palette[i % len(palette)][::-1]  # RGB -> BGR
        cv2.circle(canvas, (px(t), py(official)), 6, colour, 2, cv2.LINE_AA)
        cv2.circle(canvas, (px(t), py(with_min)), 6, colour, -1, cv2.LINE_AA)
        y = top + 10 + 20 * i
        cv2.circle(canvas, (width - right + 20, y - 4), 6, colour, -1, cv2.LINE_AA)
        cv2.putText(
            canvas, f"{r['detector']} m{r['min_face']} {r['precision']}", (width - right + 32, y), font, 0.42, black, 1
        )
    write_png(path, canvas, "the speed/accuracy plot")
