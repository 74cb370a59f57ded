"""Static int8 (QDQ) versions of the shipped fp32 detectors and classifiers: ``NAME_int8``.

ONNX Runtime's static quantisation, QDQ format, per-channel int8 weights, uint8 activations
(asymmetric), MinMax calibration. The issue's measurement: int8/int8 activations were no faster
and dynamic quantisation was 2-10x slower, so neither is offered.

Calibration data (fixed, documented, and never what the model is scored on):

* detectors: every 5th image, in sorted ``<event>/<file>.jpg`` order (index 0, 5, 10, ...), of the
  WIDER FACE dev sample ``../shared/data/detection/wider_val_dev`` (64 of its 320 images), each fed
  as fastfer feeds it (``fastfer.backend.kernels.detector_input`` with the manifest's input spec; dynamic-
  size models at long side 640). The int8 and fp32 models are compared on the other 256 images:
  ``--heldout DIR`` writes a folder of links to them that ``fastfer eval widerface DIR`` reads.
* classifiers: every 28th face of FER2013 Training (rows 0, 28, 56, ... < 28,709: 1,026 faces),
  resized to the model's input and normalised as ``fastfer.Classifier.classify`` does; scored on
  PrivateTest.

The ``_int8`` manifest entry is the fp32 entry with its own file, sha256, size and description;
its ``source`` names the fp32 model and records the fp32 file's sha256 (``fp32_sha256``), so a
test can tell when the fp32 model was replaced and the int8 one is stale: then rerun this script.
Rebuilding from the same fp32 file gives the same bytes (``--check`` verifies that).

Environment (onnx is not a fastfer dependency): a throwaway venv with
``pip install onnx==1.23.2 onnxruntime==1.32.0 numpy==2.4.6 opencv-python-headless==5.0.0.93``;
fastfer is imported from the checkout with its numpy kernels (nothing native is needed)::

    build/quantize-venv/bin/python tools/models/quantize.py fernet retinaface_mbv2
    build/quantize-venv/bin/python tools/models/quantize.py --check fernet   # rebuild, compare
    build/quantize-venv/bin/python tools/models/quantize.py --heldout /tmp/wider_heldout
    build/quantize-venv/bin/python tools/models/quantize.py --sync   # fp32 spec edited: copy it
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import MODELS_DIR, REPO, SHARED_DATA, sha256_of

os.environ.setdefault("FASTFER_BACKEND", "python")  # the numpy kernels: no build needed
sys.path.insert(0, str(REPO / "python"))
from onnxruntime.quantization import CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType, quantize_static
from onnxruntime.quantization.shape_inference import quant_pre_process

from fastfer.backend import kernels
from fastfer.io.image import load_image

WIDER_DEV = SHARED_DATA / "detection" / "wider_val_dev"
FER2013 = SHARED_DATA / "fer2013.npz"
WIDER_CALIBRATION_EVERY = 5  # images 0, 5, 10, ... of the sorted dev sample
WIDER_CALIBRATION_SIDE = 640  # long side of dynamic-size detector inputs while calibrating
FER_CALIBRATION_EVERY = 28  # Training rows 0, 28, 56, ...
FER_BATCH = 54  # 1,026 = 19 x 54: equal batches (the histogram calibrators need them)
MANIFEST = MODELS_DIR / "manifest.json"
# What an _int8 entry copies from its fp32 entry (how the model is fed and read).
SYNCED = ("input", "outputs", "decoder", "labels", "crop", "license")
MAX_ACCURACY_DROP = 0.003  # an int8 classifier ships only within 0.3 points of fp32


def wider_images() -> list:
    return sorted((WIDER_DEV / "images").glob("*/*.jpg"))


def wider_calibration_images() -> list:
    return wider_images()[::WIDER_CALIBRATION_EVERY]


def detector_batches(entry: dict):
    inp = entry["input"]
    common = dict(channel_order=inp["color"], mean=inp["mean"], scale=inp["scale"], layout=inp["layout"])
    for path in wider_calibration_images():
        image = load_image(path)
        if inp["size"] == "dynamic":
            tensor, _ = kernels.detector_input(
                image, WIDER_CALIBRATION_SIDE, pad_multiple=inp.get("pad_multiple", 32), **common
            )
        else:
            tensor, _ = kernels.detector_input(image, fixed_size=tuple(inp["size"]), **common)
        yield {inp["name"]: np.ascontiguousarray(tensor, np.float32)}


def classifier_batches(entry: dict):
    inp = entry["input"]
    if inp["color"] != "gray":
        raise SystemExit("classifier calibration reads FER2013's grey faces: colour models are not handled")
    with np.load(FER2013) as data:
        rows = np.flatnonzero(data["usage"] == "Training")[::FER_CALIBRATION_EVERY]
        faces = data["images"][rows]
    size = int(inp["size"][0])
    mean, scale = float(inp["mean"][0]), float(inp["scale"][0])
    for start in range(0, len(faces), FER_BATCH):
        batch = np.stack([kernels.resize(f, size, size) for f in faces[start : start + FER_BATCH]])
        batch = (batch.astype(np.float32) - mean) * scale
        batch = batch[:, None] if inp["layout"] == "nchw" else batch[..., None]
        yield {inp["name"]: np.ascontiguousarray(batch)}


class Reader(CalibrationDataReader):
    """onnxruntime.quantization's calibration reader over a generator of input dicts."""

    def __init__(self, batches):
        self._batches = iter(batches)

    def get_next(self):
        return next(self._batches, None)


