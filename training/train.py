#!/usr/bin/env python3
"""Train fastfer's own FER2013 expression classifier and export it to ONNX (see training/README.md).

    python training/train.py --data ../shared/data/fer2013.npz \
        [--ferplus ../shared/data/ferplus_labels.npz] --out runs/r0 --epochs 60 --device cpu --seed 0

Data: the FER2013 Training split trains, PublicTest selects the checkpoint; PrivateTest is read
only with --final-eval (once, at the end). The whole split lives on the device as uint8 and every
augmentation runs there in torch (one affine_grid per batch: shift, scale, rotation, flip; then
brightness/contrast and random erasing), so a GPU is kept busy without data-loader workers.

Outputs in --out: log.jsonl (one JSON line per epoch), best.pt (best PublicTest weights), last.pt,
model.onnx (input "image" [N,1,S,S] float32, output "probs" softmax [N,7], dynamic N) and
manifest_entry.json (a fastfer manifest entry for model.onnx, preprocessing included).

PyTorch is a training-only dependency; fastfer never imports it.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import lzma
import math
import random
import subprocess
import time
import warnings
from pathlib import Path

import backbones
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

LABELS = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")  # FER2013 order
# FER+ vote columns -> FER2013 class (contempt, unknown and NF have none).
FERPLUS_TO_FER = {"neutral": 6, "happiness": 3, "surprise": 5, "sadness": 4, "anger": 0, "disgust": 1, "fear": 2}
MEAN, SCALE = 127.5, 1.0 / 127.5  # model input = (grey 0..255 - MEAN) * SCALE, i.e. [-1, 1]
REPO = Path(__file__).resolve().parents[1]


# ----------------------------------------------------------------------------------------- model


class Block(nn.Module):
    """Pre-activation-free basic residual block (conv-BN-ReLU-conv-BN + shortcut, ReLU).

    The last BN's scale is left at 1: zero-initialising it (the usual ResNet trick) kept such nets
    at the FER2013 class prior for several epochs here."""

    def __init__(self, cin: int, cout: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.short = None
        if stride != 1 or cin != cout:
            self.short = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)), inplace=True)
        y = self.bn2(self.conv2(y))
        return F.relu(y + (x if self.short is None else self.short(x)), inplace=True)


class FerNet(nn.Module):
    """Compact ResNet for S×S grey faces: a 3×3 stem at full resolution, then one stage per entry of
    `blocks` (each halves the resolution and doubles the width). Defaults: width 32, blocks 1,2,1
    -> 1.5 M parameters, ~142 M MACs at 48×48."""

    def __init__(self, width: int = 32, blocks=(1, 2, 1), dropout: float = 0.3, classes: int = 7):
        super().__init__()
        self.stem = nn.Sequential(
            nn.Conv2d(1, width, 3, 1, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU(inplace=True)
        )
        layers, cin = [], width
        for i, n in enumerate(blocks):
            cout = width * 2 ** (i + 1)
            layers += [Block(cin, cout, 2)] + [Block(cout, cout, 1) for _ in range(n - 1)]
            cin = cout
        self.features = nn.Sequential(*layers)
        self.drop = nn.Dropout(dropout)
        self.fc = nn.Linear(cin, classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x):
        x = self.features(self.stem(x))
        return self.fc(self.drop(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)))


def build_net(arch: str, width: int, blocks, dropout: float, pretrained: Path | None = None) -> nn.Module:
    """The classifier being trained: fastfer's FerNet, or an ImageNet backbone (backbones.py) that
    takes the same grey (N,1,S,S) input, initialised from `pretrained` weights when given."""
    if arch == "fernet":
        return FerNet(width, blocks, dropout)
    return backbones.build(arch, dropout, pretrained)


class Exported(nn.Module):
    """What ships: logits -> softmax, optionally averaged with the horizontally flipped face."""

    def __init__(self, net: nn.Module, flip_tta: bool):
        super().__init__()
        self.net, self.flip_tta = net, flip_tta

    def forward(self, image):
        probs = torch.softmax(self.net(image), dim=1)
        if self.flip_tta:
            probs = 0.5 * (probs + torch.softmax(self.net(torch.flip(image, dims=[3])), dim=1))
        return probs


def count_macs(net: nn.Module, size: int) -> int:
    """Multiply-accumulates of the convolutions and linear layers for one S×S face."""
    macs = []

    def conv_hook(m, inp, out):
        macs.append(out.numel() * (m.in_channels // m.groups) * m.kernel_size[0] * m.kernel_size[1])

    def fc_hook(m, inp, out):
        macs.append(m.in_features * m.out_features)

    hooks = [
        m.register_forward_hook(conv_hook if isinstance(m, nn.Conv2d) else fc_hook)
        for m in net.modules()
        if isinstance(m, (nn.Conv2d, nn.Linear))
    ]
    was_training = net.training
    net.eval()
    with torch.no_grad():
        net(torch.zeros(1, 1, size, size, device=next(net.parameters()).device))
    net.train(was_training)
    for h in hooks:
        h.remove()
    return int(sum(macs))


# ----------------------------------------------------------------- weights back from a shipped ONNX


def _onnx_convs(onnx_path):
    """The Conv nodes of an exported FerNet in graph order, as (weight, bias, stride) numpy
    arrays, and the final Gemm's (weight, bias)."""
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(onnx_path))
    init = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    convs, fc = [], None
    for node in model.graph.node:
        attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
        if node.op_type == "Conv":
            convs.append((init[node.input[1]], init[node.input[2]], tuple(attrs.get("strides", (1, 1)))))
        elif node.op_type == "Gemm":
            w = init[node.input[1]]
            fc = (w if attrs.get("transB", 0) else w.T, init[node.input[2]])
    if not convs or fc is None:
        raise SystemExit(f"{onnx_path}: not an exported FerNet (no Conv/Gemm)")
    return convs, fc


def onnx_architecture(onnx_path):
    """(width, blocks) of the FerNet an ONNX file was exported from, read off its Conv shapes: a
    stride-2 conv1 opens a stage, a 1x1 conv is a block's projection shortcut."""
    convs, _ = _onnx_convs(onnx_path)
    width, blocks, i = convs[0][0].shape[0], [], 1
    while i < len(convs):
        if convs[i][2][0] == 2:
            blocks.append(0)
        blocks[-1] += 1
        i += 2
        if i < len(convs) and convs[i][0].shape[2:] == (1, 1):
            i += 1
    return width, tuple(blocks)


