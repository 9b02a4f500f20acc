#!/usr/bin/env python3
"""Reference pictures from PyTorch + lucent, and one yardstick for every picture.

Two modes, for docs/QUALITY.md:

render (default)
    For each case `layer:filter` runs lucent 0.1.8's `render.render_vis(model, "features_{relu}:{filter}")` with
    all of lucent's defaults (param.image(128): FFT spectrum + decorrelated colour + sigmoid; standard_transforms;
    transform.normalize(); upsampling to 224 px; Adam lr 0.05; thresholds=(512,)) on VGG16's conv stack loaded
    from weights/vgg16.safetensors, saves the final 128 px picture as `lucent-{layer}-{filter}.png` in --out,
    and prints one JSON line per case with the seconds the run took and the yardstick on the saved PNG.

--measure FILE...
    The yardstick: the mean of post-ReLU channel `filter` of `layer` on the PNG as it is, at its own resolution
    (RGB / 255 in [0, 1], ImageNet-normalised, no transforms, no resizing). Works on any PNG, filterlens's or
    lucent's; the case comes from --case, or else from a file name ending in `-{layer}-{filter}.png`. Prints one
    JSON line per file: {"file", "layer", "filter", "activation"}.

    python benches/lucent_quality.py --out /tmp/quality
    python benches/lucent_quality.py --measure /tmp/quality/*.png
    python benches/lucent_quality.py --measure picture.png --case conv4_3:20

See benches/README.md.
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
from PIL import Image

from torch_vgg import CONV_INDEX, DEFAULT_WEIGHTS, FEATURES_LEN, VGG16, Normalise, load_weights, relu_index

DEFAULT_CASES = "conv1_2:5,conv3_1:5,conv4_3:20,conv5_3:100"

# Lucent puts its tensors on cuda:0 whenever CUDA is available, so the model must follow.
DEVICE = torch.device("cuda:0" if torch.cuda.is_available() else "cpu")


def parse_case(text: str) -> tuple[str, int]:
    layer, _, filt = text.strip().partition(":")
    if layer not in CONV_INDEX or not filt.isdigit():
        sys.exit(f"error: bad case '{text}' (expected layer:filter, layer one of {', '.join(CONV_INDEX)})")
    return layer, int(filt)


def png_to_tensor(path: Path) -> torch.Tensor:
    """RGB in [0, 1], [1, 3, H, W]; an alpha channel is dropped, grey is repeated."""
    array = np.asarray(Image.open(path).convert("RGB"), dtype=np.float32) / 255.0
    return torch.from_numpy(array).permute(2, 0, 1).unsqueeze(0).contiguous()


def yardstick(model: VGG16, image: torch.Tensor, layer: str, filt: int) -> float:
    """Mean of post-ReLU channel `filt` of `layer` on `image` ([1, 3, H, W] in [0, 1]) as it is."""
    h = Normalise().to(DEVICE)(image.to(DEVICE))
    with torch.no_grad():
        for module in model.features[: relu_index(layer) + 1]:
            h = module(h)
    channels = h.shape[1]
    if not 0 <= filt < channels:
        sys.exit(f"error: {layer} has {channels} filters, not {filt}")
    return float(h[:, filt].double().mean())


def measure(args, tensors) -> None:
    model = VGG16(tensors).to(DEVICE)
    fixed = parse_case(args.case) if args.case else None
    for name in args.measure:
        path = Path(name)
        if fixed:
            layer, filt = fixed
        else:
            match = re.search(r"-(conv[1-5]_[1-3])-(\d+)\.png$", path.name)
            if not match:
                sys.exit(f"error: no case in the name {path.name}; give --case layer:filter")
            layer, filt = parse_case(f"{match.group(1)}:{match.group(2)}")
        activation = yardstick(model, png_to_tensor(path), layer, filt)
        print(json.dumps({"file": str(path), "layer": layer, "filter": filt, "activation": activation}), flush=True)


def save_png(image: np.ndarray, path: Path) -> None:
    """image: [H, W, 3] in [0, 1] (lucent's sigmoid output), rounded to 8 bits as filterlens does."""
    pixels = np.clip(np.rint(image * 255.0), 0, 255).astype(np.uint8)
    Image.fromarray(pixels, mode="RGB").save(path)


def render(args, tensors) -> None:
    from lucent.optvis import render as lucent_render  # imported here: --measure needs no lucent

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for case in args.cases.split(","):
        layer, filt = parse_case(case)
        # A fresh model per case: render_vis hooks every module and never removes the hooks.
        model = VGG16(tensors, upto=FEATURES_LEN - 1 if args.full_model else relu_index(layer)).to(DEVICE)
        objective = f"features_{relu_index(layer)}:{filt}"
        # torch seeds the spectrum; numpy draws lucent's jitter / scale / rotation; random for completeness.
        torch.manual_seed(args.seed)
        np.random.seed(args.seed)
        random.seed(args.seed)
        start = time.perf_counter()
        images = lucent_render.render_vis(
            model, objective, thresholds=(args.steps,), show_image=False, progress=args.progress,
        )
        seconds = time.perf_counter() - start
        image = images[-1][0]  # [H, W, 3] in [0, 1]
        path = out / f"lucent-{layer}-{filt}.png"
        save_png(image, path)
        record = {
            "file": str(path), "layer": layer, "filter": filt, "objective": objective, "steps": args.steps,
            "seconds": round(seconds, 2), "ms_per_step": round(1000 * seconds / args.steps, 1),
            "activation": yardstick(model, png_to_tensor(path), layer, filt),
        }
        print(json.dumps(record), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", default=DEFAULT_CASES, help=f"comma-separated layer:filter (default {DEFAULT_CASES})")
    parser.add_argument("--out", default="/tmp/quality", help="folder for lucent-{layer}-{filter}.png")
    parser.add_argument("--steps", type=int, default=512, help="lucent's thresholds=(steps,); its default is 512")
    parser.add_argument("--seed", type=int, default=0, help="torch, numpy and random seed, set before each case")
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's)")
    parser.add_argument("--full-model", action="store_true", help="build all 31 modules of features, not only up to the hooked ReLU")
    parser.add_argument("--progress", action="store_true", help="lucent's tqdm progress bar")
    parser.add_argument("--weights", default=str(DEFAULT_WEIGHTS), help="f32 safetensors, torchvision names")
    parser.add_argument("--measure", nargs="+", metavar="PNG", help="measure these PNGs instead of rendering")
    parser.add_argument("--case", help="layer:filter for --measure (default: from each file name)")
    args = parser.parse_args()

    if args.threads:
        torch.set_num_threads(args.threads)
    tensors = load_weights(Path(args.weights))
    if args.measure:
        measure(args, tensors)
    else:
        print(json.dumps({"torch": torch.__version__, "threads": torch.get_num_threads(), "device": str(DEVICE)}),
              file=sys.stderr, flush=True)
        render(args, tensors)


if __name__ == "__main__":
    main()
