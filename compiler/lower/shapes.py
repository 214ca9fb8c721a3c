"""Shape helpers of the lowering rules: contiguous and broadcast strides, dimension folding."""

from __future__ import annotations

from .program import Lowerer


def contiguous_strides(shape) -> list[int]:
    out, acc = [], 1
    for d in reversed(shape):
        out.append(acc)
        acc *= int(d)
    return out[::-1]


def broadcast_strides(in_shape, out_shape) -> list[int]:
    pad = (1,) * (len(out_shape) - len(in_shape)) + tuple(in_shape)
    st = contiguous_strides(pad)
    return [0 if (p == 1 and o != 1) else s for p, o, s in zip(pad, out_shape, st)]


def fold_dims(lw: Lowerer, shape, strides: list, rank: int, what: str):
    """Drop size-1 dims, merge dims contiguous in every stride vector, pad to ``rank``."""
    dims, sv = [], [[] for _ in strides]
    for i, d in enumerate(shape):
        if d == 1:
            continue
        if dims and all(s[-1] == st[i] * d for s, st in zip(sv, strides)):
            dims[-1] *= int(d)
            for s, st in zip(sv, strides):
                s[-1] = st[i]
            continue
        dims.append(int(d))
        for s, st in zip(sv, strides):
            s.append(int(st[i]))
    if len(dims) > rank:
        raise lw.err(f"{what} needs {len(dims)} dimensions after folding; "
                     f"the kernel handles {rank}")
    padn = rank - len(dims)
    return [1] * padn + dims, [[0] * padn + s for s in sv]
