#!/usr/bin/env python3
"""Writes tests/fixtures/transforms.json: the transforms' resampling as TensorFlow's own image ops do it.

- Scale and rotation (Lucid's `random_scale` and `random_rotate` draw the factor and angle; src/transform.rs
  resamples about the centre, bilinear, edge pixels repeated outside): TensorFlow's ImageProjectiveTransformV3
  (the op behind Lucid's rotation) with the same output-to-input map, bilinear, fill mode NEAREST.
- MACO's crops: `tf.image.crop_and_resize` (xplique's call) with grey (0.5) outside the image.

src/transform.rs's test applies the same parameters to the same image and compares.

    make tensorflow-fixtures     (the TensorFlow venv of benches/README.md)
"""
import json
import math
from pathlib import Path

import numpy as np
import tensorflow as tf

OUT = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "transforms.json"
SIZE = 20


def scale_rotate(image: np.ndarray, scale: float, degrees: float) -> np.ndarray:
    """image [h, w, c] -> [floor(h·scale), floor(w·scale), c]: output pixel (i, j) samples the input at the centre
    plus the inverse rotation of ((j, i) − the output's centre) / scale."""
    h, w, _ = image.shape
    ho, wo = math.floor(h * scale), math.floor(w * scale)
    sin, cos = math.sin(math.radians(degrees)), math.cos(math.radians(degrees))
    cy_in, cx_in, cy_out, cx_out = (h - 1) / 2, (w - 1) / 2, (ho - 1) / 2, (wo - 1) / 2
    a0, a1, b0, b1 = cos / scale, sin / scale, -sin / scale, cos / scale
    transform = [a0, a1, cx_in - a0 * cx_out - a1 * cy_out, b0, b1, cy_in - b0 * cx_out - b1 * cy_out, 0.0, 0.0]
    out = tf.raw_ops.ImageProjectiveTransformV3(
        images=image[None].astype(np.float32), transforms=tf.constant([transform], tf.float32),
        output_shape=tf.constant([ho, wo], tf.int32), fill_value=0.0, interpolation="BILINEAR", fill_mode="NEAREST")
    return out.numpy()[0]


def main():
    rng = np.random.default_rng(0)
    image = rng.random((SIZE, SIZE, 3), dtype=np.float32)
    planar = lambda a: np.moveaxis(a, -1, 0).flatten().tolist()
    resampled = [{"scale": s, "degrees": d, "output": planar(scale_rotate(image, s, d))}
                 for s, d in [(1.1, 10.0), (0.9, -7.0), (1.0, 90.0), (0.96, 3.0), (1.0, 0.0)]]
    boxes = [[0.1, 0.2, 0.6, 0.7], [-0.3, 0.4, 0.5, 1.2], [0.25, 0.25, 0.3, 0.3], [0.0, 0.0, 1.0, 1.0]]
    crops = tf.image.crop_and_resize(image[None], boxes, [0] * len(boxes), (9, 9), extrapolation_value=0.5).numpy()
    OUT.write_text(json.dumps({
        "source": f"benches/transform_fixture.py: TensorFlow {tf.__version__}",
        "size": SIZE, "image": planar(image), "resampled": resampled,
        "crops": [{"box": b, "side": 9, "output": planar(c)} for b, c in zip(boxes, crops)]}) + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
