#!/usr/bin/env python3
"""PyTorch's time for filterlens's classic step on EfficientNet-Lite0's classifier (docs/BENCHMARKS.md): the port's
own model (torch_efficientnet.py, weights/efficientnet-lite0.safetensors, f32, CPU), the objective a class's logit,
`image += (2/255) / (max(grad) + 1e-8) * grad`, the image `[1, 3, S, S]` from `(128 + U[0,1)) / 255`. The whole
network runs each step (a class is its last layer), as in `filterlens bench --model efficientnet-lite0 --layers
logits`. Prints one Markdown row per size: median, mean and min of the timed steps, in ms.

    $(TORCH_VENV)/bin/python benches/torch_efficientnet_step.py --sizes 128,224 --steps 20 --warmup 3
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

import torch_efficientnet


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="128,224")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--class", dest="klass", type=int, default=388)
    args = parser.parse_args()
    model, normalise = torch_efficientnet.load(), torch_efficientnet.Normalise()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    print("| size | median ms | mean ms | min ms |")
    print("|---:|---:|---:|---:|")
    for size in map(int, args.sizes.split(",")):
        torch.manual_seed(0)
        x = ((128.0 + torch.rand(1, 3, size, size)) / 255.0).requires_grad_(True)
        times = []
        for step in range(args.warmup + args.steps):
            start = time.perf_counter()
            loss = model(normalise(x))[0, args.klass]
            (grad,) = torch.autograd.grad(loss, x)
            with torch.no_grad():
                x = (x + (2 / 255) / (grad.max() + 1e-8) * grad).requires_grad_(True)
            if step >= args.warmup:
                times.append(1000 * (time.perf_counter() - start))
        print(f"| {size} | {statistics.median(times):.1f} | {statistics.mean(times):.1f} | {min(times):.1f} |")


if __name__ == "__main__":
    main()
