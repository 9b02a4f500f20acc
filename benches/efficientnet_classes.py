"""Which preprocessing EfficientNet-Lite0's weights want, by evidence: the classifier's top-5 on public-domain pictures
shipped by scikit-image (`skimage.data`: the cat chelsea, coffee, astronaut, rocket) with TensorFlow's (x - 127) / 128
and with torchvision's ImageNet mean/std, on the independent PyTorch definition (torch_efficientnet.py). Prints a
Markdown table (docs/QUALITY.md records it).

    $(TORCH_VENV)/bin/python benches/efficientnet_classes.py      (scikit-image==0.26.0 in the venv: make golden)
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from skimage import data

import torch_efficientnet

CLASSES = json.loads((Path(__file__).resolve().parent.parent / "src" / "net" / "imagenet-classes.json").read_text())
PICTURES = {"chelsea": data.chelsea, "coffee": data.coffee, "astronaut": data.astronaut, "rocket": data.rocket}
PREPROCESSING = {
    "TensorFlow (x - 127) / 128": (torch_efficientnet.MEAN, torch_efficientnet.STD),
    "torchvision mean/std": ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225)),
}


def picture(name: str) -> torch.Tensor:
    """The picture's centre square at 224 x 224 (bicubic, antialiased), RGB in [0, 1], `[1, 3, 224, 224]`."""
    rgb = PICTURES[name]()[..., :3]
    h, w = rgb.shape[:2]
    side = min(h, w)
    square = rgb[(h - side) // 2:(h - side) // 2 + side, (w - side) // 2:(w - side) // 2 + side]
    x = torch.from_numpy(np.ascontiguousarray(square)).permute(2, 0, 1)[None].float() / 255
    return torch.nn.functional.interpolate(x, size=224, mode="bicubic", antialias=True).clamp(0, 1)


def main():
    model = torch_efficientnet.load()
    print("| picture | preprocessing | top-5 (probability) |")
    print("|---|---|---|")
    for name in PICTURES:
        x = picture(name)
        for label, (mean, std) in PREPROCESSING.items():
            normalised = (x - torch.tensor(mean).view(1, 3, 1, 1)) / torch.tensor(std).view(1, 3, 1, 1)
            with torch.no_grad():
                probabilities = torch.softmax(model(normalised), dim=1)[0]
            top = torch.topk(probabilities, 5)
            classes = ", ".join(f"{CLASSES[i]} ({p:.2f})" for p, i in zip(top.values.tolist(), top.indices.tolist()))
            print(f"| {name} | {label} | {classes} |")


if __name__ == "__main__":
    main()
