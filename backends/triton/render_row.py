"""Renderers of the row kernel families (global_avgpool, reduce, argmax, isoftmax,
ilayernorm): a ``qcc.lower`` call -> one ``row`` launch, one program per row, rows and
elements addressed through offset tables computed here from the call's fields."""

from __future__ import annotations

import numpy as np

from qcc.lower import kernels as K

from .calls import epilogue
from .calls_elem import row_call
from .render import TORCH_DTYPES
from .render_dense import act, epi_args


def _epi(e: K.Epilogue):
    a = epi_args(e)
    return epilogue(a["m"], a["s"], a["out"], a.get("y_zp", 0), a.get("lo"), a.get("hi"))


def _rows(n_rows: int, length: int):
    """Tables of ``n_rows`` contiguous rows of ``length`` elements."""
    return np.arange(n_rows, dtype=np.int64) * length, np.arange(length, dtype=np.int64)


def _index(dims, strides) -> np.ndarray:
    """``sum_k i_k * strides[k]`` over the grid ``dims`` (C order)."""
    idx = np.zeros(tuple(int(d) for d in dims), np.int64)
    for ax, (d, s) in enumerate(zip(dims, strides)):
        shape = [1] * len(dims)
        shape[ax] = int(d)
        idx = idx + np.arange(int(d), dtype=np.int64).reshape(shape) * int(s)
    return idx


def global_avgpool(kp, i: int, k: K.GlobalAvgPool) -> list:
    e, con, par = _epi(k.epi)
    call = row_call(f"global_avgpool_{i}", "sum", *_rows(k.planes, k.size),
                    TORCH_DTYPES[k.y.dtype], con, dict(par, za=k.x_zp), e)
    call.tensors = {"x": act(k.x), "c": act(k.y)}
    return [call]


def reduce(kp, i: int, k: K.Reduce) -> list:
    """Rows: the kept positions in output order; elements: the reduced dims (``ys == 0``)."""
    dims = [int(d) for d in k.dims]
    xs = [1] * len(dims)
    for ax in range(len(dims) - 2, -1, -1):
        xs[ax] = xs[ax + 1] * dims[ax + 1]
    red = [ax for ax, s in enumerate(k.ys) if s == 0 and dims[ax] > 1]
    keep = [ax for ax in range(len(dims)) if ax not in red]
    roff = _index([dims[a] for a in keep], [xs[a] for a in keep]).reshape(-1)
    eoff = _index([dims[a] for a in red], [xs[a] for a in red]).reshape(-1)
    out = TORCH_DTYPES[k.y.dtype]
    if k.op == "mean":
        e, con, par = _epi(k.epi)
        call = row_call(f"reduce_{i}", "sum", roff, eoff, out, con, dict(par, za=k.x_zp), e)
    else:
        call = row_call(f"reduce_{i}", k.op, roff, eoff, out)
    call.tensors = {"x": act(k.x), "c": act(k.y)}
    return [call]


def argmax(kp, i: int, k: K.ArgMax) -> list:
    roff = (np.arange(k.outer, dtype=np.int64)[:, None] * (k.n * k.inner)
            + np.arange(k.inner, dtype=np.int64)[None, :]).reshape(-1)
    op = "argmin" if k.is_min else "argmax"
    call = row_call(f"{op}_{i}", op, roff, np.arange(k.n, dtype=np.int64) * k.inner, "int64",
                    last=bool(k.select_last))
    call.tensors = {"x": act(k.x), "c": act(k.y)}
    return [call]


def isoftmax(kp, i: int, k: K.ISoftmax) -> list:
    n_rows = int(np.prod(k.dims, dtype=np.int64))
    cfg = dict(variant=k.variant, z_max=k.z_max, frac=k.frac_bits, mask=k.mask is not None)
    if k.variant == "ibert":
        cfg.update(q_ln2=k.q_ln2, q_b=k.q_b, q_c=k.q_c, e_shift=k.e_shift)
    consts = {"m": np.asarray(k.epi.mult.data, np.int32),
              "s": np.asarray(k.epi.shift.data, np.int32)}
    params = {"P1": k.d_clip}
    if k.mask is not None:
        consts["koff"] = _index(k.dims, k.ms).reshape(-1)
        params["P5"] = k.ml
    r = np.arange(n_rows, dtype=np.int64)  # row (o, i): elements (o * length + j) * inner + i
    roff = (r // k.inner) * (k.length * k.inner) + r % k.inner
    call = row_call(f"isoftmax_{i}", "isoftmax", roff,
                    np.arange(k.length, dtype=np.int64) * k.inner, "uint8", consts, params, **cfg)
    if "koff" in call.consts:
        call.consts["koff"] = np.asarray(call.consts["koff"], np.int32)
    call.tensors = {"x": act(k.x), "c": act(k.y)}
    if k.mask is not None:
        call.tensors["k"] = act(k.mask)
    return [call]


def ilayernorm(kp, i: int, k: K.ILayerNorm) -> list:
    e, con, par = _epi(k.epi)
    con.update(g=np.asarray(k.gamma.data, np.int32), bias=np.asarray(k.beta.data, np.int32))
    params = dict(par, za=k.x_zp, P1=k.cl, P2=k.sh_eps, P3=k.eps_frac, P4=k.eps_q)
    call = row_call(f"ilayernorm_{i}", "ilayernorm", *_rows(k.rows, k.length),
                    TORCH_DTYPES[k.epi.out_dtype], con, params, e)
    call.tensors = {"x": act(k.x), "c": act(k.y)}
    return [call]


RENDER = {"global_avgpool": global_avgpool, "reduce": reduce, "argmax": argmax,
          "isoftmax": isoftmax, "ilayernorm": ilayernorm}
