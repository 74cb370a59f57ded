"""The detectors' speed/accuracy curve on WIDER FACE, and the numbers the min_face policy reads.

Two measurements, both on a WIDER FACE val folder (images/<event>/<file>.jpg + ground_truth/):

``recall``: each detector at full size (min_face 0, its default score threshold): the recall of
  the counted ("hard" setting) faces per face size (the box's long side, pixels). The smallest size
  from which every size bin has at least ``--good`` recall is what the detector "finds reliably":
  its manifest decoder's ``min_face_px``. Run this first.

``curve``: for each detector and each min_face N (0 = today's full-size behaviour): the official
  easy/medium/hard AP, the AP with faces under N pixels ignored (``fastfer eval widerface
  --min-face N``), and FER.analyze's median milliseconds on the 640x480 and 1920x1080 test
  photos (benchmarks/_photos.py), native pipeline, 1 thread, interleaved rounds.

    python tools/measure_detectors.py recall ../shared/data/detection/wider_val_dev
    python tools/measure_detectors.py curve ../shared/data/detection/wider_val_dev --min-face 0 32 40

``--with-yunet-s DIR`` registers ../shared's yunet_s (not shipped) to put it on the curve.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import fastfer
from fastfer import models
from fastfer.core.detector import Detector
from fastfer.eval import widerface

BINS = [6, 8, 10, 12, 14, 16, 20, 24, 32, 48, 64, 128, 100000]


def register_yunet_s(folder: Path) -> None:
    entry = {k: v for k, v in models.spec("yunet").to_dict().items() if k not in ("name", "file")}
    path = folder / "yunet_s_dynamic.onnx"
    import hashlib

    entry["sha256"] = hashlib.sha256(path.read_bytes()).hexdigest()
    entry["size"] = path.stat().st_size
    models.register("yunet_s", path, entry)


def with_min_face_px(name: str, px: int) -> str:
    """A registered copy of a detector whose policy shrinks a min_face face to ``px`` pixels
    (to draw the curve over the shrink factor, not only the manifest's value)."""
    variant = f"{name}@{px}"
    if variant not in models.available():
        entry = {k: v for k, v in models.spec(name).to_dict().items() if k not in ("name", "file")}
        entry["decoder"] = {**entry["decoder"], "min_face_px": px}
        models.register(variant, models.load_bytes(name), entry)
    return variant


def detections(data_dir, detector: Detector) -> dict:
    out = {}
    for name, path in widerface.iter_images(data_dir):
        found = detector.detect(str(path))
        out[name] = (found.boxes, found.scores)
    return out


def recall_by_size(preds: dict, truth: dict, threshold: float) -> list:
    """[(lo, hi, faces, recalled)] for the counted hard-set faces, a detection counting at
    IoU >= 0.5 (inclusive pixels, as the official protocol) when its score >= threshold."""
    found = np.zeros(len(BINS) - 1, np.int64)
    total = np.zeros(len(BINS) - 1, np.int64)
    for name, (boxes, scores) in preds.items():
        gt = truth[name]["boxes"][truth[name]["hard"]]
        if not len(gt):
            continue
        size = np.maximum(gt[:, 2], gt[:, 3])
        which = np.digitize(size, BINS) - 1
        hit = np.zeros(len(gt), bool)
        keep = scores >= threshold
        if keep.any():
            iou = widerface.inclusive_iou(
                boxes[keep].astype(np.float64), np.concatenate([gt[:, :2], gt[:, :2] + gt[:, 2:]], axis=1)
            )
            hit = iou.max(axis=0) >= 0.5
        for b in range(len(BINS) - 1):
            total[b] += np.sum(which == b)
            found[b] += np.sum(hit & (which == b))
    return [(BINS[b], BINS[b + 1], int(total[b]), int(found[b])) for b in range(len(BINS) - 1)]


def cmd_recall(args) -> int:
    truth = widerface.load_ground_truth(Path(args.dir) / "ground_truth")
    report = {}
    for name in args.detectors:
        det = Detector(name, score_threshold=0.02, max_side=1600, min_face=0)
        preds = detections(args.dir, det)
        threshold = models.spec(name).decoder.score_threshold
        rows = recall_by_size(preds, truth, threshold)
        reliable = None
        for k in range(len(rows)):
            if all(f == 0 or r / f >= args.good for _, _, f, r in rows[k:]):
                reliable = rows[k][0]
                break
        report[name] = {"threshold": threshold, "rows": rows, "min_face_px": reliable}
        print(f"\n{name}: recall of hard-set faces by size, score >= {threshold}, full size")
        print("| face long side (px) | faces | recall |\n| --- | --- | --- |")
        for lo, hi, f, r in rows:
            print(f"| {lo}-{hi if hi < 100000 else ''} | {f} | {r / f:.3f} |" if f else f"| {lo}-{hi} | 0 | |")
        print(f"smallest size from which every bin has recall >= {args.good}: {reliable} px")
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1))
    return 0


def time_settings(settings: list, rounds: int, classifier: str = "fernet") -> dict:
    """Median ms of FER.analyze per (detector, min_face) on the 640x480 and 1080p photo sets,
    rounds interleaved across settings so machine load hits them all alike."""
    import _photos

    sets = {"640x480": _photos.photos(640, 480), "1920x1080": _photos.photos(1920, 1080)}
    fers = {s: fastfer.FER(s[0], classifier, min_face=s[1], threads=1) for s in settings}
    times = {(s, k): [] for s in settings for k in sets}
    for _ in range(rounds):
        for s in settings:
            for k, images in sets.items():
                for img in images:
                    start = time.perf_counter()
                    fers[s].analyze(img)
                    times[(s, k)].append(time.perf_counter() - start)
    return {key: 1000 * float(np.median(v)) for key, v in times.items()}


