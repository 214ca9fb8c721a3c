"""One model per opset that runs every op of a list on a quantized Conv output, each
op at the given opset (the lowest that defines it, 11 for most): the "every op at
its lowest opset" sweep of issue 12.  Each op's result is its own graph output, so
one compile checks them all."""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

C = 4  # channels of the Conv output every op reads


def _i64(*v):
    return np.array(v, np.int64)


def _ops_11(n):
    """(name, builder) of ops defined by opset 11; ``n`` adds a node, returns its output."""
    return [
        ("maxpool", lambda: n("MaxPool", ["r"], kernel_shape=[2, 2], strides=[2, 2])),
        ("avgpool", lambda: n("AveragePool", ["y"], kernel_shape=[2, 2], strides=[2, 2])),
        ("gap", lambda: n("GlobalAveragePool", ["y"])),
        ("gmp", lambda: n("GlobalMaxPool", ["y"])),
        ("max", lambda: n("Max", ["y", "r"])),
        ("min", lambda: n("Min", ["y", "r"])),
        ("reducemax", lambda: n("ReduceMax", ["y"], axes=[1], keepdims=1)),
        ("reducemin", lambda: n("ReduceMin", ["y"], axes=[2, 3], keepdims=1)),
        ("reducemean", lambda: n("ReduceMean", ["y"], axes=[1], keepdims=1)),
        ("concat", lambda: n("Concat", ["y", "r"], axis=1)),
        ("reshape", lambda: n("Reshape", ["y", "shape"])),
        ("flatten", lambda: n("Flatten", ["y"], axis=1)),
        ("transpose", lambda: n("Transpose", ["y"], perm=[0, 2, 3, 1])),
        ("pad", lambda: n("Pad", ["y", "pads"])),
        ("slice", lambda: n("Slice", ["y", "starts", "ends", "axes"])),
        ("split", lambda: n("Split", ["y"], axis=1, split=[2, 2], n_out=2)),
        ("squeeze_unsqueeze", lambda: n("Squeeze", [n("Unsqueeze", ["y"], axes=[0])], axes=[0])),
        ("tile", lambda: n("Tile", ["y", "reps"])),
        ("depth_to_space", lambda: n("DepthToSpace", ["y"], blocksize=2)),
        ("space_to_depth", lambda: n("SpaceToDepth", ["y"], blocksize=2)),
        ("clip", lambda: n("Clip", ["y", "lo", "hi"])),
        ("relu", lambda: n("Relu", ["y"])),
        ("leakyrelu", lambda: n("LeakyRelu", ["y"], alpha=0.1)),
        ("sigmoid", lambda: n("Sigmoid", ["y"])),
        ("tanh", lambda: n("Tanh", ["y"])),
        ("hardsigmoid", lambda: n("HardSigmoid", ["y"])),
        ("softmax", lambda: n("Softmax", ["y"], axis=1)),
        ("add", lambda: n("Add", ["y", "r"])),
        ("mul", lambda: n("Mul", ["y", "r"])),
        ("sub", lambda: n("Sub", ["y", "r"])),
        ("resize", lambda: n("Resize", ["y", "roi", "scales"], mode="nearest")),
        ("upsample_linear", lambda: n("Resize", ["y", "roi", "scales"], mode="linear")),
        ("conv_transpose", lambda: n("ConvTranspose", ["y", "wt"], strides=[2, 2])),
        ("batchnorm", lambda: n("BatchNormalization", ["y", "g", "b", "m", "v"])),
        ("gemm", lambda: n("Gemm", [n("Flatten", ["y"], axis=1), "wg"], transB=1)),
        ("matmul", lambda: n("MatMul", ["y", "wm"])),
        ("gather", lambda: n("Gather", ["y", "idx"], axis=1)),
    ]


OPS_LATER = {  # opset -> ops first defined there (each also tested at its own opset)
    14: [("hardswish", lambda n: n("HardSwish", ["y"]))],
    17: [("layernorm", lambda n: n("LayerNormalization", ["y", "ln_g", "ln_b"], axis=-1))],
    20: [("gelu", lambda n: n("Gelu", ["y"]))],
}


def sweep_model(opset: int, seed: int = 0, hw: int = 8,
                unsigned: bool = False) -> tuple[onnx.ModelProto, list[str]]:
    """The model of ``opset``: the ops defined by opset 11 (``opset`` 11), or those that
    OPS_LATER lists as first defined at ``opset``.  ``unsigned``: the ops read
    Softmax/Sigmoid outputs (uint8 in the quantized graph) instead of Conv/Relu ones."""
    rng = np.random.default_rng(seed)
    nodes, count = [], [0]

    def n(op, ins, n_out=1, **attrs):
        count[0] += 1
        out = f"{op.lower()}_{count[0]}"
        extra = [f"{out}_{i}" for i in range(1, n_out)]
        nodes.append(helper.make_node(op, ins, [out] + extra, name=out, **attrs))
        return out

    f = lambda *s: rng.standard_normal(s).astype(np.float32)  # noqa: E731
    inits = {
        "w": f(C, 3, 3, 3), "bias": f(C), "shape": _i64(1, C, -1), "pads": _i64(0, 0, 1, 1, 0, 0, 1, 1),
        "starts": _i64(1, 0), "ends": _i64(3, 4), "axes": _i64(1, 2), "reps": _i64(1, 1, 2, 1),
        "lo": np.array(-0.5, np.float32), "hi": np.array(0.7, np.float32),
        "scales": np.array([1, 1, 2, 2], np.float32), "roi": np.zeros(0, np.float32), "wt": f(C, 2, 2, 2) * 0.5,
        "g": np.abs(f(C)) + 0.5, "b": f(C) * 0.1, "m": f(C) * 0.1, "v": np.abs(f(C)) + 0.5,
        "wg": f(5, C * hw * hw) * 0.1, "wm": f(hw, 3) * 0.3, "idx": _i64(0, 2),
        "ln_g": np.abs(f(hw)) + 0.5, "ln_b": f(hw) * 0.1,
    }
    if unsigned:  # every op reads the quantizer's uint8 tensors: Softmax and Sigmoid outputs
        nodes.append(helper.make_node("Conv", ["x", "w", "bias"], ["c"], pads=[1, 1, 1, 1], name="conv"))
        nodes.append(helper.make_node("Softmax", ["c"], ["y"], axis=1, name="softmax0"))
        nodes.append(helper.make_node("Sigmoid", ["c"], ["r"], name="sigmoid0"))
    else:
        nodes.append(helper.make_node("Conv", ["x", "w", "bias"], ["y"], pads=[1, 1, 1, 1], name="conv"))
        nodes.append(helper.make_node("Relu", ["y"], ["r"], name="relu0"))
    outs = []
    builders = _ops_11(n) if opset == 11 else [(nm, (lambda b=b: b(n))) for nm, b in OPS_LATER[opset]]
    names = []
    for name, build in builders:
        res = build()
        outs.append(helper.make_tensor_value_info(res, TensorProto.FLOAT, None))
        names.append(name)
    used = {i for nd in nodes for i in nd.input}
    g = helper.make_graph(nodes, f"sweep{opset}",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, hw, hw])], outs,
                          [numpy_helper.from_array(v, k) for k, v in inits.items() if k in used])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)], producer_name="qcc-tests")
    m.ir_version = 7
    return m, names
