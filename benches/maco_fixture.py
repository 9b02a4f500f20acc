#!/usr/bin/env python3
"""Writes tests/fixtures/maco.json: MACO's spectrum and pictures as xplique itself makes them.

For a few image sizes, xplique 2.0.2's own `init_maco_buffer(shape)` (features_visualizations/preconditioning.py)
loads its ImageNet spectrum and resizes it to the size's half-spectrum with `tf.image.resize`, and draws a phase
(numpy seeded); its `maco_image_parametrization(magnitude, phase, values_range=(0, 1))` renders the picture.
src/spectrum.rs's test resizes weights/imagenet-spectrum.npy (the same file, which `make weights` takes from the same
wheel) and src/param.rs's renders the same phases under those magnitudes; both compare.

Pictures are written for even sizes only: xplique's `tf.signal.irfft2d(buffer)` infers the width from the
half-spectrum as 2·(bins − 1), so for an odd size it makes a picture one pixel narrower than asked (7 × 6 for 7);
filterlens keeps the asked width (an inverse real FFT of that length, as `torch.fft.irfft2(s=...)` and lucent do).

    make tensorflow-fixtures     (a venv with TensorFlow and xplique's imports, ~1 GB: see the Makefile)
"""
import json
from pathlib import Path

import numpy as np
import tensorflow as tf
from xplique.features_visualizations.preconditioning import init_maco_buffer, maco_image_parametrization

OUT = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "maco.json"


def main():
    np.random.seed(0)
    cases = []
    for size in (8, 7, 20, 33, 32):
        magnitude, phase = init_maco_buffer((size, size))  # [3, size, size // 2 + 1] each
        image = maco_image_parametrization(magnitude, phase, (0.0, 1.0)).numpy()  # [size, size or size - 1, 3]
        cases.append({
            "size": size,
            "magnitude": magnitude.numpy().flatten().tolist(),
            "phase": phase.numpy().flatten().tolist(),
            "image": np.moveaxis(image, -1, 0).flatten().tolist() if size % 2 == 0 else None,
        })
    OUT.write_text(json.dumps({
        "source": f"benches/maco_fixture.py: xplique 2.0.2's init_maco_buffer and maco_image_parametrization, "
                  f"TensorFlow {tf.__version__}",
        "cases": cases}) + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
