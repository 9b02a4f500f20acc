#!/usr/bin/env python3
"""Writes tests/fixtures/maco.json: MACO's image from a phase, computed independently of filterlens.

xplique's `maco_image_parametrization` and `init_maco_buffer` (xplique 2.0.2, features_visualizations/
preconditioning.py), transcribed line by line into PyTorch (xplique itself needs TensorFlow): the magnitude resized to
the image's half-spectrum with bilinear interpolation and half-pixel centres (tf.image.resize; PyTorch's interpolate
with align_corners=False is the same filter), the phase standardised, magnitude · e^(i·phase) through an inverse real
2-D FFT (torch.fft.irfft2), the image standardised, recorrelated with xplique's own matrix, squashed by a sigmoid
(values_range (0, 1)). src/param.rs's test renders the same phases under the same magnitudes and compares, and
src/spectrum.rs's resampling is compared with PyTorch's.

    make maco-fixture     (the PyTorch venv of `make bench-torch`)
"""
import json
from pathlib import Path

import torch

OUT = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "maco.json"
# xplique's recorrelate_colors: images_flat @ this.
IMAGENET_COLOR_CORRELATION = torch.tensor([
    [0.56282854, 0.58447580, 0.58447580],
    [0.19482528, 0.00000000, -0.19482528],
    [0.04329450, -0.10823626, 0.06494176],
], dtype=torch.float64)


def resize(magnitude: torch.Tensor, shape) -> torch.Tensor:
    """init_maco_buffer: tf.image.resize(moveaxis(magnitude, 0, -1), spectrum_shape), bilinear, half-pixel centres."""
    return torch.nn.functional.interpolate(magnitude[None], size=shape, mode="bilinear", align_corners=False,
                                           antialias=False)[0]


def image_of(magnitude: torch.Tensor, phase: torch.Tensor, size: int) -> torch.Tensor:
    """maco_image_parametrization with values_range (0, 1); returns [3, size, size]."""
    phase = phase - phase.mean()
    phase = phase / (phase.std(unbiased=False) + 1e-5)
    buffer = torch.complex(torch.cos(phase) * magnitude, torch.sin(phase) * magnitude)
    img = torch.fft.irfft2(buffer, s=(size, size)).permute(1, 2, 0)
    img = img - img.mean()
    img = img / (img.std(unbiased=False) + 1e-5)
    img = (img.reshape(-1, 3) @ IMAGENET_COLOR_CORRELATION).reshape(img.shape)
    return torch.sigmoid(img).permute(2, 0, 1)


def main():
    generator = torch.Generator().manual_seed(0)
    source = torch.rand((3, 12, 7), generator=generator, dtype=torch.float64) * 10 + 0.1
    cases = []
    for size in (8, 7, 20):
        shape = (size, size // 2 + 1)
        magnitude = resize(source, shape)
        phase = torch.randn((3, *shape), generator=generator, dtype=torch.float64)
        image = image_of(magnitude, phase, size)
        cases.append({"size": size, "magnitude": magnitude.flatten().tolist(), "phase": phase.flatten().tolist(),
                      "image": image.flatten().tolist()})
    OUT.write_text(json.dumps({
        "source": "benches/maco_fixture.py: xplique 2.0.2's maco_image_parametrization and init_maco_buffer in PyTorch",
        "spectrum_shape": list(source.shape), "spectrum": source.flatten().tolist(), "cases": cases}) + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
