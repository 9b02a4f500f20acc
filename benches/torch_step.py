#!/usr/bin/env python3
"""PyTorch baseline (CPU, or CUDA with --device cuda) for filterlens's classic gradient-ascent step.

Times exactly the step that `src/ascent.rs` takes in classic mode, on the same weights
(`weights/vgg16.safetensors`), so the numbers can sit beside the Rust backends in docs/BENCHMARKS.md:

    x        = image [1, 3, S, S], RGB in [0, 1], requires grad
    features = relu(conv_L(... (x - mean) / std ...))     # forward stops at layer L
    loss     = features[:, 0].mean()                      # channel 0, post-ReLU
    grad     = d loss / d x
    x        = x + (2/255) / (grad.max() + 1e-8) * grad   # signed max over the image

starting from `(128 + U[0,1)) / 255` per pixel with torch.manual_seed(0). Each timed step is one
forward, one backward and the update, measured with time.perf_counter.

    python benches/torch_step.py --layers conv3_1,conv5_3 --sizes 128,224 --steps 5 --warmup 2 \
        --json out.json --markdown out.md

See benches/README.md.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import torch

from torch_vgg import CONV_INDEX, DEFAULT_WEIGHTS, VGG16, Normalise, load_weights, pools_before, relu_index

STEP_SIZE = 2.0 / 255.0
EPS = 1e-8


def initial_image(size: int, device: torch.device) -> torch.Tensor:
    torch.manual_seed(0)
    return ((128.0 + torch.rand(1, 3, size, size, dtype=torch.float32)) / 255.0).to(device)


def ascent_step(model: torch.nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, float]:
    """One classic step; returns the new (leaf, grad-requiring) image and the loss *before* the step."""
    features = model(x)
    loss = features[:, 0].mean()
    (grad,) = torch.autograd.grad(loss, x)
    with torch.no_grad():
        x = x + STEP_SIZE / (grad.max() + EPS) * grad
    return x.requires_grad_(True), loss.item()


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def bench(layer: str, model: torch.nn.Module, size: int, steps: int, warmup: int, device: torch.device) -> dict:
    x = initial_image(size, device).requires_grad_(True)
    for _ in range(warmup):
        x, _ = ascent_step(model, x)
    times_ms, losses = [], []
    for _ in range(steps):
        t0 = time.perf_counter()
        x, loss = ascent_step(model, x)  # loss.item() inside syncs with the backward pass ...
        synchronize(device)  # ... and this with the update, on a GPU
        times_ms.append((time.perf_counter() - t0) * 1e3)
        losses.append(loss)
    return {
        "layer": layer,
        "size": size,
        "steps": steps,
        "warmup": warmup,
        "median_ms": statistics.median(times_ms),
        "mean_ms": statistics.fmean(times_ms),
        "min_ms": min(times_ms),
        "max_ms": max(times_ms),
        "times_ms": times_ms,
        "loss_first": losses[0],
        "loss_last": losses[-1],
    }


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def markdown(report: dict) -> str:
    m = report["machine"]
    lines = [
        (f"GPU: {report['gpu']} (cuDNN TF32 {'on' if report['cudnn_tf32'] else 'off'}), " if report["gpu"] else "")
        + f"CPU: {m['cpu']}, {m['cores']} cores; torch {report['torch']}, {report['threads']} thread(s); "
        f"classic step (forward to layer, channel-0 mean, backward to image, update), f32, batch 1.",
        "",
        "| backend | layer | size | ms/step (median) | mean | min | steps |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in report["results"]:
        lines.append(
            f"| {report['backend']} | {r['layer']} | {r['size']} | {r['median_ms']:.1f} | {r['mean_ms']:.1f} "
            f"| {r['min_ms']:.1f} | {r['steps']} |"
        )
    return "\n".join(lines) + "\n"


def csv(kind, parse):
    def convert(text: str):
        try:
            values = [parse(v.strip()) for v in text.split(",") if v.strip()]
        except ValueError as e:
            raise argparse.ArgumentTypeError(f"bad {kind} list {text!r}: {e}")
        if not values:
            raise argparse.ArgumentTypeError(f"empty {kind} list")
        return values

    return convert


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--layers", type=csv("layer", str), default=["conv3_1", "conv5_3"],
                   help="comma-separated layer names (default: conv3_1,conv5_3)")
    p.add_argument("--sizes", type=csv("size", int), default=[128, 224],
                   help="comma-separated image sizes in px (default: 128,224)")
    p.add_argument("--steps", type=int, default=5, help="timed steps per (layer, size) (default: 5)")
    p.add_argument("--warmup", type=int, default=2, help="untimed steps before them (default: 2)")
    p.add_argument("--threads", type=int, default=None,
                   help="torch intra-op threads (default: all cores available to this process)")
    p.add_argument("--weights", type=Path, default=DEFAULT_WEIGHTS,
                   help=f"VGG16 safetensors, f32 (default: {DEFAULT_WEIGHTS}) or f16 (widened to f32)")
    p.add_argument("--device", choices=["cpu", "cuda"], default="cpu", help="where the step runs (default: cpu)")
    p.add_argument("--tf32", choices=["default", "on", "off"], default="default",
                   help="CUDA: TensorFloat-32 in convolutions (PyTorch's default: on); off computes in full f32 "
                        "like filterlens's wgpu kernels")
    p.add_argument("--json", type=Path, help="write the full report here")
    p.add_argument("--markdown", type=Path, help="write the Markdown table here (it is printed either way)")
    args = p.parse_args(argv)

    for layer in args.layers:
        if layer not in CONV_INDEX:
            p.error(f"unknown layer {layer!r}; one of {', '.join(CONV_INDEX)}")
    if args.steps < 1 or args.warmup < 0:
        p.error("--steps must be >= 1 and --warmup >= 0")
    cores = available_cores()
    threads = args.threads if args.threads is not None else cores
    if threads < 1:
        p.error("--threads must be >= 1")
    for layer in args.layers:
        pools = pools_before(layer)
        for size in args.sizes:
            if size < 2**pools:
                p.error(f"size {size} is too small for {layer} ({pools} max-pools need at least {2**pools} px)")

    torch.set_num_threads(threads)
    try:
        torch.set_num_interop_threads(1)  # one graph, no inter-op parallelism to exploit
    except RuntimeError:
        pass

    device = torch.device(args.device)
    if device.type == "cuda":
        if not torch.cuda.is_available():
            p.error("--device cuda: PyTorch sees no CUDA device")
        if args.tf32 != "default":
            torch.backends.cudnn.allow_tf32 = args.tf32 == "on"
    tensors = load_weights(args.weights, allow_f16=True)
    results = []
    for layer in args.layers:
        # Normalisation inside, the forward stopping at the layer's ReLU, as in src/vgg.rs.
        model = torch.nn.Sequential(Normalise(), VGG16(tensors, upto=relu_index(layer)))
        for size in args.sizes:
            r = bench(layer, model.to(device), size, args.steps, args.warmup, device)
            print(
                f"{layer} {size}px: median {r['median_ms']:.1f} ms/step over {r['steps']} "
                f"(channel-0 mean {r['loss_first']:.4g} -> {r['loss_last']:.4g})",
                file=sys.stderr,
            )
            results.append(r)

    report = {
        "backend": f"pytorch-{device.type}",
        "gpu": torch.cuda.get_device_name(device) if device.type == "cuda" else None,
        "cudnn_tf32": torch.backends.cudnn.allow_tf32 if device.type == "cuda" else None,
        "machine": {
            "cpu": cpu_model(),
            "cores": cores,
            "logical_cpus": os.cpu_count(),
            "platform": platform.platform(),
        },
        "python": platform.python_version(),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "interop_threads": torch.get_num_interop_threads(),
        "mkldnn": torch.backends.mkldnn.is_available(),
        "weights": {"path": str(args.weights), "sha256": sha256(args.weights)},
        "step": {
            "objective": "mean of channel 0 of the post-ReLU layer output",
            "update": "x += (2/255) / (max(grad) + 1e-8) * grad",
            "init": "(128 + U[0,1)) / 255, torch.manual_seed(0)",
            "batch": 1,
            "dtype": "float32",
        },
        "results": results,
    }
    table = markdown(report)
    print(table, end="")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    if args.markdown:
        args.markdown.write_text(table, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
