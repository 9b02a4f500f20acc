"""The built-in networks written to ONNX by PyTorch's own exporter, from the independent PyTorch definitions (VGG16
and AlexNet as benches/torch_vgg.py and benches/torch_alexnet.py define them, EfficientNet-Lite0 as the PyPI port
efficientnet-lite-pytorch defines it: benches/torch_efficientnet.py), each in three lines of `torch.onnx.export` at
224 px, into weights/torch-<model>.onnx. `make onnx-torch` writes them, then checks that filterlens opens them and
gives the built-in networks' values (tests/engine/onnx.rs `torch_exports_match_the_built_in_networks`): the graphs
differ (PyTorch's exporter pads EfficientNet's "same" convolutions with Pad nodes at the exported size), the
values agree within float tolerance."""

import sys
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
WEIGHTS = HERE.parent / "weights"


def main():
    import torch_alexnet
    import torch_efficientnet
    import torch_vgg

    models = {
        "vgg16": torch_vgg.VGG16(torch_vgg.load_weights(WEIGHTS / "vgg16.safetensors")),
        "alexnet": torch_alexnet.AlexNet(torch_alexnet.load_weights(WEIGHTS / "alexnet.safetensors")),
        "efficientnet-lite0": torch_efficientnet.load(WEIGHTS / "efficientnet-lite0.safetensors"),
    }
    for name, model in models.items():
        path = WEIGHTS / f"torch-{name}.onnx"
        torch.onnx.export(model.eval(), torch.randn(1, 3, 224, 224), str(path), dynamo=False)
        print(f"wrote {path.name} ({path.stat().st_size / 1e6:.1f} MB)")


if __name__ == "__main__":
    main()
