"""EfficientNet-Lite0 in PyTorch on weights/efficientnet-lite0.safetensors, for the golden values (golden.py --model
efficientnet-lite0), the quality comparison with lucent and the classifier's evidence (efficientnet_classes.py): the
PyPI sdist efficientnet-lite-pytorch==0.1.0's own model code (Apache-2.0; installed by `make golden`), an
implementation independent of filterlens's graph. Its layers are read with forward hooks on the port's modules and
named as filterlens names them (stem, block0 … block15 with _expand, _depthwise, _project, head, logits,
probabilities), each before its activation function (ReLU6 for stem, expand, depthwise and head; none for the
others)."""

from __future__ import annotations

import sys
from pathlib import Path

import torch
from efficientnet_lite_pytorch import EfficientNet
from safetensors.torch import load_file

DEFAULT_WEIGHTS = Path(__file__).resolve().parent.parent / "weights" / "efficientnet-lite0.safetensors"

# TensorFlow's preprocessing for the Lite models, (x - 127) / 128 on 0..255, as mean and std on [0, 1]
# (efficientnet_classes.py records the evidence for it over torchvision's statistics).
MEAN = (127 / 255,) * 3
STD = (128 / 255,) * 3


class Normalise(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.register_buffer("mean", torch.tensor(MEAN, dtype=torch.float32).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(STD, dtype=torch.float32).view(1, 3, 1, 1))

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return (image - self.mean) / self.std


def load(path: Path = DEFAULT_WEIGHTS) -> EfficientNet:
    """The port's EfficientNet-Lite0 with TensorFlow's "same" padding computed per input (image_size None), its
    weights from `path` (f32), in eval mode (batch norms use their running statistics)."""
    if not path.is_file():
        sys.exit(f"error: {path} not found; run `make weights` first")
    model = EfficientNet.from_name("efficientnet-lite0", image_size=None)
    tensors = load_file(str(path))
    if any(t.dtype != torch.float32 for t in tensors.values()):
        sys.exit(f"error: {path} is not float32 (use efficientnet-lite0.safetensors, not the f16 file)")
    missing, unexpected = model.load_state_dict(tensors, strict=False)
    assert not unexpected and all(m.endswith("num_batches_tracked") for m in missing), (missing, unexpected)
    model.requires_grad_(False)
    return model.eval()


def layers(model: EfficientNet) -> dict[str, tuple[torch.nn.Module, bool]]:
    """filterlens's layer name -> (the port's module whose output it is, whether ReLU6 follows), in depth order."""
    out = {"stem": (model._bn0, True)}
    for i, block in enumerate(model._blocks):
        args = block._block_args
        if args.expand_ratio != 1:
            out[f"block{i}_expand"] = (block._bn0, True)
        out[f"block{i}_depthwise"] = (block._bn1, True)
        skip = block.id_skip and args.stride in (1, [1]) and args.input_filters == args.output_filters
        if skip:
            out[f"block{i}_project"] = (block._bn2, False)
        out[f"block{i}"] = (block if skip else block._bn2, False)
    out["head"] = (model._bn1, True)
    out["logits"] = (model._fc, False)
    return out


def readouts(model: EfficientNet, image: torch.Tensor) -> dict[str, torch.Tensor]:
    """Every layer's output before its activation function for `image` in [0, 1], `[N, C, H, W]` (logits and
    probabilities `[N, 1000, 1, 1]`), from one forward pass of the port."""
    captured, hooks = {}, []
    for name, (module, _) in layers(model).items():
        hooks.append(module.register_forward_hook(lambda m, i, o, name=name: captured.__setitem__(name, o)))
    try:
        logits = model(Normalise()(image))
    finally:
        for hook in hooks:
            hook.remove()
    captured["logits"] = logits[:, :, None, None]
    captured["probabilities"] = torch.softmax(logits, dim=1)[:, :, None, None]
    return captured


def activation(name: str, model: EfficientNet):
    """The function after layer `name`: ReLU6 or none."""
    relu6 = name in layers(model) and layers(model)[name][1]
    return torch.nn.functional.relu6 if relu6 else (lambda x: x)
