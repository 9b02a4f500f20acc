"""AlexNet's conv stack in PyTorch on weights/alexnet.safetensors, for the golden values (golden.py --model alexnet):
the same weights and layer names as filterlens, an independent implementation: the layers are written out below, as
torchvision's `alexnet().features` defines them."""

from __future__ import annotations

import sys
from pathlib import Path

import torch
from safetensors.torch import load_file

from torch_vgg import MEAN, STD, Normalise  # noqa: F401  (the same input normalisation as VGG16)

DEFAULT_WEIGHTS = Path(__file__).resolve().parent.parent / "weights" / "alexnet.safetensors"

# filterlens's AlexNet layer name -> index of its conv in torchvision's `features` (the ReLU after it is at
# index + 1). Written out from torchvision, not taken from filterlens's tables.
CONV_INDEX = {"conv1": 0, "conv2": 3, "conv3": 6, "conv4": 8, "conv5": 10}
# (out channels, in channels, kernel side) of each conv's weight.
CONV_SHAPE = {0: (64, 3, 11), 3: (192, 64, 5), 6: (384, 192, 3), 8: (256, 384, 3), 10: (256, 256, 3)}


class AlexNet(torch.nn.Module):
    """AlexNet's conv stack as torchvision names it (`self.features`, an nn.Sequential of 13 modules), no
    normalisation inside:

        0 Conv(3, 64, k11, s4, p2)  1 ReLU  2 MaxPool(3, 2)
        3 Conv(64, 192, k5, p2)     4 ReLU  5 MaxPool(3, 2)
        6 Conv(192, 384, k3, p1)    7 ReLU
        8 Conv(384, 256, k3, p1)    9 ReLU
        10 Conv(256, 256, k3, p1)   11 ReLU 12 MaxPool(3, 2)
    """

    def __init__(self, tensors: dict[str, torch.Tensor]):
        super().__init__()
        self.features = torch.nn.Sequential(
            torch.nn.Conv2d(3, 64, kernel_size=11, stride=4, padding=2),
            torch.nn.ReLU(inplace=False),
            torch.nn.MaxPool2d(kernel_size=3, stride=2),
            torch.nn.Conv2d(64, 192, kernel_size=5, padding=2),
            torch.nn.ReLU(inplace=False),
            torch.nn.MaxPool2d(kernel_size=3, stride=2),
            torch.nn.Conv2d(192, 384, kernel_size=3, padding=1),
            torch.nn.ReLU(inplace=False),
            torch.nn.Conv2d(384, 256, kernel_size=3, padding=1),
            torch.nn.ReLU(inplace=False),
            torch.nn.Conv2d(256, 256, kernel_size=3, padding=1),
            torch.nn.ReLU(inplace=False),
            torch.nn.MaxPool2d(kernel_size=3, stride=2),
        )
        with torch.no_grad():
            for index in CONV_INDEX.values():
                conv = self.features[index]
                conv.weight.copy_(tensors[f"features.{index}.weight"])
                conv.bias.copy_(tensors[f"features.{index}.bias"])
        self.requires_grad_(False)  # only the image is optimised
        self.eval()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x)


def load_weights(path: Path) -> dict[str, torch.Tensor]:
    """The f32 tensors, checked: every conv's weight and bias present, float32 and of torchvision's shape."""
    if not path.is_file():
        sys.exit(f"error: {path} not found; run `make weights` (or `python weights/prepare.py`) first")
    tensors = load_file(str(path))
    for index, (c_out, c_in, k) in CONV_SHAPE.items():
        for kind, shape in (("weight", (c_out, c_in, k, k)), ("bias", (c_out,))):
            key = f"features.{index}.{kind}"
            if key not in tensors:
                sys.exit(f"error: {path} has no tensor {key}")
            if tensors[key].dtype != torch.float32:
                sys.exit(f"error: {key} is {tensors[key].dtype}, expected float32 (use alexnet.safetensors, not the f16 file)")
            if tuple(tensors[key].shape) != shape:
                sys.exit(f"error: {key}: unexpected shape {tuple(tensors[key].shape)}, expected {shape}")
    return tensors


def relu_index(layer: str) -> int:
    return CONV_INDEX[layer] + 1


NETWORK = AlexNet
