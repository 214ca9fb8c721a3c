"""quantize: lower the calibrated float graph to integer ``qcc.*`` ops.

Walks the float graph (after cleanup and fusion) in topological order and
builds an integer graph: activations int8 per tensor (asymmetric, from the
calibrated ranges in ``graph.meta["ranges"]``), weights symmetric per
output channel, int32 bias, dyadic requantization (docs/arithmetic.md).
Lowering rules live in ``rules_*.py`` (one module per op family), listed
in ``registry.py``.  Nodes whose inputs are all still float (pre-processing
such as mask arithmetic) stay float; a node that receives quantized inputs but has no rule is an
error naming it, unless ``--allow-float`` keeps it in float on purpose
(its inputs are dequantized, its outputs quantized again where needed).
Graph outputs are dequantized and keep their names.
"""

from __future__ import annotations

from typing import Optional

from qcc.errors import LoweringError, PassError
from qcc.ir import Graph, Node
from qcc.passmanager import PassContext, register_pass

from ..assign_bits import LAYER_BITS
from .registry import RULES
from .state import QState, QuantizeOptions


def _copy_float(st: QState, node: Node) -> None:
    ins = [st.f(v) for v in node.inputs]
    n = st.g.add_node(node.op, ins, [st.g.new_value(v.name, v.type) for v in node.outputs],
                      dict(node.attrs), name=node.name)
    n.opset = node.opset
    for old, new in zip(node.outputs, n.outputs):
        st.fmap[id(old)] = new


def _allowed(st: QState, node: Node) -> bool:
    return node.op_type in st.allow_float or node.op in st.allow_float or node.name in st.allow_float


def lower(graph: Graph, ranges: dict, allow_float: set, options: dict,
          layer_bits: Optional[dict] = None) -> QState:
    st = QState(graph, ranges, allow_float, options, layer_bits)
    for v in graph.inputs:
        st.fmap[id(v)] = st.g.add_input(v.name, v.type)
    for v in graph.inputs:  # the integer region starts at the inputs: a first op with no
        if v.dtype.is_float and v.users and (v.name in ranges or v.name in st.pinned):
            st.q(v)  # rule is then reported, not silently left in float (dce drops unused)
    for node in graph.nodes:
        rule = RULES.get(node.op)
        if rule is not None and not _allowed(st, node) and rule(st, node):
            continue
        if not any(st.is_q(v) for v in node.inputs):
            _copy_float(st, node)
        elif _allowed(st, node):
            st.kept_float.append(node.name)
            _copy_float(st, node)
        else:
            st.failures.append(node)
            _copy_float(st, node)
    if st.failures:
        shown = ", ".join(f"{n.op_type} '{n.name}'" + (f" ({st.why[n.name]})" if n.name in st.why else "")
                          for n in st.failures[:12])
        more = f" and {len(st.failures) - 12} more" if len(st.failures) > 12 else ""
        kinds = ",".join(sorted({n.op_type for n in st.failures}))
        err = LoweringError(f"{len(st.failures)} node(s) cannot be lowered to integer arithmetic: "
                            f"{shown}{more}; keep them in float on purpose with --allow-float {kinds}")
        err.nodes = [n.name for n in st.failures]
        raise err
    for v in graph.outputs:
        fv = st.f(v)
        if fv.name != v.name and fv not in st.g.inputs:
            fv.name = v.name
        st.g.outputs.append(fv)
    return st


def provenance(old: Graph, st: QState) -> dict:
    """integer value name -> the float tensor it stands for and the node that made it
    (``qcc debug`` compares them; fusion keeps the names of the tensors it keeps)."""
    prov = {}
    for v in old.values():
        nv = st.qmap.get(id(v))
        if nv is not None and not nv.is_const and nv.name not in prov:
            v = st.stands_for.get(nv.name, v)
            p = v.producer
            prov[nv.name] = {"float": v.name, "node": p.name if p else v.name,
                             "op": p.op if p else "input"}
    return prov


@register_pass("quantize", "lower float ops to integer qcc.* ops (int8 activations, dyadic requant)",
               kind="quantize", options=QuantizeOptions)
def quantize(graph: Graph, ctx: PassContext) -> bool:
    ranges = graph.meta.get("ranges")
    if ranges is None and graph.meta.get("pinned_qparams"):
        ranges = {}  # a pre-quantized model: its own scales, no calibration
    if ranges is None:
        raise PassError("pass 'quantize' needs calibrated ranges: give calibration data with "
                        "--calib CALIB.npz (the 'calibrate' pass runs before it)")
    o = ctx.options_of(QuantizeOptions)
    allow = set(o.allow_float)
    layer_bits = ctx.analysis(LAYER_BITS, o.layer_bits)  # assign-bits, else the option
    st = lower(graph, ranges, allow, ctx.options, layer_bits)
    graph.meta["provenance"] = provenance(graph, st)
    g = st.g
    graph.inputs, graph.outputs, graph.nodes, graph.constants = g.inputs, g.outputs, g.nodes, g.constants
    graph.register_names()
    ctx.note("quantize", kept_float=st.kept_float, layers=st.layers, floored_channels=st.floored,
             bias_fit_channels=st.bias_fit,
             zero_range=st.zero_ranges, wide_concats=st.wide_concats, gelu_forms=st.gelu_forms)
    return True
