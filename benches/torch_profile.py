#!/usr/bin/env python3
"""Where PyTorch's classic step spends its time, by operator (torch.profiler), to set beside a `perf` profile of
filterlens's Flex step (docs/BENCHMARKS.md, "Where Flex's time goes").

    python benches/torch_profile.py --layer conv3_1 --size 128 --steps 10 [--threads 2]

The step is torch_step.py's (forward to the layer, channel-0 mean, backward to the image, max-normalised update);
prints self CPU time per operator, per step, sorted.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from torch_step import ascent_step, initial_image
from torch_vgg import CONV_INDEX, DEFAULT_WEIGHTS, VGG16, Normalise, load_weights, relu_index


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--layer", default="conv3_1", choices=list(CONV_INDEX))
    p.add_argument("--size", type=int, default=128)
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--weights", type=Path, default=DEFAULT_WEIGHTS)
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    model = torch.nn.Sequential(Normalise(), VGG16(load_weights(args.weights, allow_f16=True), upto=relu_index(args.layer)))
    x = initial_image(args.size, torch.device("cpu")).requires_grad_(True)
    for _ in range(2):
        x, _ = ascent_step(model, x)
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
        for _ in range(args.steps):
            x, _ = ascent_step(model, x)
    rows = sorted(prof.key_averages(), key=lambda e: -e.self_cpu_time_total)
    total = sum(e.self_cpu_time_total for e in rows)
    print(f"{args.layer} {args.size} px, {torch.get_num_threads()} threads: {total / args.steps / 1e3:.1f} ms/step (self CPU time)")
    for e in rows[:15]:
        print(f"{e.self_cpu_time_total / args.steps / 1e3:8.2f} ms/step {100 * e.self_cpu_time_total / total:5.1f}%  {e.key}")


if __name__ == "__main__":
    main()