def _conv_bn_pairs(net, size):
    """[(conv, bn)] in forward (= export graph) order: each conv is followed by its own BN."""
    order = []
    hooks = [
        m.register_forward_hook(lambda m, i, o: order.append(m)) for m in net.modules() if isinstance(m, nn.Conv2d)
    ]
    was_training = net.training
    net.eval()
    with torch.no_grad():
        net(torch.zeros(1, 1, size, size, device=next(net.parameters()).device))
    net.train(was_training)
    for h in hooks:
        h.remove()
    names = {m: n for n, m in net.named_modules()}
    modules = dict(net.named_modules())
    pairs = []
    for conv in order:  # stem.0 -> stem.1, features.i.conv1 -> bn1, conv2 -> bn2, short.0 -> short.1
        name = names[conv]
        head, _, last = name.rpartition(".")
        bn_name = (head + "." if head else "") + (
            last.replace("conv", "bn") if last.startswith("conv") else str(int(last) + 1)
        )
        pairs.append((conv, modules[bn_name]))
    return pairs


@torch.no_grad()
def load_onnx_weights(net, onnx_path, size, calib=None):
    """Put the weights of an exported FerNet (python/fastfer/models/fernet.onnx) back into `net`.

    The exporter folded each BN into the conv before it (eval mode), so the graph holds only
    conv weight W and bias b, and the BN statistics are lost. Setting every BN to the identity
    (gamma 1, beta b, mean 0, var 1 - eps) reproduces the graph exactly, but training in BN's
    batch-statistics mode would then see unnormalised activations. With `calib` (uint8 faces) the
    BNs are rebuilt instead: the per-channel mean m and variance v of W·x over those faces become
    the running statistics of the rescaled conv W/s (s = sqrt(v + 1e-3)), with gamma and beta
    chosen so that eval mode still computes W·x + b exactly; training then starts where the
    shipped model is, and its batch statistics match the running ones."""
    convs, (fc_w, fc_b) = _onnx_convs(onnx_path)
    pairs = _conv_bn_pairs(net, size)
    if len(pairs) != len(convs):
        raise SystemExit(
            f"{onnx_path}: {len(convs)} convolutions, the net has {len(pairs)}: "
            "give --width/--blocks of the model it was exported from"
        )
    dev = next(net.parameters()).device
    for (conv, bn), (w, b, stride) in zip(pairs, convs):
        if tuple(conv.weight.shape) != w.shape or tuple(conv.stride) != tuple(stride):
            raise SystemExit(
                f"{onnx_path}: a conv of shape {w.shape} stride {stride} where the net has "
                f"{tuple(conv.weight.shape)} stride {tuple(conv.stride)}: wrong --width/--blocks"
            )
        conv.weight.copy_(torch.from_numpy(np.array(w)))
        bn.weight.fill_(1.0)
        bn.bias.copy_(torch.from_numpy(np.array(b)))
        bn.running_mean.zero_()
        bn.running_var.fill_(1.0 - bn.eps)
    net.fc.weight.copy_(torch.from_numpy(np.array(fc_w)))
    net.fc.bias.copy_(torch.from_numpy(np.array(fc_b)))
    if calib is None:
        return net
    # The graph's function no longer changes below, so one pass gives every conv's input.
    stats = {}

    def hook(m, inp, out):
        o = out.float()
        stats[m] = (o.mean(dim=(0, 2, 3)), o.var(dim=(0, 2, 3), unbiased=False))

    was_training = net.training
    net.eval()
    hooks = [conv.register_forward_hook(hook) for conv, _ in pairs]
    net(to_input(calib.to(dev), size))
    for h in hooks:
        h.remove()
    net.train(was_training)
    for conv, bn in pairs:
        m, v = stats[conv]
        s = torch.sqrt(v + 1e-3)
        b = bn.bias.clone()
        conv.weight.div_(s[:, None, None, None])
        bn.running_mean.copy_(m / s)
        bn.running_var.copy_(v / s**2)
        bn.weight.copy_(s * torch.sqrt(bn.running_var + bn.eps))
        bn.bias.copy_(b + m)
    return net


# ------------------------------------------------------------------------------------------ data


def read_fer2013(path):
    """images, labels, usage from fer2013.npz or from ../shared/tools/pack_fer2013.py's smaller
    packed form (xz-compressed images of some splits, rows in their original order), which is what
    travels to a GPU machine."""
    with np.load(path) as d:
        if "images_xz" in d.files:
            images = np.frombuffer(lzma.decompress(d["images_xz"].tobytes()), np.uint8).reshape(d["shape"])
        else:
            images = d["images"]
        return images, d["labels"].astype(np.int64), d["usage"].astype(str)


def load_data(args, device):
    images, labels, usage = read_fer2013(args.data)
    targets = np.eye(7, dtype=np.float32)[labels]  # one-hot FER2013 labels
    if args.ferplus:
        with np.load(args.ferplus) as f:
            votes, columns, exact = f["votes"].astype(np.float32), [str(c) for c in f["columns"]], f["votes_exact"]
            if len(votes) != len(labels):  # packed splits: the votes of the same rows, in the same order
                rows = np.isin(f["usage"].astype(str), np.unique(usage))
                votes, exact = votes[rows], exact[rows]
        if len(votes) != len(labels):
            raise SystemExit(f"--ferplus {args.ferplus}: {len(votes)} rows do not align with {len(labels)} faces")
        fp = np.zeros((len(votes), 7), np.float32)
        for name, k in FERPLUS_TO_FER.items():
            fp[:, k] = votes[:, columns.index(name)]
        total = fp.sum(1, keepdims=True)
        usable = (total[:, 0] > 0) & exact  # rows with no vote for our 7 classes keep the one-hot label
        fp = np.divide(fp, total, out=np.zeros_like(fp), where=total > 0)
        w = args.ferplus_weight
        targets[usable] = (1 - w) * targets[usable] + w * fp[usable]
        print(f"FER+ soft labels on {usable[usage == 'Training'].sum()} Training rows (weight {w})", flush=True)

    def split(name, limit=None):
        idx = np.flatnonzero(usage == name)
        if limit:
            idx = np.random.RandomState(args.seed).permutation(idx)[:limit]
        return (
            torch.from_numpy(images[idx]).to(device),
            torch.from_numpy(labels[idx]).to(device),
            torch.from_numpy(targets[idx]).to(device),
        )

    train = split("Training", args.limit)
    val = split("PublicTest", args.limit)
    test = split("PrivateTest", args.limit) if args.final_eval else None
    return train, val, test


