"""Small ONNX graphs, one or two operators each, with the values ONNX's own reference implementation gives them.

Writes tests/fixtures/onnx/<case>.onnx and tests/fixtures/onnx/ops.json: for each case its RGB input (1×3×8×8 in
[0, 1]; the picture filterlens feeds, made into the graph's input as the case says: as is, its luma for a grey
model, NHWC for a Keras-style one), the graph's output from `onnx.reference.ReferenceEvaluator` (float32), and the
gradient of `sum(output · weights)` with respect to that RGB input by central differences on a float64 copy of the
graph. Also writes tests/fixtures/onnx/refused/*.onnx: files filterlens must refuse, each for one reason.

    make onnx-fixtures      (the weights venv, with onnx pinned in the Makefile)
"""

import json
import math
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from onnx.reference import ReferenceEvaluator

OUT = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "onnx"
SIDE = 8
OPSET = 17
RNG = np.random.default_rng(20261201)
LUMA = np.array([0.299, 0.587, 0.114])


def weight(*shape, scale=0.5):
    return (RNG.standard_normal(shape) * scale).astype(np.float32)


class Case:
    """A graph under construction: nodes, initializers, and the input's layout."""

    def __init__(self, name, layout="nchw"):
        self.name, self.layout = name, layout
        self.nodes, self.inits = [], []
        self.count = 0

    def init(self, value, name=None):
        name = name or f"w{len(self.inits)}"
        self.inits.append(numpy_helper.from_array(np.asarray(value), name))
        return name

    def node(self, op, inputs, **attrs):
        self.count += 1
        out = f"{op.lower()}_{self.count}"
        self.nodes.append(helper.make_node(op, inputs, [out], name=f"/block{self.count}/{op}", **attrs))
        return out

    def conv(self, x, cin, cout, k=3, bias=True, **attrs):
        inputs = [x, self.init(weight(cout, cin // attrs.get("group", 1), k, k))]
        if bias:
            inputs.append(self.init(weight(cout, scale=0.1)))
        return self.node("Conv", inputs, **attrs)

    def model(self, output, opset=OPSET):
        channels = 1 if self.layout == "grey" else 3
        dims = [1, SIDE, SIDE, 3] if self.layout == "nhwc" else [1, channels, SIDE, SIDE]
        graph = helper.make_graph(
            self.nodes,
            self.name,
            [helper.make_tensor_value_info("image", TensorProto.FLOAT, dims)],
            [helper.make_empty_tensor_value_info(output)],
            self.inits,
        )
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
        model.ir_version = 8
        return model


def graph_input(rgb, layout):
    """The graph's input from the RGB picture `[1, 3, H, W]`."""
    if layout == "grey":
        return np.tensordot(LUMA, rgb[0], axes=1)[None, None]
    if layout == "nhwc":
        return rgb.transpose(0, 2, 3, 1)
    return rgb


def as_double(model):
    """The same graph with every float tensor in float64, for finite differences."""
    double = onnx.ModelProto()
    double.CopyFrom(model)
    for init in double.graph.initializer:
        if init.data_type == TensorProto.FLOAT:
            init.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(init).astype(np.float64), init.name))
    for value in list(double.graph.input) + list(double.graph.output):
        if value.type.tensor_type.elem_type == TensorProto.FLOAT:
            value.type.tensor_type.elem_type = TensorProto.DOUBLE
    for node in double.graph.node:
        if node.op_type == "Cast":
            for a in node.attribute:
                if a.name == "to" and a.i == TensorProto.FLOAT:
                    a.i = TensorProto.DOUBLE
    return double


def record(case, output, opset=OPSET):
    model = case.model(output, opset)
    rgb = RNG.uniform(0.0, 1.0, (1, 3, SIDE, SIDE)).astype(np.float32)
    (y,) = ReferenceEvaluator(model).run(None, {"image": graph_input(rgb, case.layout).astype(np.float32)})
    # The output's declared type: what the reference computed.
    model.graph.output[0].CopyFrom(helper.make_tensor_value_info(output, TensorProto.FLOAT, list(y.shape)))
    onnx.checker.check_model(model, full_check=True)
    onnx.save(model, OUT / f"{case.name}.onnx")
    weights = np.sin(0.37 * np.arange(y.size) + 0.1).reshape(y.shape)
    double = ReferenceEvaluator(as_double(model))

    def loss(x):
        (out,) = double.run(None, {"image": graph_input(x, case.layout)})
        return float((out * weights).sum())

    x0, eps = rgb.astype(np.float64), 1e-4
    grad = np.zeros_like(x0)
    for index in np.ndindex(x0.shape):
        up, down = x0.copy(), x0.copy()
        up[index] += eps
        down[index] -= eps
        grad[index] = (loss(up) - loss(down)) / (2 * eps)
    return {
        "name": case.name,
        "input": rgb.ravel().tolist(),
        "output_shape": list(y.shape),
        "output": y.ravel().tolist(),
        "loss_weights": weights.ravel().tolist(),
        "gradient": grad.ravel().tolist(),
    }


def cases():
    c = Case("conv_pads_groups_dilation")
    x = c.conv("image", 3, 6, pads=[1, 2, 2, 1], group=3, dilations=[2, 2], strides=[2, 2])
    yield c, c.conv(x, 6, 4, k=1)

    c = Case("conv_same_upper_stride2")
    yield c, c.conv("image", 3, 5, strides=[2, 2], auto_pad="SAME_UPPER", bias=False)

    c = Case("conv_batchnorm_relu")
    x = c.conv("image", 3, 6)
    stats = [weight(6, scale=0.3) + 1, weight(6, scale=0.2), weight(6, scale=0.2), np.abs(weight(6)) + 0.5]
    x = c.node("BatchNormalization", [x] + [c.init(s.astype(np.float32)) for s in stats], epsilon=1e-3)
    yield c, c.node("Relu", [x])

    c = Case("batchnorm_alone")
    x = c.node("Relu", [c.conv("image", 3, 4)])
    stats = [weight(4, scale=0.3) + 1, weight(4, scale=0.2), weight(4, scale=0.2), np.abs(weight(4)) + 0.5]
    yield c, c.node("BatchNormalization", [x] + [c.init(s.astype(np.float32)) for s in stats])

    c = Case("clip_relu6")
    lo, hi = c.init(np.float32(0.0)), c.init(np.float32(6.0))
    yield c, c.node("Clip", [c.conv("image", 3, 4, k=3) , lo, hi])

    c = Case("clip_bounds_leaky")
    lo, hi = c.init(np.float32(-0.4)), c.init(np.float32(0.3))
    x = c.node("Clip", [c.conv("image", 3, 4), lo, hi])
    yield c, c.node("LeakyRelu", [c.conv(x, 4, 4)], alpha=0.2)

    c = Case("swish")
    x = c.conv("image", 3, 4)
    yield c, c.node("Mul", [x, c.node("Sigmoid", [x])])

    c = Case("hard_swish_and_sigmoid")
    x = c.node("HardSwish", [c.conv("image", 3, 4)])
    x = c.conv(x, 4, 4)
    x = c.node("Mul", [x, c.node("HardSigmoid", [x], alpha=1.0 / 6.0, beta=0.5)])
    yield c, c.node("HardSigmoid", [c.conv(x, 4, 3)], alpha=0.3, beta=0.4)

    c = Case("max_pool")
    yield c, c.node("MaxPool", [c.conv("image", 3, 4)], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])

    c = Case("average_pools")
    x = c.node("AveragePool", [c.conv("image", 3, 4)], kernel_shape=[3, 3], pads=[1, 1, 1, 1], count_include_pad=1)
    yield c, c.node("AveragePool", [x], kernel_shape=[2, 2], strides=[2, 2])

    c = Case("global_pool_gemm_softmax")
    x = c.node("GlobalAveragePool", [c.node("Relu", [c.conv("image", 3, 6)])])
    x = c.node("Flatten", [x])
    x = c.node("Gemm", [x, c.init(weight(5, 6)), c.init(weight(5, scale=0.1))], transB=1, alpha=0.7, beta=1.5)
    yield c, c.node("Softmax", [x], axis=1)

    c = Case("matmul_add_head")
    x = c.node("ReduceMean", [c.conv("image", 3, 6)], axes=[2, 3], keepdims=0)
    x = c.node("MatMul", [x, c.init(weight(6, 5))])
    yield c, c.node("Add", [x, c.init(weight(5, scale=0.1))])

    c = Case("residual_add_concat")
    a = c.node("Relu", [c.conv("image", 3, 4)])
    b = c.conv(a, 4, 4, pads=[1, 1, 1, 1])
    s = c.node("Add", [a, b])
    yield c, c.node("Relu", [c.node("Concat", [a, s], axis=1)])

    c = Case("squeeze_excitation")
    x = c.node("Relu", [c.conv("image", 3, 6)])
    g = c.node("GlobalAveragePool", [x])
    g = c.node("Relu", [c.conv(g, 6, 3, k=1)])
    g = c.node("Sigmoid", [c.conv(g, 3, 6, k=1)])
    yield c, c.node("Mul", [x, g])

    c = Case("pad_then_conv")
    p = c.node("Pad", ["image", c.init(np.array([0, 0, 1, 2, 0, 0, 2, 1], np.int64))], mode="constant")
    yield c, c.conv(p, 3, 4, strides=[2, 2])

    c = Case("flatten_spatial_head")
    x = c.node("Relu", [c.conv("image", 3, 4, strides=[2, 2], pads=[1, 1, 1, 1])])
    x = c.node("Flatten", [x], axis=1)
    yield c, c.node("Gemm", [x, c.init(weight(64, 3, scale=0.2))])

    c = Case("reshape_by_shape_arithmetic")
    x = c.node("GlobalAveragePool", [c.conv("image", 3, 6)])
    n = c.node("Gather", [c.node("Shape", [x]), c.init(np.array(0, np.int64))], axis=0)
    n = c.node("Unsqueeze", [n, c.init(np.array([0], np.int64))])
    shape = c.node("Concat", [n, c.init(np.array([-1], np.int64))], axis=0)
    x = c.node("Reshape", [x, shape])
    yield c, c.node("Gemm", [x, c.init(weight(6, 4))])

    c = Case("identity_dropout")
    x = c.node("Dropout", [c.conv("image", 3, 4)])
    yield c, c.node("Relu", [c.node("Identity", [x])])

    c = Case("grey_input", layout="grey")
    yield c, c.node("Relu", [c.conv("image", 1, 4)])

    c = Case("nhwc_input", layout="nhwc")
    x = c.node("Transpose", ["image"], perm=[0, 3, 1, 2])
    yield c, c.node("Relu", [c.conv(x, 3, 4)])


