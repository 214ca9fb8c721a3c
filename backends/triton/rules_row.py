"""Lowering rules of the row kernels: reductions (mean with requantization, max, min,
arg-max/min, global pools), integer softmax (with masks) and integer LayerNorm."""

from __future__ import annotations

import numpy as np

from qcc.errors import LoweringError
from qcc.ir import DType, Node

from .calls_elem import row_call
from .program import Lowerer, rule
from .rules_dense import epi
from .rules_elem import tdt
from .render import TL_TYPES


def _axes(lw: Lowerer, node: Node, rank: int):
    axes = node.attr("axes", None)
    if axes is None and len(node.inputs) > 1 and node.inputs[1] is not None:
        axes = lw.const_data(node.inputs[1])
        if axes is None:
            raise LoweringError(f"target triton: {node.op} node '{node.name}' needs constant axes")
        axes = [int(a) for a in np.asarray(axes).ravel()]
        if not axes and int(node.attr("noop_with_empty_axes", 0)):
            raise LoweringError(f"target triton: {node.op} node '{node.name}' reduces nothing")
    if axes is None or len(axes) == 0:
        return tuple(range(rank))
    return tuple(sorted({int(a) % rank for a in axes}))


def _epi_cfg(e) -> tuple:
    from .calls import epilogue

    return epilogue(e["m"], e["s"], e["out"], e.get("y_zp", 0), e.get("lo"), e.get("hi"))


@rule("qcc.global_avgpool", "qcc.reduce_mean")
def mean(lw: Lowerer, node: Node) -> None:
    x, out = node.inputs[0], node.outputs[0]
    axes = tuple(range(2, x.type.rank)) if node.op == "qcc.global_avgpool" else \
        _axes(lw, node, x.type.rank)
    ecfg, con, par = _epi_cfg(epi(lw, node, 1))
    call = row_call(lw.kname("mean"), "sum", x.shape, axes, tdt(out), con,
                    dict(par, za=int(node.attr("x_zp", 0))), ecfg)
    lw.step(node, call, {"x": x}, out)


@rule("onnx.ReduceMax", "onnx.ReduceMin", "onnx.GlobalMaxPool")
def reduce_minmax(lw: Lowerer, node: Node) -> None:
    x, out = node.inputs[0], node.outputs[0]
    axes = tuple(range(2, x.type.rank)) if node.op == "onnx.GlobalMaxPool" else \
        _axes(lw, node, x.type.rank)
    op = "min" if node.op == "onnx.ReduceMin" else "max"
    lw.step(node, row_call(lw.kname(op), op, x.shape, axes, tdt(out)), {"x": x}, out)


@rule("onnx.ArgMax", "onnx.ArgMin")
def argmax(lw: Lowerer, node: Node) -> None:
    x, out = node.inputs[0], node.outputs[0]
    axis = int(node.attr("axis", 0)) % x.type.rank
    op = "argmax" if node.op == "onnx.ArgMax" else "argmin"
    call = row_call(lw.kname(op), op, x.shape, (axis,), "int64",
                    last=bool(int(node.attr("select_last_index", 0))))
    lw.step(node, call, {"x": x}, out)


@rule("qcc.isoftmax")
def isoftmax(lw: Lowerer, node: Node) -> None:
    x, out = node.inputs[0], node.outputs[0]
    mask = node.inputs[3] if len(node.inputs) > 3 else None
    rank = x.type.rank
    if int(node.attr("axis", -1)) % rank != rank - 1:
        raise LoweringError(f"target triton: isoftmax node '{node.name}' normalizes axis "
                            f"{node.attr('axis')}; the row kernel takes the last axis")
    a = node.attrs
    variant = a.get("variant", "ibert")
    cfg = dict(variant=variant, z_max=int(a["z_max"]), frac=int(a["frac_bits"]),
               mask=mask is not None)
    if variant == "ibert":
        cfg.update(q_ln2=int(a["q_ln2"]), q_b=int(a["q_b"]), q_c=int(a["q_c"]),
                   e_shift=int(a["e_shift"]))
    consts = {"m": lw.const_data(node.inputs[1]).astype(np.int32),
              "s": lw.const_data(node.inputs[2]).astype(np.int32)}
    params = {"P1": int(a["d_clip"])}
    reads = {"x": x}
    if mask is not None:
        ms = (1,) * (rank - mask.type.rank) + tuple(mask.shape)
        koff = np.broadcast_to(np.arange(mask.type.numel).reshape(ms), x.shape)
        consts["koff"] = np.ascontiguousarray(koff[..., 0]).reshape(-1).astype(np.int32)
        params["P5"] = 1 if ms[-1] > 1 else 0
        reads["k"] = mask
    call = row_call(lw.kname("isoftmax"), "isoftmax", x.shape, (rank - 1,), "uint8", consts,
                    params, **cfg)
    lw.step(node, call, reads, out)


@rule("qcc.ilayernorm")
def ilayernorm(lw: Lowerer, node: Node) -> None:
    x, out = node.inputs[0], node.outputs[0]
    rank = x.type.rank
    axes = tuple(range(int(node.attr("axis", -1)) % rank, rank))
    c = int(np.prod([x.shape[k] for k in axes], dtype=np.int64))
    e = epi(lw, node, 3)
    ecfg, con, par = _epi_cfg(e)
    eps_q, eps_frac = int(node.attr("eps_q", 0)), int(node.attr("eps_frac", 32))
    params = dict(par, za=int(node.attr("x_zp", 0)), P1=(c - 1).bit_length(),
                  P2=-((30 + eps_frac - eps_q.bit_length()) // 2), P3=eps_frac, P4=eps_q)
    con.update(g=lw.const_data(node.inputs[1]).reshape(-1).astype(np.int32),
               bias=lw.const_data(node.inputs[2]).reshape(-1).astype(np.int32))
    call = row_call(lw.kname("layernorm"), "ilayernorm", x.shape, axes, e["out"], con, params,
                    ecfg)
    lw.step(node, call, {"x": x}, out)


_ = (DType, TL_TYPES)
