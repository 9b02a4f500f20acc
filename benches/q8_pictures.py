#!/usr/bin/env python3
"""How far 8-bit weights would move filterlens's pictures (issue 29, item 6; docs/BENCHMARKS.md).

Each network's kernels (every weight of rank 2 or more) quantized as the page would download them: int8,
symmetric, one scale per output channel (the channel's largest magnitude is 127), biases and batch norms in f16.
The quantized values are written back as an f32 safetensors file (`<model>-q8-dequantized.safetensors` in a scratch
folder), which the CLI reads like any weights file, so no loader is needed to see the pictures. Then the CLI renders
each case with the f32 weights, the page's f16 ones and the 8-bit ones, and this prints how far apart the pictures
are (largest and mean difference of RGB values, grey levels, as tests/e2e/parity.test.mjs measures the page
against the CLI), and the bytes each file would take.

    ~/.cache/filterlens/torch-venv/bin/python benches/q8_pictures.py [--cli PATH]
        (after make weights and cargo build --release; that venv, `make bench-torch`'s, has numpy, safetensors and
        Pillow)
"""

from __future__ import annotations

import argparse
import os
import subprocess
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image
from safetensors.numpy import load_file, save_file

ROOT = Path(__file__).resolve().parent.parent
# tests/e2e/parity.test.mjs's cases (filter 3, 5 steps, 64 px, seed 7) and their bounds, then full-length runs.
CASES = [
    ("classic", "vgg16", "conv2_1", "--filter 3 --steps 5 --size 64 --seed 7", (2, 0.05)),
    ("lucid", "vgg16", "conv2_1", "--filter 3 --steps 5 --size 64 --seed 7", (16, 3)),
    ("classic", "alexnet", "conv4", "--filter 3 --steps 5 --size 64 --seed 7", (2, 0.05)),
    ("maco", "vgg16", "conv2_1", "--filter 3 --steps 5 --size 64 --seed 7 --crops 2", (10, 2)),
    ("classic", "efficientnet-lite0", "block3", "--filter 3 --steps 5 --size 64 --seed 7", None),
    ("lucid", "vgg16", "conv4_3", "--filter 12 --steps 128 --size 128 --seed 0", None),
    ("classic", "vgg16", "conv3_2", "--filter 0 --steps 150 --size 224 --seed 0", None),
]


def quantized(kernel: np.ndarray) -> np.ndarray:
    """`kernel` through symmetric per-output-channel int8 and back."""
    flat = kernel.reshape(kernel.shape[0], -1).astype(np.float64)
    scale = np.abs(flat).max(axis=1) / 127.0
    q = np.round(flat / np.where(scale > 0, scale, 1.0)[:, None])
    return (q * scale.astype(np.float32)[:, None]).astype(np.float32).reshape(kernel.shape)


def q8_file(model: str, scratch: Path) -> tuple[Path, int]:
    """The 8-bit weights as f32 values, and the bytes the 8-bit file would take (its header aside)."""
    tensors = load_file(ROOT / "weights" / f"{model}.safetensors")
    out, size = {}, 0
    for name, array in tensors.items():
        if array.ndim >= 2:
            out[name] = quantized(array)
            size += array.size + 4 * array.shape[0]  # int8 values, an f32 scale per output channel
        else:
            out[name] = array.astype(np.float16).astype(np.float32)
            size += 2 * array.size
    path = scratch / f"{model}-q8-dequantized.safetensors"
    save_file(out, str(path))
    return path, size


def picture(cli: str, mode: str, model: str, layer: str, options: str, weights: Path, out: Path) -> np.ndarray:
    subprocess.run([cli, "render", "--mode", mode, "--model", model, "--layer", layer, *options.split(),
                    "--weights", str(weights), "--out", str(out)], check=True, cwd=ROOT, capture_output=True)
    return np.asarray(Image.open(out).convert("RGB")).astype(int)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    target = Path(os.environ.get("CARGO_TARGET_DIR", Path.home() / ".cache/filterlens/target"))
    parser.add_argument("--cli", default=str(target / "release" / "filterlens"))
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="filterlens-q8-"))
    files = {}
    print("| network | f32 | f16 (the page's) | 8-bit kernels |")
    print("|---|---:|---:|---:|")
    for model in dict.fromkeys(model for _, model, *_ in CASES):
        files[model], size = q8_file(model, scratch)
        f32, f16 = (ROOT / "weights" / f"{model}{s}.safetensors" for s in ("", "-f16"))
        print(f"| {model} | {f32.stat().st_size / 1e6:.1f} MB | {f16.stat().st_size / 1e6:.1f} MB | {size / 1e6:.1f} MB |")
    print()
    print("| case | parity bound | f16 vs f32 | 8-bit vs f32 | 8-bit vs f16 |")
    print("|---|---|---:|---:|---:|")
    for mode, model, layer, options, bound in CASES:
        pictures = {
            name: picture(args.cli, mode, model, layer, options, weights, scratch / f"{name}.png")
            for name, weights in [("f32", ROOT / "weights" / f"{model}.safetensors"),
                                  ("f16", ROOT / "weights" / f"{model}-f16.safetensors"), ("q8", files[model])]
        }
        apart = lambda a, b: f"{np.abs(pictures[a] - pictures[b]).max()} / {np.abs(pictures[a] - pictures[b]).mean():.2f}"
        limit = f"{bound[0]} / {bound[1]}" if bound else "–"
        print(f"| {mode} {model} {layer} ({options}) | {limit} | {apart('f16', 'f32')} | {apart('q8', 'f32')} | "
              f"{apart('q8', 'f16')} |")
    print(f"\n(largest / mean difference, grey levels; pictures in {scratch})")


if __name__ == "__main__":
    main()