def refused():
    """Files filterlens must refuse, by name: each breaks one rule."""
    out = OUT / "refused"
    out.mkdir(exist_ok=True)

    def save(name, model):
        onnx.save(model, out / f"{name}.onnx")

    def image_model(nodes, inits, dims=(1, 3, SIDE, SIDE), extra_inputs=(), output="out"):
        inputs = [helper.make_tensor_value_info("image", TensorProto.FLOAT, list(dims))] + list(extra_inputs)
        outputs = [helper.make_tensor_value_info(output, TensorProto.FLOAT, None)]
        graph = helper.make_graph(nodes, "refused", inputs, outputs, inits)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
        model.ir_version = 8
        return model

    w = numpy_helper.from_array(weight(4, 3, 3, 3), "w")
    conv = helper.make_node("Conv", ["image", "w"], ["c"], name="conv")
    relu = helper.make_node("Relu", ["c"], ["r"], name="relu")
    # Stops after relu: the conv and its ReLU can still be shown.
    save("unsupported_midway", image_model([conv, relu, helper.make_node("Tanh", ["r"], ["t"], name="tanh"),
                                             helper.make_node("Relu", ["t"], ["out"], name="after")], [w]))
    save("unsupported_first", image_model([helper.make_node("Tanh", ["image"], ["out"], name="tanh")], []))
    second = helper.make_tensor_value_info("mask", TensorProto.FLOAT, [1, 3, SIDE, SIDE])
    save("two_inputs", image_model([helper.make_node("Add", ["image", "mask"], ["out"])], [], extra_inputs=[second]))
    save("tokens", image_model([helper.make_node("Relu", ["image"], ["out"])], [], dims=(1, 77)))
    save("four_channels", image_model([helper.make_node("Relu", ["image"], ["out"])], [], dims=(1, 4, SIDE, SIDE)))
    save("not_square", image_model([helper.make_node("Relu", ["image"], ["out"])], [], dims=(1, 3, SIDE, SIDE + 1)))
    external = TensorProto()
    external.CopyFrom(w)
    external.ClearField("raw_data")
    external.data_location = TensorProto.EXTERNAL
    for key, value in [("location", "conv-weights.bin"), ("offset", "0"), ("length", str(4 * 108))]:
        entry = external.external_data.add()
        entry.key, entry.value = key, value
    save("external_data", image_model([conv, helper.make_node("Relu", ["c"], ["out"])], [external]))
    # Declares 1.08 G values (4.3 GB) and holds none: refused from the declaration, before anything is allocated.
    huge = TensorProto(name="w", data_type=TensorProto.FLOAT, dims=[4, 3, 300000, 300])
    save("declared_too_large", image_model([conv, helper.make_node("Relu", ["c"], ["out"])], [huge]))
    short = TensorProto()
    short.CopyFrom(w)
    short.raw_data = short.raw_data[:100]
    save("tensor_short_of_data", image_model([conv, helper.make_node("Relu", ["c"], ["out"])], [short]))
    whole = (OUT / "conv_batchnorm_relu.onnx").read_bytes()
    (out / "truncated.onnx").write_bytes(whole[: len(whole) // 2])
    (out / "not_onnx.onnx").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4)


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    records = [record(case, output) for case, output in cases()]
    (OUT / "ops.json").write_text(json.dumps({"onnx": onnx.__version__, "opset": OPSET, "cases": records}) + "\n")
    refused()
    print(f"wrote {len(records)} cases to {OUT}")


if __name__ == "__main__":
    main()