METHODS = {
    "minmax": CalibrationMethod.MinMax,
    "percentile": CalibrationMethod.Percentile,
    "entropy": CalibrationMethod.Entropy,
}


METHOD_NOTES = {"minmax": "MinMax", "percentile": "99.999th-percentile", "entropy": "entropy"}
# Measured on fernet (FER2013 PrivateTest, fp32 68.99%): MinMax 68.57%, MinMax with the first and
# last layers in float 68.74%, 99.999th percentile 68.88%.
DEFAULT_METHOD = {"classifier": "percentile", "detector": "minmax"}


#: Operators that only move, reshape or cast data: a head's path from its last weighted layer to
#: the graph's output passes through these (and the graph's final concatenation and softmax).
DATA_MOVEMENT = {
    "Concat",
    "Reshape",
    "Transpose",
    "Flatten",
    "Squeeze",
    "Unsqueeze",
    "Cast",
    "Identity",
    "Softmax",
    "Sigmoid",
    "Slice",
    "Split",
    "Gather",
}
WEIGHTED = ("Conv", "Gemm", "MatMul")


def head_nodes(model) -> list:
    """Every node on a path from a graph output back to (and including) the last weighted layers
    that feed it: the detector's box, landmark and score heads and their reshaping. Quantising a
    head's output rounds every coordinate to one of 256 steps across the whole map (both eyes of
    a face then land on y = 190.49 exactly); in float the heads cost a few small convolutions."""
    producer = {out: node for node in model.graph.node for out in node.output}
    names, stack = [], [o.name for o in model.graph.output]
    while stack:
        node = producer.get(stack.pop())
        if node is None or node.name in names:
            continue
        names.append(node.name)
        if node.op_type in DATA_MOVEMENT:
            stack.extend(node.input)
    return names


def excluded(model_path: Path, task: str, float_ends: bool) -> list:
    """Nodes left in float: those that write the graph's outputs, so scores and probabilities keep
    their full resolution (a uint8 softmax would tie many detections); for a detector its whole
    heads (head_nodes), so boxes and landmarks do too; with float_ends also the first and the
    last Conv/Gemm/MatMul, the layers most sensitive to rounding."""
    import onnx

    model = onnx.load(str(model_path))
    outputs = {o.name for o in model.graph.output}
    names = head_nodes(model) if task == "detector" else [n.name for n in model.graph.node if outputs & set(n.output)]
    if float_ends:
        weighted = [n.name for n in model.graph.node if n.op_type in WEIGHTED]
        names += weighted[:1] + weighted[-1:]
    return names


def at_least_opset_13(src: Path, dest: Path) -> Path:
    """Per-channel QDQ needs DequantizeLinear's ``axis`` (opset 13): older models (YuNet is
    opset 11) are converted first with ONNX's version converter."""
    import onnx
    from onnx import version_converter

    model = onnx.load(str(src))
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 0)
    if opset >= 13:
        return src
    onnx.save(version_converter.convert_version(model, 13), str(dest))
    return dest


#: 7-bit weights (ONNX Runtime's reduce_range) per task. Without VNNI, ONNX Runtime's x86 int8
#: kernel multiplies uint8 activations by int8 weights with AVX2's VPMADDUBSW, whose 16-bit pair sums
#: saturate; with 7-bit weights they cannot (255 x 64 x 2 < 32768), so the model computes the same
#: on every x86 CPU. Measured on fernet on an AVX2-only EPYC: full-range int8 69.16% of PrivateTest
#: (70.10% with VNNI), 7-bit 70.08% (fp32 70.08%). The detectors' int8 files predate this: their AP
#: figures are for full-range weights, so rebuilding them means measuring AP again.
REDUCE_RANGE = {"classifier": True, "detector": False}


