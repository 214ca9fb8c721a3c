"""Shared state of the quantize pass, used by every rule.

The quantize pass walks the float graph in topological order and builds a
new integer graph.  ``QState`` keeps two maps from old (float) values to new
values: ``qmap`` (the quantized int8 version) and ``fmap`` (a float version in
the new graph).  Rules (in ``rules_*.py``, listed in ``registry.py``) lower
one node; ``q()`` and ``f()`` convert lazily, inserting
``qcc.quantize``/``qcc.dequantize`` where a value crosses the boundary.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np

from qcc import arith
from qcc.errors import CalibrationError, LoweringError
from qcc.ir import DType, Graph, Node, QParams, TensorType, Value
from qcc.ops import lookup
from qcc.passmanager import typed_options
from qcc.quant_scheme import (WDTYPE, act_qparams, check_lowbit_options, floored_channels,
                              group_weight_qparams, weight_qparams)

def check_finite(w: np.ndarray, name: str) -> None:
    """Weights with Inf or NaN have no integer form: refuse, naming the tensor."""
    if w.dtype.kind == "f" and not np.all(np.isfinite(w)):
        bad = "NaN" if np.isnan(w).any() else "Inf"
        raise LoweringError(f"weight '{name}' holds {bad} values; qcc cannot quantize a "
                            f"non-finite weight")


QRule = Callable[["QState", Node], bool]  # lowers one node; False declines (registry.py)


def check_group_size(graph: Graph, group_size) -> None:
    """``group_size`` must be smaller than the reduction size of some conv/linear layer."""
    if not group_size:
        return
    ks = {}
    for n in graph.nodes:
        w = n.inputs[1] if n.op in ("fused.conv", "fused.linear", "onnx.MatMul", "onnx.Conv") \
            and len(n.inputs) > 1 and n.inputs[1] is not None else None
        if w is not None and w.is_const and w.type.rank in (2, 4):
            ks[n.name] = w.shape[0] if w.type.rank == 2 else int(np.prod(w.shape[1:]))
    if ks and int(group_size) > max(ks.values()):
        name = max(ks, key=ks.get)
        raise LoweringError(f"--group-size {group_size} is larger than the reduction size K of "
                            f"every layer (largest: K = {ks[name]} in '{name}'); use a group size "
                            f"<= {ks[name]}")


GELU_VARIANTS = ("auto", "lut", "ibert")
SOFTMAX_VARIANTS = {"ibert": "ibert", "shift": "shiftmax", "shiftmax": "shiftmax", "ivit": "shiftmax"}


@dataclass(frozen=True)
class QuantizeOptions:
    """The quantize pass's options (``--weight-bits``, ``--group-size``, ...)."""

    weight_bits: str = "8"             # 8 | 4 | 2 | mixed (mixed: widths from assign-bits)
    group_size: Optional[int] = None   # per-group weights along the reduction axis
    keep_8bit: tuple = ()              # globs on node or weight names pinned to 8 bits
    allow_float: tuple = ()            # op types or node names kept in float on purpose
    softmax: str = "ibert"             # ibert | shift (I-ViT shiftmax)
    gelu: str = "auto"                 # auto | lut (exact int8 table) | ibert (int16 polynomial)
    residual_bits: int = 16            # transformer residual stream: 8 or 16
    layer_bits: Optional[dict] = None  # node name -> bits given by the caller (API)
    wide_concat: float = 8.0           # int16 output Concat when input scales differ this much (0: off)

    def __post_init__(self):
        fix = {"weight_bits": str(self.weight_bits or "8"),
               "keep_8bit": tuple(self.keep_8bit or ()), "allow_float": tuple(self.allow_float or ()),
               "softmax": str(self.softmax or "ibert").lower(),
               "gelu": str(self.gelu or "auto").lower(),
               "residual_bits": int(self.residual_bits or 16),
               "wide_concat": float(self.wide_concat if self.wide_concat is not None else 8.0)}
        for k, v in fix.items():
            object.__setattr__(self, k, v)
        if self.softmax not in SOFTMAX_VARIANTS:
            raise LoweringError(f"option softmax='{self.softmax}' is not 'ibert' or 'shift'")
        if self.gelu not in GELU_VARIANTS:
            raise LoweringError(f"option gelu='{self.gelu}' is not 'auto', 'lut' or 'ibert'")
        if self.residual_bits not in (8, 16):
            raise LoweringError(f"option residual_bits={self.residual_bits}: use 8 or 16")
        if not (self.wide_concat == 0 or self.wide_concat >= 1):
            raise LoweringError(f"option wide_concat={self.wide_concat}: use 0 (off) or a scale "
                                f"ratio >= 1")


