#!/usr/bin/env python3
"""PyTorch's CPU convolutions beside filterlens's Flex kernels, one convolution at a time.

The same shapes, in the same order, as the Rust benchmark
`cargo test --release --lib convolution::flex::tests::beside_burn_flex -- --ignored --nocapture`
(src/net/convolution/flex.rs): batch 1, f32, "same" padding; the forward with a bias, and the gradient with
respect to the input (`torch.nn.grad.conv2d_input`, the op autograd runs). Median of 9 runs after one untimed run,
in ms; nothing is asserted. Run both back to back and compare ratios (docs/BENCHMARKS.md).

    python benches/torch_conv.py [--threads N]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
import torch.nn.functional as F

# (name, channels in, channels out, side, kernel, stride, groups): flex.rs's `beside_burn_flex` list.
LAYERS = [
    ("VGG16 conv1_2, 128 px", 64, 64, 128, 3, 1, 1),
    ("VGG16 conv2_2, 128 px", 128, 128, 64, 3, 1, 1),
    ("VGG16 conv3_1, 128 px", 128, 256, 32, 3, 1, 1),
    ("VGG16 conv3_2, 224 px", 256, 256, 56, 3, 1, 1),
    ("VGG16 conv5_3, 128 px", 512, 512, 8, 3, 1, 1),
    ("VGG16 conv5_3, 224 px", 512, 512, 14, 3, 1, 1),
    ("EfficientNet block1 expand 1x1, 224 px", 16, 96, 112, 1, 1, 1),
    ("EfficientNet block2 project 1x1, 224 px", 144, 24, 56, 1, 1, 1),
    ("EfficientNet block1 depthwise 3x3 s2, 224 px", 96, 96, 112, 3, 2, 96),
    ("EfficientNet block2 depthwise 3x3, 224 px", 144, 144, 56, 3, 1, 144),
    ("EfficientNet block4 depthwise 5x5, 224 px", 480, 480, 14, 5, 1, 480),
]


def median_ms(runs: int, f) -> float:
    f()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        f()
        times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=None, help="intra-op threads (default: torch's)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s)")
    print("| convolution | forward: PyTorch | input grad: PyTorch |")
    print("|---|---:|---:|")
    with torch.no_grad():
        for name, c_in, c_out, side, k, stride, groups in LAYERS:
            x = torch.randn(1, c_in, side, side)
            weight = torch.randn(c_out, c_in // groups, k, k)
            bias = torch.randn(c_out)
            pad = k // 2
            out = F.conv2d(x, weight, bias, stride, pad, 1, groups)
            grad = torch.randn_like(out)
            forward = median_ms(9, lambda: F.conv2d(x, weight, bias, stride, pad, 1, groups))
            backward = median_ms(
                9, lambda: torch.nn.grad.conv2d_input(x.shape, weight, grad, stride, pad, 1, groups)
            )
            print(f"| {name} | {forward:.2f} | {backward:.2f} |")


if __name__ == "__main__":
    main()