def cmd_curve(args) -> int:
    settings = [(d, n) for d in args.detectors for n in args.min_face if n == 0 or models.spec(d).decoder.min_face_px]
    settings += [
        (with_min_face_px(d, px), n) for d in args.detectors for px in args.min_face_px for n in args.min_face if n
    ]
    rows = []
    for det_name, n in settings:
        det = Detector(det_name, score_threshold=0.02, max_side=1600, min_face=n)
        start = time.perf_counter()
        preds = detections(args.dir, det)
        seconds = time.perf_counter() - start
        truth = widerface.load_ground_truth(Path(args.dir) / "ground_truth")
        names = [name for name, _ in widerface.iter_images(args.dir)]
        if args.held_out:  # the images int8 calibration never saw (tools/models/quantize.py uses every 5th)
            names = [n for i, n in enumerate(names) if i % 5 != 0]
            preds = {n: preds[n] for n in names}
        official = widerface.evaluate(preds, truth, images=names)["ap"]
        scored = {m: widerface.evaluate(preds, truth, images=names, min_face=m)["ap"] for m in args.score_min_face}
        rows.append(
            {"detector": det_name, "min_face": n, "official": official, "min_face_ap": scored, "wider_seconds": seconds}
        )
        print(
            f"{det_name} min_face={n}: official {fmt(official)}; "
            + "; ".join(f"--min-face {m}: {fmt(ap)}" for m, ap in scored.items()),
            flush=True,
        )
    if args.rounds:
        ms = time_settings(settings, args.rounds)
        for row in rows:
            s = (row["detector"], row["min_face"])
            row["ms_640x480"], row["ms_1920x1080"] = ms[(s, "640x480")], ms[(s, "1920x1080")]
    print(
        "\n| detector | min_face | official AP (e/m/h) | "
        + " | ".join(f"--min-face {m} AP (e/m/h)" for m in args.score_min_face)
        + (" | ms 640x480 | ms 1920x1080 |" if args.rounds else " |")
    )
    print("| --- " * (3 + len(args.score_min_face) + (2 if args.rounds else 0)) + "|")
    for row in rows:
        cells = [row["detector"], str(row["min_face"]), fmt(row["official"])]
        cells += [fmt(row["min_face_ap"][m]) for m in args.score_min_face]
        if args.rounds:
            cells += [f"{row['ms_640x480']:.1f}", f"{row['ms_1920x1080']:.1f}"]
        print("| " + " | ".join(cells) + " |")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))
    return 0


def cmd_time(args) -> int:
    """Only the timing: settings "detector:min_face[:min_face_px]", classifier --classifier."""
    settings = []
    for text in args.settings:
        parts = text.split(":")
        det = with_min_face_px(parts[0], int(parts[2])) if len(parts) > 2 else parts[0]
        settings.append((det, int(parts[1])))
    ms = time_settings(settings, args.rounds, args.classifier)
    print(f"FER.analyze median ms per image, classifier {args.classifier}, 1 thread, {args.rounds} interleaved rounds")
    print("| setting | ms 640x480 | ms 1920x1080 |\n| --- | --- | --- |")
    for s in settings:
        print(f"| {s[0]} min_face={s[1]} | {ms[(s, '640x480')]:.2f} | {ms[(s, '1920x1080')]:.2f} |")
    if args.json:
        Path(args.json).write_text(
            json.dumps(
                {f"{s[0]}:{s[1]}": {k: ms[(s, k)] for k in ("640x480", "1920x1080")} for s in settings}, indent=1
            )
        )
    return 0


def fmt(ap: dict) -> str:
    return " / ".join(f"{100 * ap[s]:.1f}" for s in widerface.SETTINGS)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("recall", "curve"):
        p = sub.add_parser(name)
        p.add_argument("dir", help="WIDER FACE val folder (images/, ground_truth/)")
        p.add_argument("--detectors", nargs="+", default=["retinaface_mbv2", "yunet"])
        p.add_argument("--with-yunet-s", type=Path, help="folder holding yunet_s_dynamic.onnx")
        p.add_argument("--json", help="also write the results here")
    sub.choices["recall"].add_argument("--good", type=float, default=0.8, help="recall that counts as reliable")
    curve = sub.choices["curve"]
    curve.add_argument("--min-face", type=int, nargs="+", default=[0, 32, 40])
    curve.add_argument("--score-min-face", type=int, nargs="+", default=[32, 40])
    curve.add_argument("--rounds", type=int, default=0, help="timing rounds over the photo sets (0 = no timing)")
    curve.add_argument(
        "--held-out",
        action="store_true",
        help="score only the images int8 calibration did not use (all but every 5th, sorted)",
    )
    curve.add_argument(
        "--min-face-px",
        type=int,
        nargs="*",
        default=[],
        help="also each detector with these min_face_px instead of its manifest's (the shrink factor)",
    )
    timing = sub.add_parser("time", help="only FER.analyze's ms per setting on the photo sets")
    timing.add_argument("settings", nargs="+", help='"detector:min_face[:min_face_px]"')
    timing.add_argument("--rounds", type=int, default=5)
    timing.add_argument("--classifier", default="fernet")
    timing.add_argument("--with-yunet-s", type=Path)
    timing.add_argument("--json")
    args = parser.parse_args()
    if args.with_yunet_s:
        register_yunet_s(args.with_yunet_s)
    return {"recall": cmd_recall, "curve": cmd_curve, "time": cmd_time}[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
