#!/usr/bin/env python3
"""Writes the built-in networks as ONNX files, from their f32 weights: weights/{vgg16,alexnet,efficientnet-lite0}.onnx.

The graphs are described here again, from the architectures' own definitions (torchvision's VGG16 and AlexNet
`features`; EfficientNet-Lite0 as TensorFlow's reference: TensorFlow's "same" padding as ONNX's SAME_UPPER, batch
normalisations as nodes of their own, ReLU6 as Clip(0, 6), the classifier as Flatten, Gemm and Softmax), with
PyTorch exporter's node names (`/features/features.0/Conv`). The tests open them as models of one's own and expect
the built-in networks' values bit for bit: the same weights through the same operations.

Run by `make weights` (onnx is pinned in the Makefile); idempotent (a file is rewritten only when it differs).
"""
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from safetensors.numpy import load_file

HERE = Path(__file__).resolve().parent
OPSET = 17


class Graph:
    """Nodes and initializers, named as PyTorch's exporter names them."""

    def __init__(self, weights):
        self.weights, self.nodes, self.inits, self.used = weights, [], [], set()

    def tensor(self, name):
        if name not in self.used:
            self.used.add(name)
            self.inits.append(numpy_helper.from_array(self.weights[name], name))
        return name

    def node(self, op, path, inputs, **attrs):
        out = f"{path}/{op}_output_0"
        self.nodes.append(helper.make_node(op, inputs, [out], name=f"{path}/{op}", **attrs))
        return out

    def model(self, name, output, dims):
        graph = helper.make_graph(
            self.nodes,
            name,
            [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["batch", 3, "height", "width"])],
            [helper.make_tensor_value_info(output, TensorProto.FLOAT, dims)],
            self.inits,
        )
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="filterlens")
        model.ir_version = 8
        return model


def plain_stack(name, table, channels):
    """torchvision's `features`: (index, kernel, stride, padding, pool before) per conv, each with its ReLU."""
    g = Graph(load_file(HERE / f"{name}.safetensors"))
    x = "image"
    for index, kernel, stride, padding, pool in table:
        if pool:
            k, s = pool
            x = g.node("MaxPool", f"/features/features.{index - 1}", [x], kernel_shape=[k, k], strides=[s, s])
        x = g.node(
            "Conv",
            f"/features/features.{index}",
            [x, g.tensor(f"features.{index}.weight"), g.tensor(f"features.{index}.bias")],
            kernel_shape=[kernel, kernel],
            strides=[stride, stride],
            pads=[padding] * 4,
        )
        x = g.node("Relu", f"/features/features.{index + 1}", [x])
    return g.model(name, x, ["batch", channels, "out_height", "out_width"])


def vgg16():
    pool = (2, 2)
    blocks = [(0, None), (2, None), (5, pool), (7, None), (10, pool), (12, None), (14, None)]
    blocks += [(17, pool), (19, None), (21, None), (24, pool), (26, None), (28, None)]
    return plain_stack("vgg16", [(index, 3, 1, 1, p) for index, p in blocks], 512)


def alexnet():
    pool = (3, 2)
    return plain_stack(
        "alexnet",
        [(0, 11, 4, 2, None), (3, 5, 1, 2, pool), (6, 3, 1, 1, pool), (8, 3, 1, 1, None), (10, 3, 1, 1, None)],
        256,
    )


def efficientnet_lite0():
    g = Graph(load_file(HERE / "efficientnet-lite0.safetensors"))
    g.inits.append(numpy_helper.from_array(np.array(0.0, np.float32), "zero"))
    g.inits.append(numpy_helper.from_array(np.array(6.0, np.float32), "six"))

    def conv_bn(x, path, conv, bn, kernel, stride, groups, relu6=True):
        x = g.node(
            "Conv",
            path,
            [x, g.tensor(f"{conv}.weight")],
            kernel_shape=[kernel, kernel],
            strides=[stride, stride],
            group=groups,
            auto_pad="SAME_UPPER",
        )
        stats = [g.tensor(f"{bn}.{t}") for t in ("weight", "bias", "running_mean", "running_var")]
        x = g.node("BatchNormalization", path.replace("conv", "bn"), [x] + stats, epsilon=1e-3)
        return g.node("Clip", path.replace("conv", "relu6"), [x, "zero", "six"]) if relu6 else x

    x = conv_bn("image", "/_conv_stem", "_conv_stem", "_bn0", 3, 2, 1)
    stages = [(1, 3, 1, 1, 32, 16), (2, 3, 2, 6, 16, 24), (2, 5, 2, 6, 24, 40), (3, 3, 2, 6, 40, 80)]
    stages += [(3, 5, 1, 6, 80, 112), (4, 5, 2, 6, 112, 192), (1, 3, 1, 6, 192, 320)]
    n = 0
    for repeats, kernel, stride, expansion, first, output in stages:
        for repeat in range(repeats):
            in_channels, s = (first, stride) if repeat == 0 else (output, 1)
            p, mid = f"_blocks.{n}", in_channels * expansion
            y = x
            if expansion != 1:
                y = conv_bn(y, f"/_blocks.{n}/_expand_conv", f"{p}._expand_conv", f"{p}._bn0", 1, 1, 1)
            y = conv_bn(y, f"/_blocks.{n}/_depthwise_conv", f"{p}._depthwise_conv", f"{p}._bn1", kernel, s, mid)
            y = conv_bn(y, f"/_blocks.{n}/_project_conv", f"{p}._project_conv", f"{p}._bn2", 1, 1, 1, relu6=False)
            x = g.node("Add", f"/_blocks.{n}", [y, x]) if s == 1 and in_channels == output else y
            n += 1
    x = conv_bn(x, "/_conv_head", "_conv_head", "_bn1", 1, 1, 1)
    x = g.node("GlobalAveragePool", "/_avg_pooling", [x])
    x = g.node("Flatten", "/_flatten", [x], axis=1)
    x = g.node("Gemm", "/_fc", [x, g.tensor("_fc.weight"), g.tensor("_fc.bias")], transB=1)
    x = g.node("Softmax", "/_softmax", [x], axis=1)
    return g.model("efficientnet-lite0", x, ["batch", 1000])


def main():
    for name, build in [("vgg16", vgg16), ("alexnet", alexnet), ("efficientnet-lite0", efficientnet_lite0)]:
        model = build()
        onnx.checker.check_model(model)
        data = model.SerializeToString()
        path = HERE / f"{name}.onnx"
        if not path.exists() or path.read_bytes() != data:
            path.write_bytes(data)
            print(f"wrote {path.name} ({len(data) / 1e6:.1f} MB)")


if __name__ == "__main__":
    main()