def quantize(name: str, entry: dict, out_dir: Path, method: str, float_ends: bool = False) -> Path:
    src = MODELS_DIR / entry["file"]
    out = out_dir / f"{name}_int8.onnx"
    batches = detector_batches(entry) if entry["task"] == "detector" else classifier_batches(entry)
    reader = Reader(batches)
    with tempfile.TemporaryDirectory(prefix="fastfer-quant-") as tmp:
        prepared = Path(tmp) / "prepared.onnx"
        src = at_least_opset_13(src, Path(tmp) / "opset13.onnx")
        # Shape inference + ONNX Runtime's graph optimisations (BatchNorm folding, fusions) first,
        # as ONNX Runtime recommends: QDQ nodes then sit where the int8 kernels can absorb them.
        # In the temporary folder: when symbolic shape inference fails it leaves its temporary
        # model and external-data files in the working directory.
        with contextlib.chdir(tmp):
            try:
                quant_pre_process(str(src), str(prepared), skip_symbolic_shape=False)
            except Exception as exc:  # noqa: BLE001 - ORT raises a bare Exception for it
                # YuNet's graph defeats the symbolic shape inference; ONNX's own is enough there.
                print(f"{name}: symbolic shape inference failed ({exc}); using ONNX shape inference")
                quant_pre_process(str(src), str(prepared), skip_symbolic_shape=True)
        quantize_static(
            str(prepared),
            str(out),
            reader,
            quant_format=QuantFormat.QDQ,
            per_channel=True,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            reduce_range=REDUCE_RANGE[entry["task"]],
            calibrate_method=METHODS[method],
            nodes_to_exclude=excluded(prepared, entry["task"], float_ends),
            # Ranges are folded in every 10 batches to bound memory. (ONNX Runtime 1.32 fails with
            # "No data is collected" when the batch count is a multiple of this: 64 and 19 are not.)
            extra_options={"CalibMaxIntermediateOutputs": 10, "CalibPercentile": 99.999},
        )
    return out


def int8_entry(name: str, entry: dict, path: Path, method: str) -> dict:
    calibration = (
        f"every {WIDER_CALIBRATION_EVERY}th image of the sorted WIDER FACE dev sample "
        f"(shared/data/detection/wider_val_dev, {len(wider_calibration_images())} images"
        + (f", long side {WIDER_CALIBRATION_SIDE})" if entry["input"]["size"] == "dynamic" else ")")
        if entry["task"] == "detector"
        else f"every {FER_CALIBRATION_EVERY}th face of FER2013 Training (rows 0, {FER_CALIBRATION_EVERY}, ...)"
    )
    new = {k: v for k, v in entry.items() if k not in ("file", "sha256", "size", "description", "source")}
    return {
        "task": entry["task"],
        "file": path.name,
        "sha256": sha256_of(path),
        "size": path.stat().st_size,
        "description": f"{name} quantised to int8 (static QDQ, per-channel int8 weights"
        + (" in a 7-bit range" if REDUCE_RANGE[entry["task"]] else "")
        + ", uint8 "
        f"activations, {METHOD_NOTES[method]} calibration; "
        + ("box, landmark and score heads" if entry["task"] == "detector" else "outputs")
        + " left in float) "
        f"by tools/models/quantize.py; the model itself: see {name}.",
        "source": {
            "quantized_from": name,
            "fp32_sha256": entry["sha256"],
            "quantizer": "tools/models/quantize.py",
            "onnxruntime": __import__("onnxruntime").__version__,
            "calibration": calibration,
            "calibration_method": method,
            "reduce_range": REDUCE_RANGE[entry["task"]],
        },
        **{k: v for k, v in new.items() if k != "task"},
    }


def private_test_accuracy(name: str, spec_entry: dict, path: Path) -> float:
    """FER2013 PrivateTest accuracy of the model file at ``path`` through fastfer.Classifier, the
    way ``fastfer eval fer2013`` scores it."""
    from fastfer import models
    from fastfer.core.classifier import Classifier

    probe = f"quantize-probe-{name}-{path.stat().st_size}-{sha256_of(path)[:8]}"
    fields = {k: v for k, v in spec_entry.items() if k not in ("file", "sha256", "size")}
    models.register(probe, path, fields, replace=True)
    with np.load(FER2013) as data:
        rows = np.flatnonzero(data["usage"] == "PrivateTest")
        faces, labels = data["images"][rows], data["labels"][rows]
    classifier = Classifier(probe)
    probs = np.concatenate([classifier.classify(faces[i : i + 256]) for i in range(0, len(faces), 256)])
    return float((probs.argmax(axis=1) == labels).mean())


