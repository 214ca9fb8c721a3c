"""Integer IR -> QDQ ONNX (QuantizeLinear / float op / DequantizeLinear).

Each integer op becomes DequantizeLinear on its int8 inputs (weights
per-channel with their int8/int4 data, bias int32 at ``s_x * s_w``), the float
ONNX op it stands for, and QuantizeLinear with the output's scale and zero
point — the QDQ format onnxruntime's ``quantize_static`` writes, so users can
check qcc's quantization with their own tools.  onnxruntime's int8 kernels
round differently from qcc's dyadic requantization, so its outputs match
qcc's reference within about one LSB, not bit for bit.

Rules are registered per op in ``QDQ_RULES`` (families may add their own).
"""

from __future__ import annotations

from typing import Callable, Optional

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from qcc.errors import QccError
from qcc.frontend.onnx_export import _value_info
from qcc.ir import DType, Graph, Node, Value
from qcc.ops.onnx_ops import to_node_proto

QDQ_RULES: dict[str, Callable[["QdqExporter", Node], None]] = {}
MIN_OPSET = 13  # per-channel DequantizeLinear (axis)


def qdq_rule(*ops: str):
    def deco(fn):
        for op in ops:
            QDQ_RULES[op] = fn
        return fn
    return deco


class QdqExporter:
    def __init__(self, graph: Graph):
        if graph.opset < MIN_OPSET:
            raise QccError(f"QDQ export needs opset >= {MIN_OPSET} (per-channel DequantizeLinear); "
                           f"the model is opset {graph.opset}")
        self.g = graph
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []
        self._dq: dict[str, str] = {}
        self._n = 0
        # sub-8-bit weights exported below opset 21 (as INT8 or as float32 q * s):
        # initializer name -> weight value, for qdq_lowbit.upgrade_opset
        self.lowbit: dict[str, Value] = {}
        self.ms_domain = False  # int16 Q/DQ below opset 21 (wide concats): com.microsoft ops

    def qdq_domain(self, dt: DType) -> str:
        """The domain of a Quantize/DequantizeLinear of ``dt``: ONNX has int16 Q/DQ from
        opset 21; below it onnxruntime's com.microsoft Q/DQ (same semantics) carry them."""
        if dt is DType.int16 and self.g.opset < 21:
            self.ms_domain = True
            return "com.microsoft"
        return ""

    def name(self, base: str) -> str:
        self._n += 1
        return f"{base}__qdq{self._n}"

    def const(self, base: str, arr: np.ndarray) -> str:
        nm = self.name(base)
        self.inits.append(numpy_helper.from_array(np.ascontiguousarray(arr), nm))
        return nm

    def add(self, op: str, ins: list[str], outs: Optional[list[str]] = None, domain: str = "",
            **attrs) -> str:
        outs = outs or [self.name(op.lower())]
        self.nodes.append(helper.make_node(op, ins, outs, name=self.name(op), domain=domain or None,
                                           **attrs))
        return outs[0]

    # -- quantization boundaries -------------------------------------------------
    def dq(self, v: Value, scale=None, axis: Optional[int] = None) -> str:
        """Float version of an integer value (cached per value)."""
        if v.name in self._dq:
            return self._dq[v.name]
        qp = v.qparams
        if scale is None and qp is not None and qp.group_size is not None:
            from .qdq_lowbit import grouped_weight_dq

            self._dq[v.name] = grouped_weight_dq(self, v)
            return self._dq[v.name]
        if scale is None:
            if qp is None:
                raise QccError(f"QDQ export: value '{v.name}' has no quantization parameters")
            scale, zp, axis = qp.scale, qp.zero_point, qp.axis
        else:
            zp = np.zeros(np.size(scale), np.int64)
        per_ch = np.size(scale) > 1
        s = self.const(v.name + "_scale", np.asarray(scale, np.float32).reshape(-1) if per_ch
                       else np.float32(np.asarray(scale).reshape(-1)[0]))
        src = self.int_input(v)
        zdt = np.int32 if v.dtype is DType.int32 else v.dtype.np if v.dtype.bits >= 8 else np.int8
        zarr = np.asarray(zp, zdt).reshape(-1) if per_ch else np.asarray(np.asarray(zp).reshape(-1)[0], zdt)
        if v.is_const and v.dtype.bits < 8:  # int4 as INT4 from opset 21 (int2: INT8)
            from .qdq_lowbit import low_bit_tensor

            z = self.name(v.name + "_zp")
            self.inits.append(low_bit_tensor(z, zarr, v.dtype, self.g.opset))
        else:
            z = self.const(v.name + "_zp", zarr)
        attrs = {"axis": int(axis)} if per_ch and axis is not None else {}
        out = self.add("DequantizeLinear", [src, s, z], [self.name(v.name + "_f")],
                       domain=self.qdq_domain(v.dtype), **attrs)
        self._dq[v.name] = out
        return out

    def int_input(self, v: Value) -> str:
        if v.is_const and v.dtype.bits < 8:
            from .qdq_lowbit import low_bit_tensor

            nm = self.name(v.name)
            self.inits.append(low_bit_tensor(nm, v.data, v.dtype, self.g.opset))
            self.lowbit[nm] = v
            return nm
        return v.name

    def q(self, x: str, out: Value) -> None:
        qp = out.qparams
        s = self.const(out.name + "_scale", np.float32(qp.scale[0]))
        z = self.const(out.name + "_zp", np.asarray(int(qp.zero_point[0]), out.dtype.np))
        self.add("QuantizeLinear", [x, s, z], [out.name], domain=self.qdq_domain(out.dtype))

    def clamp(self, x: str, node: Node, out: Value) -> str:
        """Float Clip equivalent to the integer output clamp [act_min, act_max]."""
        qp = out.qparams
        lo, hi = int(node.attrs.get("act_min", out.dtype.min)), int(node.attrs.get("act_max", out.dtype.max))
        if lo <= out.dtype.min and hi >= out.dtype.max:
            return x
        s, zp = float(qp.scale[0]), int(qp.zero_point[0])
        mn = self.const(node.name + "_min", np.float32((lo - zp) * s))
        mx = self.const(node.name + "_max", np.float32((hi - zp) * s))
        return self.add("Clip", [x, mn, mx])

    def bias(self, node: Node, i: int, x: Value, w: Value) -> list[str]:
        b = node.inputs[i] if i < len(node.inputs) else None
        if b is None:
            return []
        sw = np.asarray(w.qparams.scale, np.float64)
        if w.qparams.group_size is not None:  # accumulator scale: the channel's largest group scale
            sw = sw.reshape(b.shape[0], -1).max(axis=1)
        return [self.dq(b, scale=float(x.qparams.scale[0]) * sw, axis=0)]

    # -- driver ----------------------------------------------------------------------
    def run(self) -> onnx.ModelProto:
        g = self.g
        for v in g.constants.values():
            if not (v.dtype.bits < 8 and v.dtype.is_int):
                self.inits.append(numpy_helper.from_array(np.ascontiguousarray(v.data).reshape(v.data.shape), v.name))
        for n in g.nodes:
            rule = QDQ_RULES.get(n.op)
            if rule is not None:
                rule(self, n)
            elif n.domain == "onnx":
                self.nodes.append(to_node_proto(n, g.opset))
            else:
                raise QccError(f"QDQ export: no rule for {n.op} node '{n.name}'")
        used = {i for nd in self.nodes for i in nd.input}
        inits = [t for t in self.inits if t.name in used or t.name in {v.name for v in g.outputs}]
        vis = [_value_info(v) for n in g.nodes for v in n.outputs if not g.is_output(v)]
        graph = helper.make_graph(self.nodes, g.name, [_value_info(v) for v in g.inputs],
                                  [_value_info(v) for v in g.outputs], inits, value_info=vis)
        ops = [helper.make_opsetid("", g.opset)] + ([helper.make_opsetid("com.microsoft", 1)]
                                                     if self.ms_domain else [])
        model = helper.make_model(graph, opset_imports=ops,
                                  producer_name="qcc")
        model.ir_version = min(model.ir_version, 10)
        if self.lowbit and g.opset < 21:
            from .qdq_lowbit import upgrade_opset

            model = upgrade_opset(model, self.lowbit)
        return model


def to_qdq(graph: Graph) -> onnx.ModelProto:
    from . import qdq_rnn, qdq_rules  # noqa: F401  (registers the rules)
    try:  # transformer ops (qcc.isoftmax/igelu/ilayernorm, wide intermediates)
        from . import qdq_transformer  # noqa: F401
    except ImportError:  # pragma: no cover
        pass

    return QdqExporter(graph).run()