class QState:
    def __init__(self, old: Graph, ranges: dict, allow_float: set[str], options: dict,
                 layer_bits: Optional[dict] = None):
        self.old = old
        self.g = Graph(old.name, old.opset)
        self.g.meta = dict(old.meta)
        self.ranges = ranges
        self.pinned: dict[str, QParams] = dict(old.meta.get("pinned_qparams") or {})
        self.pinned_w: dict[str, QParams] = dict(old.meta.get("pinned_weights") or {})
        self.allow_float = allow_float
        self.options = options  # the whole option dict (rules read ``opts``)
        self.opts: QuantizeOptions = typed_options(QuantizeOptions, options)
        self.layer_bits: dict = dict(layer_bits or {})  # node name -> weight bits (assign-bits)
        self.floored: dict[str, list[int]] = {}  # weight -> channels at the scale floor
        self.bias_fit: dict[str, list[int]] = {}  # weight -> channels scaled for their bias
        self.qmap: dict[int, Value] = {}
        self.fmap: dict[int, Value] = {}
        self.kept_float: list[str] = []
        self.failures: list[Node] = []
        self.why: dict[str, str] = {}  # node name -> why its rule declined (shown with failures)
        self.layers: list[dict] = []  # per-layer report (weights)
        self.zero_ranges: list[str] = []  # tensors whose calibrated range is zero
        self.wide_concats: list[dict] = []  # Concats given an int16 output (rules_concat.py)
        self.gelu_forms: dict[str, dict] = {}  # GELU -> the form gelu=auto chose and its errors
        self.stands_for: dict[str, Value] = {}  # integer value -> the old value it stands for
        check_lowbit_options(options)
        check_group_size(old, self.opts.group_size)
        for v in old.outputs:
            self.g._names.add(v.name)

    # -- qparams -------------------------------------------------------------
    def act_qp(self, v: Value) -> QParams:
        if v.name in self.pinned:
            return self.pinned[v.name]
        if v.is_const:
            d = v.data.astype(np.float64)
            if not np.all(np.isfinite(d)):
                users = ", ".join(f"{u.op_type} '{u.name}'" for u in v.users[:3])
                raise CalibrationError(f"constant '{v.name}' (used by {users}) holds non-finite "
                                       f"values; qcc has no int8 form for it (a -inf additive mask "
                                       f"is handled only right before a Softmax)")
            return act_qparams(d.min() if d.size else 0.0, d.max() if d.size else 0.0)
        r = self.ranges.get(v.name)
        if r is None:
            raise CalibrationError(f"no calibrated range for tensor '{v.name}' "
                                   f"(produced by {v.producer.op if v.producer else 'input'})")
        lo, hi = min(float(r[0]), 0.0), max(float(r[1]), 0.0)
        if not np.isfinite(lo) or not np.isfinite(hi):
            raise CalibrationError(f"calibrated range of tensor '{v.name}' is [{lo}, {hi}]: "
                                   f"the calibration data gives it non-finite values")
        if (hi - lo) / 255.0 < float(np.finfo(np.float32).tiny):
            return self._zero_range(v)
        return act_qparams(lo, hi)

    def _zero_range(self, v: Value) -> QParams:
        """A zero (or denormal) range: scale 1, zero point 0, as onnxruntime's
        quantize_static does, with a warning (the data never exercised the tensor)."""
        if v.name not in self.zero_ranges:
            self.zero_ranges.append(v.name)
            print(f"qcc: warning: calibration range of tensor '{v.name}' is zero; it is "
                  f"quantized with scale 1 (the calibration data never exercised it)",
                  file=sys.stderr)
        return QParams(scale=1.0, zero_point=0, bits=8)

    def range_of(self, name: str) -> Optional[tuple[float, float]]:
        r = self.ranges.get(name)
        return None if r is None else (float(r[0]), float(r[1]))

    # -- value conversion ------------------------------------------------------
    def is_q(self, v: Optional[Value]) -> bool:
        return v is not None and id(v) in self.qmap

    def const(self, v: Value) -> Value:
        """The constant ``v`` copied into the new graph (once)."""
        if id(v) not in self.fmap:
            self.fmap[id(v)] = self.g.add_const(v.name, v.data, v.dtype)
        return self.fmap[id(v)]

    def f(self, v: Optional[Value]) -> Optional[Value]:
        """Float (or unquantized integer) version of an old value in the new graph."""
        if v is None:
            return None
        if id(v) in self.fmap:
            return self.fmap[id(v)]
        if v.is_const:
            return self.const(v)
        if id(v) in self.qmap:
            qv = self.qmap[id(v)]
            q = qv.qparams
            n = self.emit("qcc.dequantize", [qv], {"scale": float(q.scale[0]),
                          "zero_point": int(q.zero_point[0])}, name=v.name + ".dq", out_name=v.name + ".f")
            self.fmap[id(v)] = n.outputs[0]
            return n.outputs[0]
        raise LoweringError(f"value '{v.name}' has no version in the integer graph")

    def q(self, v: Value, qp: Optional[QParams] = None) -> Value:
        """Quantized int8 version of an old value (inserting qcc.quantize if needed)."""
        if id(v) in self.qmap:
            return self.qmap[id(v)]
        qp = qp or self.act_qp(v)
        if v.is_const:
            data = arith.quantize(v.data, qp.scale[0], qp.zero_point[0]).astype(np.int8)
            nv = self.g.add_const(v.name + ".q", data, DType.int8, qparams=qp)
        else:
            src = self.f(v)
            n = self.emit("qcc.quantize", [src], {"scale": float(qp.scale[0]),
                          "zero_point": int(qp.zero_point[0]), "dtype": "i8"},
                          name=v.name + ".quant", out_name=v.name + ".q" if v is src else v.name)
            nv = n.outputs[0]
            nv.qparams = qp
        self.qmap[id(v)] = nv
        return nv

    def to_qparams(self, qv: Value, qp: QParams, name: str) -> Value:
        """``qv`` requantized to ``qp`` by a ``qcc.requant`` (itself when it already has
        them)."""
        if (float(qv.qparams.scale[0]) == float(qp.scale[0])
                and int(qv.qparams.zero_point[0]) == int(qp.zero_point[0])):
            return qv
        mult, shift = self.requant_consts(float(qv.qparams.scale[0]) / float(qp.scale[0]), name)
        n = self.emit("qcc.requant", [qv, mult, shift],
                      {"x_zp": int(qv.qparams.zero_point[0]), "y_zp": int(qp.zero_point[0]),
                       "act_min": qp.qmin, "act_max": qp.qmax}, name=name, out_name=name)
        n.outputs[0].qparams = qp
        return n.outputs[0]

    def set_q(self, old: Value, new: Value, qp: QParams) -> None:
        new.qparams = qp
        self.qmap[id(old)] = new

    # -- emission ----------------------------------------------------------------
    def emit(self, op: str, inputs: list, attrs: Optional[dict] = None, name: Optional[str] = None,
             out_name: Optional[str] = None, n_out: int = 1, out_names: Optional[list] = None) -> Node:
        """Add a node, typing its outputs with the registry's inference."""
        names = out_names or [out_name or name or op.split(".")[-1]] * n_out
        outs = [self.g.new_value(nm, TensorType(DType.float32, ())) for nm in names[:n_out]]
        node = self.g.add_node(op, inputs, outs, attrs or {}, name=name)
        for v, t in zip(outs, lookup(op).infer(node)):
            v.type = t
        return node

    def weight(self, w: np.ndarray, axis: int, name: str, bits: int = 8,
               source: Optional[str] = None) -> tuple[Value, QParams]:
        check_finite(w, source or name)
        pin = self.pinned_w.get(source) if source else None
        if pin is not None and bits == 8 and (pin.axis == axis or pin.scale.size == 1) \
                and not np.any(pin.zero_point):
            scale = np.broadcast_to(pin.scale, (w.shape[axis],)).astype(np.float64)
            shape = [1] * w.ndim
            shape[axis] = -1
            q = np.clip(np.rint(w / scale.reshape(shape)), -128, 127).astype(np.int8)
            qp = QParams(scale=scale, zero_point=np.zeros_like(scale, dtype=np.int64), bits=8, axis=axis)
        else:
            q, qp = weight_qparams(w, axis, bits)
            red = tuple(i for i in range(w.ndim) if i != axis)
            if red:
                low = floored_channels(np.max(np.abs(w.astype(np.float64)), axis=red), (1 << (bits - 1)) - 1)
                if low:
                    self.floored[name] = low
        return self.g.add_const(name, q, WDTYPE[bits], qparams=qp), qp

    def dense_weight(self, w: np.ndarray, axis: int, name: str, bits: int = 8,
                     source: Optional[str] = None, group_size: Optional[int] = None,
                     high_from: Optional[int] = None, floor: Optional[np.ndarray] = None):
        """Weight of a conv (``axis`` 0) or linear (``axis`` 1): per output channel, or
        per group along the reduction axis when ``group_size`` is set and smaller than
        the reduction size (else per channel, the same thing without gmult).  Returns
        ``(value, qparams, channel scale S, gmult value or None)``; the accumulator
        scale of output channel c is ``s_x * S[c]``; ``floor``: a least ``S`` per channel
        (per-group weights only, see ``group_weight_qparams``)."""
        red = w.shape[0] if axis == 1 else int(np.prod(w.shape[1:]))
        if high_from is None and (not group_size or group_size >= red):  # one group = per channel
            v, qp = self.weight(w, axis, name, bits, source)
            return v, qp, qp.scale, None
        gsz = int(group_size or red)
        check_finite(w, source or name)
        w2 = w.T if axis == 1 else w.reshape(w.shape[0], -1)
        q2, s_eff, big, gm = group_weight_qparams(w2, bits, gsz, high_from, floor=floor)
        q = q2.T if axis == 1 else q2.reshape(w.shape)
        dt = WDTYPE[bits] if high_from is None else DType.int8
        qp = QParams(scale=s_eff.reshape(-1), zero_point=np.zeros(s_eff.size, np.int64), bits=dt.bits,
                     axis=axis, group_size=gsz, group_axis=1 - axis if axis == 1 else 1)
        v = self.g.add_const(name, np.ascontiguousarray(q), dt, qparams=qp)
        return v, qp, big, self.g.add_const(name + ".gmult", gm)

    def _extreme_ranges(self, name: str) -> str:
        """The calibrated ranges of node ``name``'s activation tensors, most extreme first
        (the culprit of a rescale factor out of the dyadic range)."""
        node = next((n for n in self.old.nodes if n.name == name), None)
        seen, rows = set(), []
        for v in ([] if node is None else [*node.inputs, *node.outputs]):
            if v is None or v.is_const or v.name in seen or v.name not in self.ranges:
                continue
            seen.add(v.name)
            lo, hi = (float(t) for t in self.ranges[v.name][:2])
            rows.append((max(abs(lo), abs(hi)), v.name, lo, hi))
        if not rows:
            return "its input, weight or output ranges are extreme (check the calibration data)"
        big = max(rows)
        small = min(rows)
        tensors = [big] + ([small] if small[1] != big[1] and small[0] < 1e-30 else [])
        named = " and ".join(f"tensor '{t}' calibrated to [{lo:.3g}, {hi:.3g}]"
                             for _, t, lo, hi in tensors)
        return f"{named} (check the calibration data behind {'it' if len(tensors) == 1 else 'them'})"

    def requant_consts(self, r: np.ndarray, name: str) -> tuple[Value, Value]:
        try:
            m, s = arith.quantize_multiplier(np.atleast_1d(np.asarray(r, np.float64)))
        except LoweringError as e:
            raise LoweringError(f"node '{name}': {e}; {self._extreme_ranges(name)}") from None
        return (self.g.add_const(name + ".mult", np.asarray(m, np.int32).reshape(-1)),
                self.g.add_const(name + ".shift", np.asarray(s, np.int32).reshape(-1)))
