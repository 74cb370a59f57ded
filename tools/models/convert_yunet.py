"""YuNet (libfacedetection.train) -> python/fastfer/models/yunet.onnx (and yunet_s.onnx)

Source: the ONNX files of the public repository ShiqiYu/libfacedetection.train, commit
0047ac24afb1a50a0c6105001c89d1b5b805dbf1 (2024-01-19), folder ``onnx/``, as the team keeps them
in ``../shared/models/yunet/`` (no model hub is reachable). They are already ONNX with a dynamic
N/H/W input, so nothing is converted: the file is checked (pinned sha256, self-contained, the
graph's inputs and outputs) and copied byte for byte. Licence: the repository's LICENSE, the
Apache-2.0 text (THIRD_PARTY_NOTICES section 4).

ONNX contract (what fastfer's decoder reads, from the manifest entry):
  input     float32 [N,3,H,W]  NCHW, BGR, raw 0..255 (no normalisation); H, W multiples of 32
  cls_S     float32 [N,A_S,1]  class probability (already a sigmoid), S in 8, 16, 32
  obj_S     float32 [N,A_S,1]  objectness probability
  bbox_S    float32 [N,A_S,4]  dx, dy, log w, log h, in units of the stride S
  kps_S     float32 [N,A_S,10] 5 landmarks (dx, dy), in units of the stride S
  One prior per cell (anchor-free), A_S = (H/S)·(W/S), row-major. Cell (i, j) of stride S:
    centre = ((j + dx)·S, (i + dy)·S), size = (exp(log w)·S, exp(log h)·S),
    landmark k = ((j + dx_k)·S, (i + dy_k)·S), score = sqrt(clamp(cls)·clamp(obj)).
  That is the RetinaFace decoding with priors (j·S, i·S, S, S) (anchor offset 0, one size per
  level equal to its stride) and variances (1, 1), plus the YuNet score; the check below
  compares it with OpenCV's FaceDetectorYN on real photos.

Run with fastfer's own environment (numpy, onnxruntime, opencv):
  python tools/models/convert_yunet.py [--source DIR] [--out DIR] [--variants n s]
It exits with status 1 when a file differs from its pin or our decoding disagrees with OpenCV.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

import cv2
import numpy as np
import onnxruntime as ort

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import MODELS_DIR, REPO, SHARED_DATA, sha256_of

SOURCE_DIR = REPO.parent / "shared" / "models" / "yunet"
REPOSITORY = "https://github.com/ShiqiYu/libfacedetection.train"
COMMIT = "0047ac24afb1a50a0c6105001c89d1b5b805dbf1"

# variant: (file in the repository's onnx/ folder, shipped file, pinned sha256, parameters)
VARIANTS = {
    "n": (
        "yunet_n_dynamic.onnx",
        "yunet.onnx",
        "104ee26c71d5c270ce79a6b3dced91c91013260d29a6bf18f9296c5b8c4c2b12",
        75_856,
    ),
    "s": (
        "yunet_s_dynamic.onnx",
        "yunet_s.onnx",
        "daede24002cc8590f457998cc5e6c9e8b82f45f6bd969506a8913cd4ed10a2d3",
        54_608,
    ),
}
STRIDES = (8, 16, 32)
OUTPUTS = [f"{head}_{s}" for head in ("cls", "obj", "bbox", "kps") for s in STRIDES]
CHECK_PHOTOS = ["two_people.jpg", "astronaut.jpg", "stage_group.jpg"]
# Boxes and landmarks of the same faces, ours vs OpenCV's, in pixels. Both decode the same float32
# outputs; only the order of float operations differs.
PIXEL_TOLERANCE = 0.05


def decode(outputs: dict, height: int, width: int, threshold: float) -> np.ndarray:
    """Rows (x1, y1, x2, y2, 5 landmarks (x, y), score) above the threshold, best first, before NMS:
    a plain restatement of the contract in the module docstring, to check OpenCV against."""
    rows = []
    for s in STRIDES:
        fh, fw = height // s, width // s
        cls, obj = outputs[f"cls_{s}"][0, :, 0], outputs[f"obj_{s}"][0, :, 0]
        box, kps = outputs[f"bbox_{s}"][0].astype(np.float64), outputs[f"kps_{s}"][0].astype(np.float64)
        score = np.sqrt(np.clip(cls, 0, 1).astype(np.float64) * np.clip(obj, 0, 1))
        j, i = np.meshgrid(np.arange(fw), np.arange(fh))
        cell = np.stack([j.ravel(), i.ravel()], axis=1)
        centre = (cell + box[:, :2]) * s
        half = np.exp(box[:, 2:]) * s / 2
        marks = (cell[:, None, :] + kps.reshape(-1, 5, 2)) * s
        rows.append(np.hstack([centre - half, centre + half, marks.reshape(-1, 10), score[:, None]]))
    rows = np.vstack(rows)
    rows = rows[rows[:, -1] >= threshold]
    return rows[np.argsort(-rows[:, -1], kind="stable")]


def check_against_opencv(model: Path) -> float:
    """Largest |ours - OpenCV| over the faces OpenCV's FaceDetectorYN finds on the check photos."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(str(model), options, providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    if sorted(names) != sorted(OUTPUTS) or [i.name for i in session.get_inputs()] != ["input"]:
        raise SystemExit(f"{model.name}: unexpected graph signature {names}")
    worst = 0.0
    for photo in CHECK_PHOTOS:
        image = cv2.imread(str(SHARED_DATA / "photos" / photo))
        if image is None:
            raise SystemExit(f"cannot read the check photo {photo}")
        h, w = image.shape[:2]
        H, W = -(-h // 32) * 32, -(-w // 32) * 32
        blob = np.zeros((1, 3, H, W), np.float32)
        blob[0, :, :h, :w] = image.transpose(2, 0, 1)
        ours = decode(dict(zip(names, session.run(names, {"input": blob}))), H, W, 0.5)
        yn = cv2.FaceDetectorYN.create(str(model), "", (w, h), 0.5, 0.3, 5000)
        _, faces = yn.detect(image)
        faces = np.zeros((0, 15)) if faces is None else faces
        for face in faces:  # x, y, w, h, 5 landmarks, score
            box = np.r_[face[:2], face[:2] + face[2:4]]
            k = int(np.argmin(np.abs(ours[:, :4] - box).sum(axis=1)))
            worst = max(
                worst, float(np.abs(ours[k, :14] - np.r_[box, face[4:14]]).max()), abs(float(ours[k, 14] - face[14]))
            )
        print(f"  {photo}: OpenCV finds {len(faces)} faces; they are among our {len(ours)} candidates")
    return worst


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=SOURCE_DIR, help="folder with the repository's ONNX files")
    parser.add_argument("--out", type=Path, default=MODELS_DIR, help="where to write the shipped files")
    parser.add_argument(
        "--variants",
        nargs="+",
        choices=sorted(VARIANTS),
        default=["n"],
        help="which YuNet variants to ship (default: n; s did not earn a place, see docs/speed.md)",
    )
    args = parser.parse_args()
    failed = False
    for variant in args.variants:
        member, shipped, pinned, params = VARIANTS[variant]
        source = args.source / member
        got = sha256_of(source)
        if got != pinned:
            print(f"{member}: sha256 {got} differs from the pinned {pinned} ({REPOSITORY} @ {COMMIT})")
            failed = True
            continue
        worst = check_against_opencv(source)
        ok = worst <= PIXEL_TOLERANCE
        failed |= not ok
        print(
            f"{member} ({params:,} parameters): decoding vs cv2.FaceDetectorYN max |diff| {worst:.2e} "
            f"({'ok' if ok else 'TOO LARGE'})"
        )
        if ok:
            args.out.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, args.out / shipped)
            print(
                f"  -> {args.out / shipped}: sha256 {sha256_of(args.out / shipped)}, "
                f"{(args.out / shipped).stat().st_size} bytes"
            )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
