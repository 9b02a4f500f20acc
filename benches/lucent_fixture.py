#!/usr/bin/env python3
"""Writes tests/fixtures/lucent_fft.json: what lucent itself (torch-lucent 0.1.8) renders from fixed spectra with its
FFT parameterisation and decorrelated colour (`fft_image` + `to_valid_rgb(decorrelate=True)`), for even and odd
square sizes. src/param.rs's test renders the same spectra and compares: a convention error shared by filterlens's
forward and inverse transforms (which its round-trip test cannot see) shows here.

    make lucent-fixture     (the PyTorch venv of `make bench-torch`, plus torch-lucent==0.1.8 without its deps)
"""
import json
from pathlib import Path

import torch
from lucent.optvis.param.color import to_valid_rgb
from lucent.optvis.param.spatial import fft_image

OUT = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "lucent_fft.json"


def main():
    torch.manual_seed(0)
    cases = []
    for size in (8, 7, 6):
        params, image_f = fft_image((1, 3, size, size), sd=0.5)
        rgb = to_valid_rgb(image_f, decorrelate=True)
        with torch.no_grad():
            image = rgb()
        spectrum = params[0].detach()  # [1, 3, size, bins, 2]: lucent keeps w//2+2 bins for odd w, irfft uses w//2+1
        cases.append({
            "size": size,
            "spectrum_shape": list(spectrum.shape),
            "spectrum": [round(v, 7) for v in spectrum.flatten().tolist()],
            "image": [round(v, 7) for v in image.flatten().tolist()],
        })
    OUT.write_text(json.dumps({
        "about": "lucent 0.1.8's fft_image + to_valid_rgb(decorrelate=True) on fixed spectra (benches/lucent_fixture.py)",
        "cases": cases,
    }, indent=1) + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
