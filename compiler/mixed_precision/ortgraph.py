"""Run a fused float graph with onnxruntime, chosen weights fed as inputs.

The sensitivity measurement evaluates the same graph many times with one
layer's weights replaced.  ``fused.*`` ops are custom nodes to onnxruntime,
so :func:`ort_model` rewrites each into standard ONNX ops with the same
float semantics (docs/fused_ops.md) and turns the chosen weight constants
into graph inputs: one session serves every (layer, width) evaluation.
Anything it cannot express raises ``NotImplementedError``; the caller then
falls back to the qcc interpreter.
"""

from __future__ import annotations

import math

import numpy as np
import onnx
from onnx import helper, numpy_helper

from qcc.frontend.onnx_export import to_onnx
from qcc.ir import Graph

_F32_MAX = float(np.finfo(np.float32).max)


class _Emitter:
    def __init__(self, prefix: str):
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []
        self.prefix = prefix
        self.k = 0

    def name(self, what: str) -> str:
        self.k += 1
        return f"{self.prefix}__{what}{self.k}"

    def const(self, value: float) -> str:
        n = self.name("c")
        self.inits.append(numpy_helper.from_array(np.array(value, np.float32), n))
        return n

    def node(self, op: str, ins: list[str], out: str = "", **attrs) -> str:
        out = out or self.name(op.lower())
        self.nodes.append(helper.make_node(op, ins, [out], **attrs))
        return out


def _activation(e: _Emitter, x: str, attrs: dict, out: str) -> None:
    act = str(attrs.get("activation", "none") or "none")
    if act == "none":
        e.node("Identity", [x], out)
    elif act == "relu":
        e.node("Relu", [x], out)
    elif act in ("relu6", "clip"):
        lo = 0.0 if act == "relu6" else max(float(attrs.get("min", -math.inf)), -_F32_MAX)
        hi = 6.0 if act == "relu6" else min(float(attrs.get("max", math.inf)), _F32_MAX)
        e.node("Clip", [x, e.const(lo), e.const(hi)], out)
    elif act == "leaky_relu":
        e.node("LeakyRelu", [x], out, alpha=float(attrs.get("alpha", 0.01)))
    elif act == "hardswish":
        e.node("HardSwish", [x], out)
    elif act == "hardsigmoid":
        e.node("HardSigmoid", [x], out, alpha=float(attrs.get("alpha", 0.2)),
               beta=float(attrs.get("beta", 0.5)))
    else:
        raise NotImplementedError(f"activation {act}")


_CONV_ATTRS = ("strides", "pads", "dilations", "group", "auto_pad", "kernel_shape",
               "output_padding", "output_shape")


def _gelu(e: _Emitter, x: str, approx: str, out: str) -> None:
    if approx == "tanh":
        x3 = e.node("Mul", [e.node("Mul", [x, x]), x])
        inner = e.node("Add", [x, e.node("Mul", [x3, e.const(0.044715)])])
        t = e.node("Tanh", [e.node("Mul", [inner, e.const(math.sqrt(2 / math.pi))])])
    else:
        t = e.node("Erf", [e.node("Mul", [x, e.const(1 / math.sqrt(2))])])
    half = e.node("Mul", [x, e.const(0.5)])
    e.node("Mul", [half, e.node("Add", [t, e.const(1.0)])], out)


