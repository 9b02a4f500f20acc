"""VGG16's conv stack in PyTorch on weights/vgg16.safetensors, shared by the PyTorch benchmarks (torch_step.py,
lucent_quality.py): the same weights and layer names as filterlens, an independent implementation."""

from __future__ import annotations

import sys
from pathlib import Path

import torch
from safetensors.torch import load_file

DEFAULT_WEIGHTS = Path(__file__).resolve().parent.parent / "weights" / "vgg16.safetensors"

# filterlens's VGG16 layer name -> index of its conv in torchvision's `features` (the ReLU after it is at index + 1),
# written out from torchvision's `vgg16().features`, not taken from filterlens's graph; its 2x2 max-pools; and
# torchvision's input normalisation.
CONV_INDEX = {"conv1_1": 0, "conv1_2": 2, "conv2_1": 5, "conv2_2": 7, "conv3_1": 10, "conv3_2": 12, "conv3_3": 14,
              "conv4_1": 17, "conv4_2": 19, "conv4_3": 21, "conv5_1": 24, "conv5_2": 26, "conv5_3": 28}
POOL_INDEX = (4, 9, 16, 23, 30)
FEATURES_LEN = POOL_INDEX[-1] + 1
MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)


class VGG16(torch.nn.Module):
    """VGG16's conv stack as torchvision names it (`self.features`, an nn.Sequential), no normalisation inside.

    Lucent hooks every submodule under the name `features_{index}`; the post-ReLU output of conv at index i is
    `features_{i+1}`. `upto` (an index into `features`) builds only the modules up to and including it: the deeper
    ones cannot change that module's output, so an objective on it is the same, only cheaper. Indices, and so
    lucent's names, are those of the full stack.
    """

    def __init__(self, tensors: dict[str, torch.Tensor], upto: int = FEATURES_LEN - 1):
        super().__init__()
        modules = []
        in_channels = 3
        for index in range(upto + 1):
            if index in POOL_INDEX:
                modules.append(torch.nn.MaxPool2d(kernel_size=2, stride=2))
            elif index in CONV_INDEX.values():
                weight = tensors[f"features.{index}.weight"]
                bias = tensors[f"features.{index}.bias"]
                out_channels = weight.shape[0]
                if tuple(weight.shape) != (out_channels, in_channels, 3, 3) or tuple(bias.shape) != (out_channels,):
                    sys.exit(f"error: features.{index}: unexpected shapes {tuple(weight.shape)} / {tuple(bias.shape)}")
                conv = torch.nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1)
                with torch.no_grad():
                    conv.weight.copy_(weight)
                    conv.bias.copy_(bias)
                modules.append(conv)
                in_channels = out_channels
            else:
                modules.append(torch.nn.ReLU(inplace=False))
        self.features = torch.nn.Sequential(*modules)
        self.requires_grad_(False)  # only the image is optimised; saves the weight gradients' time
        self.eval()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x)


def load_weights(path: Path, allow_f16: bool = False) -> dict[str, torch.Tensor]:
    """The f32 tensors, checked: every conv's weight and bias present and float32 (or float16 where `allow_f16`,
    widened to float32: what filterlens computes from its f16 file)."""
    if not path.is_file():
        sys.exit(f"error: {path} not found; run `make weights` (or `python weights/prepare.py`) first")
    tensors = load_file(str(path))
    for index in CONV_INDEX.values():
        for kind in ("weight", "bias"):
            key = f"features.{index}.{kind}"
            if key not in tensors:
                sys.exit(f"error: {path} has no tensor {key}")
            if allow_f16 and tensors[key].dtype == torch.float16:
                tensors[key] = tensors[key].float()
            if tensors[key].dtype != torch.float32:
                sys.exit(f"error: {key} is {tensors[key].dtype}, expected float32 (use vgg16.safetensors, not the f16 file)")
    return tensors


def relu_index(layer: str) -> int:
    return CONV_INDEX[layer] + 1


def pools_before(layer: str) -> int:
    return sum(pool < CONV_INDEX[layer] for pool in POOL_INDEX)


class Normalise(torch.nn.Module):
    """ImageNet normalisation of RGB in [0, 1], `[N, 3, H, W]`; mean and std are buffers, made once."""

    def __init__(self):
        super().__init__()
        self.register_buffer("mean", torch.tensor(MEAN, dtype=torch.float32).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(STD, dtype=torch.float32).view(1, 3, 1, 1))

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return (image - self.mean) / self.std


NETWORK = VGG16
