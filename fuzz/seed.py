#!/usr/bin/env python3
"""Seeds fuzz/corpus/weights/ with the real f16 weights (VGG16's and AlexNet's) and damaged copies, cut to what libFuzzer mutates (the
header and the start of the data), and fuzz/corpus/onnx/ with the ONNX operator fixtures (tests/fixtures/onnx/, each a
small whole model) and the refused ones: `make fuzz` runs it before fuzzing."""
import struct
from pathlib import Path

here = Path(__file__).resolve().parent
real = (here.parent / "weights" / "vgg16-f16.safetensors").read_bytes()
out = here / "corpus" / "weights"
out.mkdir(parents=True, exist_ok=True)
header_len = struct.unpack("<Q", real[:8])[0]
header = real[8:8 + header_len]
start = 8 + header_len
seeds = {
    "header-only": real[:start],
    "header-and-data": real[:start + 4096],
    "cut-in-header": real[:start // 2],
    "short-length": struct.pack("<Q", header_len - 7) + real[8:start + 256],
    "long-length": struct.pack("<Q", header_len + 4096) + real[8:start + 256],
    "duplicate-name": (lambda h: struct.pack("<Q", len(h)) + h + real[start:start + 256])(
        header.replace(b'"features.0.bias":', b'"features.0.bias":{"dtype":"F16","shape":[64],"data_offsets":[0,128]},"features.0.bias":', 1)),
    "f64-dtype": real[:8] + header.replace(b'"F16"', b'"F64"', 1) + real[start:start + 256],
}
# AlexNet's file too: its header, and its first layer (11×11 kernels).
alexnet = (here.parent / "weights" / "alexnet-f16.safetensors").read_bytes()
alexnet_start = 8 + struct.unpack("<Q", alexnet[:8])[0]
seeds["alexnet-header-only"] = alexnet[:alexnet_start]
seeds["alexnet-header-and-data"] = alexnet[:alexnet_start + 4096]
for name, data in seeds.items():
    (out / name).write_bytes(data)
print(f"{len(seeds)} seeds in {out}")
onnx = here / "corpus" / "onnx"
onnx.mkdir(parents=True, exist_ok=True)
fixtures = sorted((here.parent / "tests" / "fixtures" / "onnx").rglob("*.onnx"))
for path in fixtures:
    (onnx / f"{path.parent.name}-{path.name}").write_bytes(path.read_bytes())
print(f"{len(fixtures)} ONNX seeds in {onnx}")