def sync_int8_entries() -> None:
    """Copies the fp32 entries' spec fields (SYNCED) into their _int8 entries in the manifest."""
    manifest = json.loads(MANIFEST.read_text())
    for name, entry in manifest["models"].items():
        if name.endswith("_int8"):
            fp32 = manifest["models"][entry["source"]["quantized_from"]]
            entry.update({k: fp32[k] for k in SYNCED if k in fp32})
    MANIFEST.write_text(json.dumps(manifest, indent=2) + "\n")


def link_heldout_images(root: Path) -> None:
    """root/images/<event>/<file>.jpg links to the WIDER dev images not used for calibration, and
    root/ground_truth, for `fastfer eval widerface root`."""
    calib = set(wider_calibration_images())
    for path in wider_images():
        if path in calib:
            continue
        link = root / "images" / path.parent.name / path.name
        link.parent.mkdir(parents=True, exist_ok=True)
        if not link.exists():
            link.symlink_to(path)
    if not (root / "ground_truth").exists():
        (root / "ground_truth").symlink_to(WIDER_DEV / "ground_truth")
    print(f"{root}: {len(wider_images()) - len(calib)} held-out images")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "models",
        nargs="*",
        help="fp32 model names (default: every shipped detector and classifier that already has an _int8 entry)",
    )
    parser.add_argument(
        "--method",
        choices=sorted(METHODS),
        help="calibration (default: percentile for classifiers, minmax for detectors)",
    )
    parser.add_argument(
        "--check", action="store_true", help="quantise into a temporary folder and compare with the shipped files"
    )
    parser.add_argument(
        "--heldout",
        metavar="DIR",
        help="write DIR/images/<event>/<file>.jpg links to the dev images NOT used "
        "for calibration (and DIR/ground_truth), for `fastfer eval widerface DIR`",
    )
    parser.add_argument(
        "--sync",
        action="store_true",
        help="only copy the fp32 entries' input, outputs, decoder, labels, crop and "
        "licence into their _int8 entries (after a spec edit that left the weights alone)",
    )
    args = parser.parse_args(argv)
    if args.sync:
        sync_int8_entries()
        return 0
    if args.heldout:
        link_heldout_images(Path(args.heldout))
        if not args.models:
            return 0

    manifest = json.loads(MANIFEST.read_text())
    models = manifest["models"]
    names = args.models or [n[:-5] for n in models if n.endswith("_int8")]
    failures = 0
    for name in names:
        if name not in models or name.endswith("_int8"):
            raise SystemExit(f"{name!r} is not a shipped fp32 model")
        out_dir = Path(tempfile.mkdtemp(prefix="fastfer-int8-"))  # moved in once accepted
        method = args.method or DEFAULT_METHOD[models[name]["task"]]
        path = quantize(name, models[name], out_dir, method)
        entry = int8_entry(name, models[name], path, method)
        if entry["task"] == "classifier":
            # The bar: an int8 classifier ships only within 0.3 points of fp32.
            fp32 = private_test_accuracy(name, models[name], MODELS_DIR / models[name]["file"])
            int8 = private_test_accuracy(name, models[name], path)
            entry["source"]["fer2013_private_test"] = {"fp32": round(fp32, 4), "int8": round(int8, 4)}
            print(f"{name}: FER2013 PrivateTest fp32 {fp32:.2%}, int8 {int8:.2%}")
            if fp32 - int8 > MAX_ACCURACY_DROP and not args.check:
                print(f"{name}_int8 loses more than {MAX_ACCURACY_DROP:.1%}: not written")
                failures += 1
                continue
        if args.check:
            shipped = models.get(f"{name}_int8", {})
            same = shipped.get("sha256") == entry["sha256"]
            failures += not same
            print(f"{'same' if same else 'DIFFERENT':9} {name}_int8 {entry['sha256']}")
            continue
        path = Path(shutil.move(path, MODELS_DIR / path.name))
        # Reread just before writing: other entries may have changed meanwhile.
        manifest = json.loads(MANIFEST.read_text())
        manifest["models"][f"{name}_int8"] = entry
        MANIFEST.write_text(json.dumps(manifest, indent=2) + "\n")
        models = manifest["models"]
        print(f"{name}_int8: {path} ({entry['size']:,} bytes, sha256 {entry['sha256']})")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