def _rewrite(n: onnx.NodeProto, opset: int) -> _Emitter:
    attrs = {a.name: helper.get_attribute_value(a) for a in n.attribute}
    attrs = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in attrs.items()}
    e = _Emitter(n.name or n.output[0])
    ins, out = list(n.input), n.output[0]
    if n.op_type in ("conv", "conv_transpose"):
        op = "Conv" if n.op_type == "conv" else "ConvTranspose"
        ca = {k: v for k, v in attrs.items() if k in _CONV_ATTRS}
        y = e.node(op, [i for i in ins if i], **ca)
        _activation(e, y, attrs, out)
    elif n.op_type == "linear":
        y = e.node("MatMul", ins[:2])
        if len(ins) > 2 and ins[2]:
            y = e.node("Add", [y, ins[2]])
        _activation(e, y, attrs, out)
    elif n.op_type == "gelu":
        _gelu(e, ins[0], str(attrs.get("approximate", "none")), out)
    elif n.op_type == "silu":
        e.node("Mul", [ins[0], e.node("Sigmoid", [ins[0]])], out)
    elif n.op_type in ("hardswish", "hardsigmoid"):
        _activation(e, ins[0], {"activation": n.op_type, **attrs}, out)
    elif n.op_type == "layernorm" and opset >= 17:
        e.node("LayerNormalization", [i for i in ins if i], out, axis=int(attrs.get("axis", -1)),
               epsilon=float(attrs.get("epsilon", 1e-5)))
    else:
        raise NotImplementedError(f"{n.domain}.{n.op_type}")
    return e


def ort_model(graph: Graph, weight_inputs: list[str]) -> onnx.ModelProto:
    """ONNX model of ``graph`` runnable by onnxruntime, with the constants named
    in ``weight_inputs`` as extra graph inputs."""
    model = to_onnx(graph)
    g = model.graph
    new_nodes, extra_inits = [], []
    for n in g.node:
        if n.domain in ("", "ai.onnx"):
            new_nodes.append(n)
            continue
        if n.domain != "fused":
            raise NotImplementedError(f"{n.domain}.{n.op_type}")
        e = _rewrite(n, graph.opset)
        new_nodes.extend(e.nodes)
        extra_inits.extend(e.inits)
    del g.node[:]
    g.node.extend(new_nodes)
    g.initializer.extend(extra_inits)
    wanted = set(weight_inputs)
    keep = [t for t in g.initializer if t.name not in wanted]
    moved = [t for t in g.initializer if t.name in wanted]
    del g.initializer[:]
    g.initializer.extend(keep)
    for t in moved:
        g.input.append(helper.make_tensor_value_info(t.name, t.data_type, list(t.dims)))
    del model.opset_import[:]
    model.opset_import.extend([helper.make_opsetid("", graph.opset)])
    return model


class OrtEvaluator:
    """``run(feeds, weights)`` -> graph outputs, ``weights`` replacing constants."""

    def __init__(self, graph: Graph, weight_names: list[str]):
        import onnxruntime as ort

        self.defaults = {k: graph.constants[k].data for k in weight_names}
        model = ort_model(graph, weight_names)
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 2
        opts.inter_op_num_threads = 1
        opts.log_severity_level = 4
        self.sess = ort.InferenceSession(model.SerializeToString(), opts,
                                         providers=["CPUExecutionProvider"])
        self.outputs = [v.name for v in graph.outputs]

    def run(self, feeds: dict, weights: dict) -> list[np.ndarray]:
        f = dict(feeds)
        f.update(self.defaults)
        f.update(weights)
        return self.sess.run(self.outputs, f)


class InterpEvaluator:
    """The same interface on the qcc interpreter (swaps constant data in place)."""

    def __init__(self, graph: Graph, weight_names: list[str]):
        from qcc.interp import Interpreter

        self.graph = graph
        self.it = Interpreter(graph)
        self.outputs = [v.name for v in graph.outputs]

    def run(self, feeds: dict, weights: dict) -> list[np.ndarray]:
        saved = {k: self.graph.constants[k].data for k in weights}
        try:
            for k, w in weights.items():
                self.graph.constants[k].data = w
            res = self.it.run(feeds, validate=False)
        finally:
            for k, w in saved.items():
                self.graph.constants[k].data = w
        return [res[k] for k in self.outputs]


def make_evaluator(graph: Graph, weight_names: list[str], engine: str = "auto"):
    if engine != "interpreter":
        try:
            return OrtEvaluator(graph, weight_names)
        except Exception:  # noqa: BLE001 - anything ORT cannot take runs on the interpreter
            if engine == "onnxruntime":
                raise
    return InterpEvaluator(graph, weight_names)