def to_input(images_u8, size):
    """uint8 (N,H,W) on the device -> normalised float (N,1,S,S) channels_last, exactly as shipped
    (bilinear, half-pixel centres, when S differs from H)."""
    x = (images_u8[:, None].float() - MEAN) * SCALE
    if x.shape[-1] != size:
        x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False, antialias=False)
    return x.contiguous(memory_format=torch.channels_last)


def degrade(x, size, gen, args):
    """Lighting, focus and sensor noise that FER2013's faces seldom show and photos and film frames
    do: a random gamma (exp(U(-g, g))), with probability --blur a Gaussian blur of sigma
    U(0.3, 1.5) px of a 48 px face (scaled to the side), and Gaussian noise of std U(0, --noise).
    Each is off at 0 and then draws no random numbers, so runs without them stay as they were."""
    n, dev = x.shape[0], x.device

    def rnd(*shape):
        return torch.rand(*shape, generator=gen, device=dev)

    if args.gamma > 0:
        gamma = torch.exp((rnd(n, 1, 1, 1) * 2 - 1) * args.gamma)
        x = ((x + 1) / 2).clamp(min=0).pow(gamma) * 2 - 1
    if args.blur > 0:
        sigma = (0.3 + rnd(n) * 1.2) * size / 48
        radius = math.ceil(3 * 1.5 * size / 48)
        taps = torch.arange(-radius, radius + 1, device=x.device, dtype=torch.float32)
        kernel = torch.exp(-0.5 * (taps[None] / sigma[:, None]) ** 2)
        kernel = kernel / kernel.sum(1, keepdim=True)
        kernel = torch.where((rnd(n) < args.blur)[:, None], kernel, (taps == 0).float()[None])
        planes = F.pad(x.reshape(1, n, size, size), (radius,) * 4, mode="reflect")
        planes = F.conv2d(planes, kernel[:, None, :, None], groups=n)  # down the columns
        x = F.conv2d(planes, kernel[:, None, None, :], groups=n).reshape(n, 1, size, size)  # along the rows
    if args.noise > 0:
        x = (x + torch.randn(x.shape, generator=gen, device=dev) * rnd(n, 1, 1, 1) * args.noise).clamp(-1, 1)
    return x


def augment(images_u8, size, gen, args):
    """Random affine (shift, scale, rotation, horizontal flip) via affine_grid, brightness/contrast
    jitter, the photo degradations (degrade) and random erasing, all on the device; returns the
    normalised (N,1,S,S) batch, or with --crop C a random C×C crop of it at the same pixel scale
    (the same single grid_sample), and the same batch without the degradations (for
    --teacher-clean)."""
    n, dev = images_u8.shape[0], images_u8.device
    out = args.crop or size

    def rnd(*shape):
        return torch.rand(*shape, generator=gen, device=dev)

    x = (images_u8[:, None].float() - MEAN) * SCALE
    angle = (rnd(n) * 2 - 1) * math.radians(args.rotate)
    scale = 1 + (rnd(n) * 2 - 1) * args.scale  # >1 zooms in
    flip = torch.where(rnd(n) < 0.5, -1.0, 1.0)
    tx, ty = [(rnd(n) * 2 - 1) * args.shift * 2 for _ in range(2)]  # shift as a fraction of the side
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    if out != size:  # a crop: the output grid spans out/size of the view, at a random offset
        r = out / size
        cos, sin = cos * r, sin * r
        tx = tx + (rnd(n) * 2 - 1) * (1 - r)
        ty = ty + (rnd(n) * 2 - 1) * (1 - r)
    theta = torch.stack([torch.stack([cos * flip, -sin, tx], 1), torch.stack([sin * flip, cos, ty], 1)], 1)
    grid = F.affine_grid(theta, (n, 1, out, out), align_corners=False)
    x = F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection", align_corners=False)
    size = out
    # brightness / contrast around each image's mean
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    contrast = 1 + (rnd(n, 1, 1, 1) * 2 - 1) * args.contrast
    bright = (rnd(n, 1, 1, 1) * 2 - 1) * args.brightness * 2  # in [-1,1] units
    x = ((x - mean) * contrast + mean + bright).clamp(-1, 1)
    clean, x = x, degrade(x, size, gen, args)
    # random erasing: one rectangle of 2-20% of the area, filled with noise, for a fraction of the batch
    if args.erase > 0:
        area = (0.02 + rnd(n) * 0.18) * size * size
        aspect = torch.exp((rnd(n) * 2 - 1) * math.log(3))
        h = (area * aspect).sqrt().clamp(max=size)
        w = (area / aspect).sqrt().clamp(max=size)
        y0, x0 = rnd(n) * (size - h), rnd(n) * (size - w)
        r = torch.arange(size, device=dev, dtype=torch.float32)
        inside = ((r[None, :, None] >= y0[:, None, None]) & (r[None, :, None] < (y0 + h)[:, None, None])) & (
            (r[None, None, :] >= x0[:, None, None]) & (r[None, None, :] < (x0 + w)[:, None, None])
        )
        inside &= (rnd(n) < args.erase)[:, None, None]
        fill = rnd(n, 1, size, size) * 2 - 1
        x, clean = torch.where(inside[:, None], fill, x), torch.where(inside[:, None], fill, clean)
    return x.contiguous(memory_format=torch.channels_last), clean.contiguous(memory_format=torch.channels_last)


# ---------------------------------------------------------------------------------- train / eval


