"""Lowering rules for the integer transformer ops: ``qcc.isoftmax``, ``qcc.igelu``,
``qcc.ilayernorm``."""

from __future__ import annotations

import numpy as np

from qcc.ir import DType, Node

from .kernels import Epilogue, IGelu, ILayerNorm, ISoftmax, imm
from .program import Lowerer
from .shapes import broadcast_strides, fold_dims


def _epi(node: Node, i_m: int, dt: DType) -> Epilogue:
    return Epilogue(dt, imm(node.inputs[i_m].data.ravel()[:1]),
                    imm(node.inputs[i_m + 1].data.ravel()[:1]),
                    zero_point=int(node.attr("y_zp", 0)), lo=int(node.attr("act_min", dt.min)),
                    hi=int(node.attr("act_max", dt.max)))


def isoftmax(lw: Lowerer, node: Node) -> None:
    x = node.inputs[0]
    mask = node.inputs[3] if len(node.inputs) > 3 else None
    out = node.outputs[0]
    rank = x.type.rank
    axis = int(node.attr("axis", -1))
    inner, other = 1, axis % rank != rank - 1
    if other:
        if not lw.target.softmax_any_axis or mask is not None:
            raise lw.err(f"{node.op} node '{node.name}' normalizes axis {axis}; the kernel "
                         f"handles the last axis only"
                         f"{' (with a mask)' if lw.target.softmax_any_axis else ''}")
        inner = int(np.prod(x.shape[axis % rank + 1:], dtype=np.int64))
    n = int(x.shape[axis])
    rows = x.shape[:-1]
    ml, ms = 0, [0, 0, 0]
    if other:
        d = [1, int(np.prod(x.shape[:axis % rank], dtype=np.int64)), inner]
    elif mask is not None:
        bs = broadcast_strides(mask.shape, x.shape)
        ml = bs[-1]
        d, (ms,) = fold_dims(lw, rows, [bs[:-1]], 3, f"isoftmax node '{node.name}' mask")
    else:
        d, _ = fold_dims(lw, rows, [], 3, f"isoftmax node '{node.name}'")
    a = node.attrs
    ib = a.get("variant", "ibert") == "ibert"
    epi = _epi(node, 1, out.dtype)
    epi.zero_point, epi.lo, epi.hi = 0, out.dtype.min, out.dtype.max
    k = ISoftmax(node=node, x=lw.read(x), mask=lw.read(mask), y=out, dims=d, ms=ms, ml=ml,
                 length=n, variant="ibert" if ib else "shift", frac_bits=int(a["frac_bits"]),
                 d_clip=int(a["d_clip"]), z_max=int(a["z_max"]),
                 q_ln2=int(a.get("q_ln2", 1)) if ib else 1, q_b=int(a.get("q_b", 0)),
                 q_c=int(a.get("q_c", 0)), e_shift=int(a.get("e_shift", 0)), epi=epi,
                 inner=inner)
    lw.call(k, scratch=4 * n)


def igelu(lw: Lowerer, node: Node) -> None:
    x, out = node.inputs[0], node.outputs[0]
    a = node.attrs
    k = IGelu(node=node, x=lw.read(x), y=out, count=x.type.numel, x_zp=int(a.get("x_zp", 0)),
              q_l=int(a["q_l"]), c1=int(a["c1"]), f_shift=int(a["f_shift"]),
              x_max=int(a["x_max"]), epi=_epi(node, 1, out.dtype))
    lw.call(k, inplace_of=x if x.dtype == out.dtype else None)


def ilayernorm(lw: Lowerer, node: Node) -> None:
    x, g, b = node.inputs[:3]
    out = node.outputs[0]
    rank = x.type.rank
    axis = int(node.attr("axis", -1)) % rank
    n = int(np.prod(x.shape[axis:], dtype=np.int64))
    eps_q, eps_frac = int(node.attr("eps_q", 0)), int(node.attr("eps_frac", 32))
    k = ILayerNorm(node=node, x=lw.read(x), gamma=lw.const(g), beta=lw.const(b), y=out,
                   rows=x.type.numel // max(n, 1), length=n, x_zp=int(node.attr("x_zp", 0)),
                   cl=(n - 1).bit_length(),
                   sh_eps=-((30 + eps_frac - eps_q.bit_length()) // 2), eps_frac=eps_frac,
                   eps_q=eps_q, epi=_epi(node, 3, out.dtype))
    lw.call(k)


RULES = {"qcc.isoftmax": isoftmax, "qcc.igelu": igelu, "qcc.ilayernorm": ilayernorm}