def cpu_has_fast_bf16() -> bool:
    """Whether oneDNN runs bf16 natively on this CPU (AVX-512 BF16 or AMX). Without it bf16 is
    emulated: on an AVX2-only EPYC one epoch step took 6x as long as in float32 (6.7 against
    38.5 images/s), where with AVX-512 BF16 bf16 was about 3x faster than float32."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def amp_context(device, mode):
    if mode == "auto" and device.type == "cpu" and not cpu_has_fast_bf16():
        mode = "off"
    if mode == "off":
        return torch.autocast(device_type=device.type, enabled=False), None
    dtype = torch.float16 if mode == "fp16" else torch.bfloat16
    if mode == "auto" and device.type == "cuda" and not torch.cuda.is_bf16_supported():
        dtype = torch.float16
    scaler = torch.amp.GradScaler("cuda") if (device.type == "cuda" and dtype == torch.float16) else None
    return torch.autocast(device_type=device.type, dtype=dtype), scaler


@torch.no_grad()
def predict(net, images_u8, size, args, batch=512):
    net.eval()
    out = []
    for i in range(0, len(images_u8), batch):
        x = to_input(images_u8[i : i + batch], size)  # fp32, like the exported model
        p = torch.softmax(net(x), 1)
        if args.flip_tta:
            p = 0.5 * (p + torch.softmax(net(torch.flip(x, dims=[3])), 1))
        out.append(p)
    return torch.cat(out)


class EMA:
    """Exponential moving average of the weights and BN statistics (decay warmed up over the first steps)."""

    def __init__(self, net, decay):
        import copy

        self.decay, self.steps = decay, 0
        self.net = copy.deepcopy(net).eval()
        for p in self.net.parameters():
            p.requires_grad_(False)

    @torch.no_grad()
    def update(self, net):
        self.steps += 1
        d = min(self.decay, (1 + self.steps) / (10 + self.steps))
        for e, v in zip(self.net.state_dict().values(), net.state_dict().values()):
            if e.dtype.is_floating_point:
                e.mul_(d).add_(v.detach(), alpha=1 - d)
            else:
                e.copy_(v)


def seed_everything(seed, device):
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    if device.type == "cuda":
        torch.cuda.manual_seed_all(seed)
        torch.backends.cudnn.benchmark = False
        torch.backends.cudnn.deterministic = True


def git_commit():
    """HEAD, with "-dirty" when this recipe differs from it (the commit would not reproduce the run)."""
    try:
        git = ["git", "-C", str(REPO)]
        head = subprocess.run(git + ["rev-parse", "HEAD"], capture_output=True, text=True, check=True).stdout.strip()
        edited = subprocess.run(git + ["diff", "--quiet", "HEAD", "--", "training/train.py"]).returncode != 0
        return head + ("-dirty" if edited else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


class ResizedInput(nn.Module):
    """Runs `net` on the batch resized to its own side (bilinear, antialiased: the same filter
    the student's faces were upsampled with, undone)."""

    def __init__(self, net, side):
        super().__init__()
        self.net, self.side = net, side

    def forward(self, x):
        x = F.interpolate(x, size=(self.side, self.side), mode="bilinear", antialias=True, align_corners=False)
        return self.net(x)


def onnx_input_side(onnx_path):
    """The square input side an exported classifier was built for (its input's last dimension)."""
    import onnx

    dims = onnx.load(str(onnx_path), load_external_data=False).graph.input[0].type.tensor_type.shape.dim
    return int(dims[-1].dim_value)


def load_one_teacher(run: Path, args, device):
    """A frozen teacher: a trained run (its --out folder: the architecture from its manifest entry,
    the weights from its best.pt) or an exported FerNet .onnx such as the shipped
    python/fastfer/models/fernet.onnx (architecture read off the graph, BN folded: exact in eval
    mode, which is all a teacher runs in). A teacher trained at another side sees the student's
    batch resized to its own (ResizedInput), so a 48 px fernet can teach a 96 px backbone."""
    if run.suffix == ".onnx":
        width, blocks = onnx_architecture(run)
        teacher_size = onnx_input_side(run)
        teacher = load_onnx_weights(FerNet(width, blocks).to(device), run, teacher_size)
    else:
        targs = json.loads((run / "manifest_entry.json").read_text())["source"]["args"]
        teacher_size = targs["size"]
        teacher = build_net(targs.get("arch", "fernet"), targs["width"], tuple(targs["blocks"]), targs["dropout"]).to(
            device
        )
        teacher.load_state_dict(torch.load(run / "best.pt", map_location=device))
    if teacher_size != args.size:
        teacher = ResizedInput(teacher, teacher_size)
    teacher = teacher.to(memory_format=torch.channels_last).eval()
    for p in teacher.parameters():
        p.requires_grad_(False)
    return teacher


class TeacherEnsemble(nn.Module):
    """Frozen teachers whose log-probabilities are averaged (a normalised geometric mean of their
    distributions, returned as logits), each also on the mirrored face with `flip`: an ensemble of
    different networks, or of a network and its mirror, teaches better than any one of them."""

    def __init__(self, teachers, flip: bool):
        super().__init__()
        self.teachers, self.flip = nn.ModuleList(teachers), flip

    def forward(self, x):
        views = (x, torch.flip(x, dims=[3])) if self.flip else (x,)
        return torch.stack([F.log_softmax(t(v).float(), 1) for t in self.teachers for v in views]).mean(0)


def load_teacher(args, device):
    """--teacher's nets as one frozen module: a lone teacher as it is, several (or --teacher-flip)
    as a TeacherEnsemble."""
    teachers = [load_one_teacher(run, args, device) for run in args.teacher]
    if len(teachers) == 1 and not args.teacher_flip:
        return teachers[0]
    return TeacherEnsemble(teachers, args.teacher_flip).eval()


@torch.no_grad()
def teacher_logits_of(teacher, images_u8, size, batch=512):
    """The teacher's logits for every face as it is (un-augmented), computed once: --teacher-offline
    trains against these, so an epoch costs the student's passes only."""
    return torch.cat(
        [teacher(to_input(images_u8[i : i + batch], size)).float() for i in range(0, len(images_u8), batch)]
    )


def distill_loss(student_logits, teacher_logits, temperature):
    """Hinton et al.'s soft-target loss: KL(teacher || student) at temperature T, times T²."""
    t = temperature
    return (
        F.kl_div(
            F.log_softmax(student_logits / t, 1),
            F.log_softmax(teacher_logits / t, 1),
            reduction="batchmean",
            log_target=True,
        )
        * t
        * t
    )


def plain_args(args, skip) -> dict:
    """The run's arguments as plain values (paths as strings, --teacher's list of them too), for
    state.pt and the manifest entry."""

    def plain(v):
        return str(v) if isinstance(v, Path) else [plain(x) for x in v] if isinstance(v, list) else v

    return {k: plain(v) for k, v in vars(args).items() if k not in skip}


def export(net, args, out: Path, public_acc, private_acc):
    net = net.float().eval().to("cpu").to(memory_format=torch.contiguous_format)
    model = Exported(net, args.flip_tta).eval()
    onnx_path = out / "model.onnx"
    dummy = torch.zeros(2, 1, args.size, args.size)
    with warnings.catch_warnings():  # the TorchScript exporter is deprecated but handles dynamic_axes simply
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(
            model,
            (dummy,),
            str(onnx_path),
            input_names=["image"],
            output_names=["probs"],
            dynamic_axes={"image": {0: "N"}, "probs": {0: "N"}},
            opset_version=args.opset,
            do_constant_folding=True,
            dynamo=False,
        )
    data = onnx_path.read_bytes()
    arch = getattr(args, "arch", "fernet")
    shape = (
        f"FerNet (ResNet-style, width {args.width}, blocks {','.join(map(str, args.blocks))}, "
        if arch == "fernet"
        else f"{arch} (ImageNet-pretrained, grey input as 3 channels, {args.size} px, "
    )
    desc = (
        f"fastfer {shape}"
        f"{sum(p.numel() for p in net.parameters()) / 1e6:.2f} M params, "
        f"{count_macs(net, args.size) / 1e6:.0f} M MACs"
        f"{', flip TTA' if args.flip_tta else ''}) trained on "
        f"{'the image folder ' + Path(args.data).name if Path(args.data).is_dir() else 'FER2013 Training'}"
        f"{' + FER+ soft labels' if args.ferplus else ''}"
        f"{', distilled from ' + ' + '.join(t.name for t in args.teacher) if args.teacher else ''}"
        f"{' (and their mirrors)' if args.teacher and args.teacher_flip else ''}"
        f"{', continued from ' + str(args.init) if args.init else ''}, {args.epochs} epochs, seed {args.seed}; "
        f"{100 * public_acc:.2f}% on {'its val/ folder' if Path(args.data).is_dir() else 'FER2013 PublicTest'}"
    )
    if private_acc is not None:
        desc += f", {100 * private_acc:.2f}% on {'its test/ folder' if Path(args.data).is_dir() else 'PrivateTest'}"
    entry = {
        "task": "classifier",
        "file": onnx_path.name,
        "sha256": hashlib.sha256(data).hexdigest(),
        "size": len(data),
        "description": desc + ".",
        "source": {
            "recipe": "training/train.py",
            "commit": args.commit,
            "data": (
                f"image folder {Path(args.data).name} (--order {args.order})"
                if Path(args.data).is_dir()
                else "FER2013 Training" + (" (+FER+ votes)" if args.ferplus else "")
            ),
            "args": plain_args(args, skip=("data", "ferplus", "out", "commit", "resume", "stop_after")),
        },
        "license": "trained by fastfer on FER2013 (research use)"
        + ("" if arch == "fernet" else f"; initialised from {_pretrained_licence(arch)}"),
        "input": {
            "name": "image",
            "layout": "nchw",
            "color": "gray",
            "size": [args.size, args.size],
            "mean": [MEAN],
            "scale": [SCALE],
            "note": f"grey (OpenCV BT.601 weights), bilinear to {args.size}x{args.size}, x/127.5 - 1",
        },
        "outputs": {"probs": "probs"},
        "labels": list(LABELS),
        "crop": {
            "square": True,
            "margin": args.crop_margin,
            "note": "square box around the detection grown by this fraction of its side on each side: "
            "FER2013's own framing as tools/measure_fer2013_framing.py measures it",
        },
    }
    (out / "manifest_entry.json").write_text(json.dumps(entry, indent=1) + "\n")
    return onnx_path


def _pretrained_licence(arch: str) -> str:
    import fetch_pretrained

    pin = fetch_pretrained.PRETRAINED[arch]
    return f"{pin.source}, {pin.licence}"


def _fastfer():
    """fastfer's own image code (the folder reader's name mapping, grey conversion and resize), from
    the installed package or, in a training venv without it, from this checkout's pure-Python
    fallback."""
    try:
        import fastfer  # noqa: F401
    except ImportError:
        import sys

        sys.path.insert(0, str(REPO / "python"))
    from fastfer import fer2013, kernels

    return fer2013, kernels


def read_image_folder(root: Path, size: int, order: str):
    """uint8 (N,S,S) grey faces and their FER2013 labels from root/<class>/..., with the class
    folders mapped exactly as `fastfer eval folder` maps them (fastfer.fer2013.read_folder: names
    and synonyms, or numbers in --order), and each image converted the way fastfer.Classifier
    converts a face crop (OpenCV BT.601 grey, fastfer's bilinear resize)."""
    import cv2

    fer2013, kernels = _fastfer()
    try:
        files, labels, skipped = fer2013.read_folder(root, order)
    except ValueError as e:
        raise SystemExit(str(e)) from None
    faces = []
    for f in files:
        image = cv2.imread(str(f), cv2.IMREAD_COLOR)
        if image is None:
            raise SystemExit(f"{f}: cannot be read as an image")
        faces.append(kernels.resize(kernels.to_gray(image), size, size))
    counts = np.bincount(labels, minlength=7)
    print(
        f"{root}: {len(faces)} faces ({', '.join(f'{n} {c}' for n, c in zip(LABELS, counts))})"
        + (f"; skipped folders {skipped}" if skipped else ""),
        flush=True,
    )
    return np.stack(faces), np.asarray(labels, np.int64)


def load_folder_data(args, device):
    """An image-folder data set: DIR/train/ trains, DIR/val/ selects the checkpoint (the PublicTest
    role) and DIR/test/, if there, is read once with --final-eval (the PrivateTest role)."""
    root = Path(args.data)
    for part in ("train", "val"):
        if not (root / part).is_dir():
            raise SystemExit(f"--data {root}: an image-folder data set needs {part}/<class>/ folders")

    def split(part, limit=None):
        images, labels = read_image_folder(root / part, args.size, args.order)
        if limit:
            idx = np.random.RandomState(args.seed).permutation(len(labels))[:limit]
            images, labels = images[idx], labels[idx]
        targets = np.eye(7, dtype=np.float32)[labels]
        return (
            torch.from_numpy(images).to(device),
            torch.from_numpy(labels).to(device),
            torch.from_numpy(targets).to(device),
        )

    train, val = split("train", args.limit), split("val", args.limit)
    test = split("test", args.limit) if args.final_eval and (root / "test").is_dir() else None
    return train, val, test


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument(
        "--data",
        help="fer2013.npz (or its packed form), or an image-folder data set DIR with "
        "train/<class>/ and val/<class>/ (and test/<class>/ for --final-eval)",
    )
    ap.add_argument(
        "--order",
        default="fer2013",
        choices=("fer2013", "rafdb", "affectnet"),
        help="class order of numbered class folders, as in `fastfer eval folder` (numbered "
        "0..6, or 1..7 where there is a 7 and no 0; named folders need none): fer2013 "
        "angry, disgust, fear, happy, sad, surprise, neutral; rafdb surprise, fear, "
        "disgust, happiness, sadness, anger, neutral; affectnet neutral, happy, sad, "
        "surprise, fear, disgust, anger",
    )
    ap.add_argument("--ferplus", help="ferplus_labels.npz: mix FER+ votes into the targets (soft labels)")
    ap.add_argument(
        "--ferplus-weight",
        type=float,
        default=0.5,
        help="target = (1-w)*FER2013 one-hot + w*FER+ vote distribution (default 0.5)",
    )
    ap.add_argument("--out", type=Path)
    ap.add_argument("--epochs", type=int, default=60)
    ap.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--limit", type=int, help="use only N images per split (smoke runs)")
    ap.add_argument("--final-eval", action="store_true", help="report PrivateTest once, at the end")
    ap.add_argument("--size", type=int, default=48, help="input side (48 native, or 64)")
    ap.add_argument(
        "--arch",
        default="fernet",
        choices=("fernet",) + tuple(backbones.BACKBONES),
        help="fernet (fastfer's compact ResNet, from scratch) or an ImageNet-pretrained backbone "
        "fed the grey face as three channels (training/backbones.py)",
    )
    ap.add_argument(
        "--no-pretrained",
        dest="pretrained",
        action="store_false",
        help="start a backbone from random weights instead of its ImageNet weights "
        "(training/fetch_pretrained.py fetches those, pinned by sha256)",
    )
    ap.add_argument("--width", type=int, default=32, help="FerNet width")
    ap.add_argument("--blocks", default="1,2,1", help="residual blocks per stage")
    ap.add_argument("--dropout", type=float, default=0.3)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--opt", default="sgd", choices=("sgd", "adamw"))
    ap.add_argument("--lr", type=float, help="peak lr (default 0.1 sgd, 2e-3 adamw)")
    ap.add_argument("--wd", type=float, help="weight decay (default 5e-4 sgd, 0.05 adamw)")
    ap.add_argument("--warmup", type=float, default=3, help="linear warm-up epochs before the cosine decay")
    ap.add_argument("--label-smoothing", type=float, default=0.1)
    ap.add_argument("--ema", type=float, default=0.999, help="EMA decay of the weights (0: off)")
    ap.add_argument(
        "--amp",
        default="auto",
        choices=("auto", "bf16", "fp16", "off"),
        help="auto: bf16 on a CPU that runs it natively (AVX-512 BF16, AMX), else float32; bf16 (else fp16) on CUDA",
    )
    ap.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    ap.add_argument("--rotate", type=float, default=15, help="max rotation, degrees")
    ap.add_argument("--scale", type=float, default=0.15, help="max relative zoom in/out")
    ap.add_argument("--shift", type=float, default=0.1, help="max shift, fraction of the side")
    ap.add_argument("--brightness", type=float, default=0.2)
    ap.add_argument("--contrast", type=float, default=0.3)
    ap.add_argument("--erase", type=float, default=0.5, help="probability of random erasing")
    ap.add_argument("--gamma", type=float, default=0.0, help="random gamma exp(U(-g, g)) (0: off; e.g. 0.4)")
    ap.add_argument("--blur", type=float, default=0.0, help="probability of a random Gaussian blur (0: off)")
    ap.add_argument("--noise", type=float, default=0.0, help="max std of Gaussian pixel noise, [-1, 1] units (0: off)")
    ap.add_argument(
        "--crop",
        type=int,
        help="train on random C×C crops of the augmented S×S face (same "
        "pixel scale); evaluation and the exported model still see the whole face, which "
        "the global pooling allows, so latency is unchanged",
    )
    ap.add_argument(
        "--mixup",
        type=float,
        default=0.0,
        help="mixup alpha (0: off): each batch is mixed with a shuffled copy of itself, "
        "lambda ~ Beta(alpha, alpha), and so are its targets",
    )
    ap.add_argument(
        "--flip-tta",
        action="store_true",
        help="evaluate and export the mean of the face and its mirror (doubles latency)",
    )
    # tools/measure_fer2013_framing.py: a FER2013 frame is 1.027x the long side of the default
    # detector's box, centred on it, i.e. a margin of 0.013 on each side.
    ap.add_argument("--crop-margin", type=float, default=0.013, help="crop margin written into the manifest entry")
    ap.add_argument("--opset", type=int, default=17)
    ap.add_argument(
        "--init",
        type=Path,
        help="start from these weights: a best.pt or last.pt of the same "
        "architecture, or an exported FerNet .onnx (e.g. the shipped "
        "python/fastfer/models/fernet.onnx; its folded BNs are rebuilt on Training faces)",
    )
    ap.add_argument(
        "--teacher",
        type=Path,
        nargs="+",
        help="distil into this net (several: their ensemble): a finished run's --out folder or "
        "an exported FerNet .onnx (e.g. python/fastfer/models/fernet.onnx)",
    )
    ap.add_argument(
        "--teacher-flip",
        action="store_true",
        help="each teacher also sees the mirrored face; the two are averaged (twice the teacher's cost "
        "online, nothing per epoch with --teacher-offline)",
    )
    ap.add_argument(
        "--teacher-clean",
        action="store_true",
        help="the teacher sees each face without --blur/--gamma/--noise, the student with them: the "
        "student learns to say on a degraded face what the teacher says on the clean one",
    )
    ap.add_argument(
        "--teacher-offline",
        action="store_true",
        help="compute the teacher's logits once, on the un-augmented Training faces, and distil the "
        "augmented faces towards those (an epoch then costs the student's passes only); for a teacher "
        "trained on other faces: on its own Training faces its logits are close to the labels it "
        "memorised (README, run 7)",
    )
    ap.add_argument(
        "--distill-weight",
        type=float,
        default=0.7,
        help="loss = (1-a)*cross-entropy on the targets + a*distillation loss (default 0.7)",
    )
    ap.add_argument("--distill-temp", type=float, default=4.0, help="distillation temperature")
    ap.add_argument(
        "--resume",
        type=Path,
        help="continue the unfinished run in this --out folder exactly "
        "(from its state.pt, with its own arguments; only --stop-after and --threads apply)",
    )
    ap.add_argument(
        "--stop-after", type=int, help="stop once epoch K is done, leaving the run resumable (--resume) and unexported"
    )
    args = ap.parse_args(argv)
    if args.resume:
        return args, ap
    if (args.teacher_flip or args.teacher_offline or args.teacher_clean) and not args.teacher:
        ap.error("--teacher-flip, --teacher-clean and --teacher-offline need --teacher")
    if args.teacher_offline and args.mixup > 0:
        ap.error("--teacher-offline with --mixup: the mixed faces have no precomputed teacher logits")
    if not args.data or not args.out:
        ap.error("--data and --out are required (unless --resume RUN)")
    args.blocks = tuple(int(b) for b in str(args.blocks).split(","))
    args.commit = git_commit()  # at the start: the tree may move on while a long run trains
    args.lr = args.lr if args.lr is not None else (0.1 if args.opt == "sgd" else 2e-3)
    args.wd = args.wd if args.wd is not None else (5e-4 if args.opt == "sgd" else 0.05)
    if args.epochs < 0 or (args.epochs == 0 and not args.init):
        ap.error("--epochs must be >= 1, or 0 with --init (export a checkpoint, e.g. one trained elsewhere)")
    if args.crop and not 8 <= args.crop <= args.size:
        ap.error(f"--crop must be between 8 and --size ({args.size})")
    if args.ferplus and Path(args.data).is_dir():
        ap.error("--ferplus votes are row-aligned with fer2013.npz, not with an image folder")
    return args, ap


PATH_ARGS = ("out", "init", "teacher")  # saved as strings in state.pt, restored as Paths


def save_state(path: Path, state: dict):
    """Atomically: a run stopped mid-write keeps its previous state.pt."""
    tmp = path.with_suffix(".tmp")
    torch.save(state, tmp)
    tmp.replace(path)


def main(argv=None):
    args, ap = parse_args(argv)
    state = None
    if args.resume:
        state = torch.load(args.resume / "state.pt", map_location="cpu", weights_only=False)
        stop_after, threads = args.stop_after, args.threads
        args = argparse.Namespace(**{**vars(ap.parse_args([])), **state["args"]})  # options added since: defaults
        for k in PATH_ARGS:
            v = getattr(args, k)
            setattr(args, k, None if v is None else [Path(p) for p in v] if isinstance(v, list) else Path(v))
        if isinstance(args.teacher, Path):  # runs from before --teacher took several
            args.teacher = [args.teacher]
        args.blocks = tuple(args.blocks)
        args.stop_after, args.resume = stop_after, Path(args.out)
        args.threads = threads if threads is not None else args.threads
        now = git_commit()
        if now != args.commit:
            print(f"resuming with the recipe at {now}; the run started at {args.commit}", flush=True)
        print(f"resuming {args.out} after epoch {state['epoch']} of {args.epochs}", flush=True)

    device = torch.device(args.device)
    if args.device == "cuda" and not torch.cuda.is_available():
        ap.error("--device cuda: torch sees no CUDA device")
    if args.threads:
        torch.set_num_threads(args.threads)
    seed_everything(args.seed, device)
    args.out.mkdir(parents=True, exist_ok=True)

    folder = Path(args.data).is_dir()
    (x_tr, y_tr, t_tr), (x_va, y_va, _), test = (load_folder_data if folder else load_data)(args, device)
    pretrained = None
    if args.arch != "fernet" and args.pretrained and state is None and not args.init:
        import fetch_pretrained

        pretrained = fetch_pretrained.fetch(args.arch)
        print(f"{args.arch}: ImageNet weights {pretrained}", flush=True)
    net = build_net(args.arch, args.width, args.blocks, args.dropout, pretrained).to(device)
    if args.init and state is None:  # a second schedule over finished weights (e.g. with that run as --teacher)
        if args.init.suffix == ".onnx":
            # the BN statistics come from 2048 un-augmented Training faces (a fixed, seeded choice)
            calib = x_tr[
                torch.randperm(len(x_tr), generator=torch.Generator().manual_seed(args.seed))[:2048].to(device)
            ]
            load_onnx_weights(net, args.init, args.size, calib)
        else:
            net.load_state_dict(torch.load(args.init, map_location=device))
    net = net.to(memory_format=torch.channels_last)
    params, macs = sum(p.numel() for p in net.parameters()), count_macs(net, args.size)
    print(
        f"{args.arch} {params / 1e6:.2f} M params, {macs / 1e6:.1f} M MACs at {args.size}x{args.size}; "
        f"{len(x_tr)} train / {len(x_va)} {'val' if folder else 'PublicTest'} images on {device}, "
        f"amp {args.amp}, {torch.get_num_threads()} threads",
        flush=True,
    )

    decay, no_decay = [], []
    for p in net.parameters():
        (no_decay if p.ndim <= 1 else decay).append(p)
    groups = [{"params": decay, "weight_decay": args.wd}, {"params": no_decay, "weight_decay": 0.0}]
    opt = (
        torch.optim.SGD(groups, lr=args.lr, momentum=0.9, nesterov=True)
        if args.opt == "sgd"
        else torch.optim.AdamW(groups, lr=args.lr)
    )
    steps_per_epoch = max(1, len(x_tr) // args.batch)  # drop the last partial batch (BN stability)
    total, warm = args.epochs * steps_per_epoch, int(args.warmup * steps_per_epoch)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt,
        lambda s: (
            (s + 1) / max(1, warm) if s < warm else 0.5 * (1 + math.cos(math.pi * (s - warm) / max(1, total - warm)))
        ),
    )
    autocast, scaler = amp_context(device, args.amp)
    ema = EMA(net, args.ema) if args.ema > 0 else None
    teacher = load_teacher(args, device) if args.teacher else None
    cached_teacher_logits = None
    if teacher is not None and args.teacher_offline:
        t0 = time.time()
        cached_teacher_logits = teacher_logits_of(teacher, x_tr, args.size)
        print(f"teacher logits of {len(x_tr)} Training faces in {time.time() - t0:.0f} s", flush=True)
    gen = torch.Generator(device=device).manual_seed(args.seed)
    shuffle = torch.Generator().manual_seed(args.seed)
    mix_rng = np.random.default_rng(args.seed)  # mixup's lambdas

    best_acc, best_epoch, start = -1.0, -1, 1
    log_path = args.out / "log.jsonl"
    if state is None:
        log = log_path.open("w")
    else:  # everything the next epoch depends on, as it was when the last finished epoch ended
        net.load_state_dict(state["net"])
        opt.load_state_dict(state["opt"])
        sched.load_state_dict(state["sched"])
        if ema:
            ema.net.load_state_dict(state["ema"])
            ema.steps = state["ema_steps"]
        if scaler:
            scaler.load_state_dict(state["scaler"])
        best_acc, best_epoch, start = state["best_acc"], state["best_epoch"], state["epoch"] + 1
        rng = state["rng"]
        random.setstate(rng["python"])
        np.random.set_state(rng["numpy"])
        torch.set_rng_state(rng["torch"])
        if device.type == "cuda":
            torch.cuda.set_rng_state_all(rng["cuda"])
        gen.set_state(rng["augment"])
        shuffle.set_state(rng["shuffle"])
        mix_rng.bit_generator.state = rng["mixup"]
        # the log keeps the epochs the state covers (a run killed mid-epoch may have logged none further)
        lines = log_path.read_text().splitlines()[: state["epoch"]] if log_path.exists() else []
        log_path.write_text("".join(line + "\n" for line in lines))
        log = log_path.open("a")
    evaluated = ema.net if ema else net
    if args.epochs == 0:  # --init CKPT --epochs 0: evaluate and export those weights as they are
        best_acc, best_epoch = (predict(net, x_va, args.size, args).argmax(1) == y_va).float().mean().item(), 0
        torch.save(net.state_dict(), args.out / "best.pt")
    for epoch in range(start, args.epochs + 1):
        t0 = time.time()
        net.train()
        order = torch.randperm(len(x_tr), generator=shuffle).to(device)
        loss_sum = torch.zeros((), device=device)
        correct = torch.zeros((), device=device)
        seen = 0
        for s in range(steps_per_epoch):
            idx = order[s * args.batch : (s + 1) * args.batch]
            (x, clean), target, truth = augment(x_tr[idx], args.size, gen, args), t_tr[idx], y_tr[idx]
            if args.mixup > 0:
                lam = float(mix_rng.beta(args.mixup, args.mixup))
                perm = torch.randperm(len(idx), generator=gen, device=device)
                x, clean = lam * x + (1 - lam) * x[perm], lam * clean + (1 - lam) * clean[perm]
                target = lam * target + (1 - lam) * target[perm]
                truth = truth if lam >= 0.5 else truth[perm]  # the training accuracy counts the larger part
            with autocast:
                logits = net(x)
                if cached_teacher_logits is not None:
                    teacher_logits = cached_teacher_logits[idx]
                elif teacher is not None:
                    with torch.no_grad():
                        teacher_logits = teacher(clean if args.teacher_clean else x)
            loss = F.cross_entropy(logits.float(), target, label_smoothing=args.label_smoothing)
            if teacher is not None:
                loss = (1 - args.distill_weight) * loss + args.distill_weight * distill_loss(
                    logits.float(), teacher_logits.float(), args.distill_temp
                )
            opt.zero_grad(set_to_none=True)
            if scaler:
                scaler.scale(loss).backward()
                scaler.step(opt)
                scaler.update()
            else:
                loss.backward()
                opt.step()
            sched.step()
            if ema:
                ema.update(net)
            loss_sum += loss.detach() * len(idx)
            correct += (logits.argmax(1) == truth).sum()
            seen += len(idx)
        train_s = time.time() - t0
        evaluated = ema.net if ema else net
        val_acc = (predict(evaluated, x_va, args.size, args).argmax(1) == y_va).float().mean().item()
        row = {
            "epoch": epoch,
            "train_loss": round(loss_sum.item() / seen, 4),
            "train_acc": round(correct.item() / seen, 4),
            "public_acc": round(val_acc, 4),
            "lr": opt.param_groups[0]["lr"],
            "seconds": round(time.time() - t0, 1),
            "images_per_s": round(seen / train_s, 1),
        }
        if val_acc > best_acc:
            best_acc, best_epoch = val_acc, epoch
            torch.save(evaluated.state_dict(), args.out / "best.pt")
        row["best_public_acc"] = round(best_acc, 4)
        log.write(json.dumps(row) + "\n")
        log.flush()
        print(" ".join(f"{k} {v}" for k, v in row.items()), flush=True)
        rng = {
            "python": random.getstate(),
            "numpy": np.random.get_state(),
            "torch": torch.get_rng_state(),
            "augment": gen.get_state(),
            "shuffle": shuffle.get_state(),
            "mixup": mix_rng.bit_generator.state,
        }
        if device.type == "cuda":
            rng["cuda"] = torch.cuda.get_rng_state_all()
        saved_args = plain_args(args, skip=("resume", "stop_after"))
        save_state(
            args.out / "state.pt",
            {
                "epoch": epoch,
                "args": saved_args,
                "net": net.state_dict(),
                "opt": opt.state_dict(),
                "sched": sched.state_dict(),
                "ema": ema.net.state_dict() if ema else None,
                "ema_steps": ema.steps if ema else 0,
                "scaler": scaler.state_dict() if scaler else None,
                "best_acc": best_acc,
                "best_epoch": best_epoch,
                "rng": rng,
            },
        )
        if args.stop_after and epoch >= args.stop_after and epoch < args.epochs:
            log.close()
            print(
                f"stopped after epoch {epoch} of {args.epochs}; continue with: "
                f"python training/train.py --resume {args.out}",
                flush=True,
            )
            return
    torch.save(evaluated.state_dict(), args.out / "last.pt")
    log.close()

    # The best PublicTest checkpoint is what ships.
    final = build_net(args.arch, args.width, args.blocks, args.dropout).to(device).to(memory_format=torch.channels_last)
    final.load_state_dict(torch.load(args.out / "best.pt", map_location=device))
    private_acc = None
    summary = {"best_epoch": best_epoch, "public_acc": best_acc, "params": params, "macs": macs}
    if test is not None:
        x_te, y_te, _ = test
        probs = predict(final, x_te, args.size, args)
        private_acc = (probs.argmax(1) == y_te).float().mean().item()
        summary["private_acc"] = private_acc
        try:  # per-class figures with fastfer's own evaluation, where fastfer is installed
            from fastfer import fer2013

            summary["private_report"] = fer2013.evaluate(probs.cpu().numpy(), y_te.cpu().numpy())
        except ImportError:
            pass
        print(
            f"{'test' if folder else 'PrivateTest'} accuracy {100 * private_acc:.2f}% (epoch {best_epoch} checkpoint)",
            flush=True,
        )
    onnx_path = export(final, args, args.out, best_acc, private_acc)
    try:  # the exported graph must agree with torch on PublicTest
        import onnxruntime as ort

        sess = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
        xs = to_input(x_va.cpu(), args.size).contiguous().numpy()
        probs = np.concatenate([sess.run(["probs"], {"image": xs[i : i + 512]})[0] for i in range(0, len(xs), 512)])
        summary["onnx_public_acc"] = float((probs.argmax(1) == y_va.cpu().numpy()).mean())
    except ImportError:
        pass
    (args.out / "summary.json").write_text(json.dumps(summary, indent=1) + "\n")
    print(
        f"best PublicTest {100 * best_acc:.2f}% at epoch {best_epoch}; "
        f"ONNX PublicTest {100 * summary.get('onnx_public_acc', float('nan')):.2f}%; wrote {onnx_path} "
        f"and {args.out / 'manifest_entry.json'}",
        flush=True,
    )


if __name__ == "__main__":
    main()
