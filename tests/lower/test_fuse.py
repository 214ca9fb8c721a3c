"""Target-driven decisions of qcc.lower: residual adds folded into a GEMM-family epilogue
(``Target.fuse_residual``), no per-call scratch for targets that keep temporaries in
registers (``Target.tile_temporaries``), the RNN x-path form (``Target.rnn_xpath``).
Bit-exactness of the fused form is checked by the Triton backend's tests."""

from __future__ import annotations

import numpy as np
from test_lowering import G

from qcc.lower import Target, lower

FUSING = Target(name="t", fuse_residual=("conv2d", "linear", "matmul"))


def _add(gb, a, b, op="qcc.add", output=True):
    m = gb.const(np.array([1 << 29, 3 << 28], np.int32))
    s = gb.const(np.array([31], np.int32))
    return gb.op(op, [a, b, m, s], {"a_zp": 1, "b_zp": -2, "y_zp": 3}, output=output)


def _fam(kp):
    return [c.family for c in kp.calls]


def test_residual_add_is_folded_only_where_the_target_says():
    gb = G(1)
    x, r = gb.input((1, 4, 7, 7)), gb.input((1, 6, 5, 5))
    y = _add(gb, gb.conv(x, 6, 3), r)
    assert _fam(lower(gb.g, "m", Target(name="c"))) == ["conv2d", "binary"]
    kp = lower(gb.g, "m", FUSING)
    (conv,) = kp.calls
    res = conv.residual
    assert conv.y is y and res.r is r and res.op == "add" and res.node.op == "qcc.add"
    assert (res.m_y, res.m_r, res.shift, res.y_zp, res.r_zp, res.zero_point) == \
        (1 << 29, 3 << 28, 31, 1, -2, 3)
    assert ("residual.r", r, False) in conv.operands() and conv.out is y


def test_residual_is_not_folded_when_unsafe():
    gb = G(2)
    x, r = gb.input((1, 4, 7, 7)), gb.input((1, 6, 5, 5))
    c1 = gb.conv(x, 6, 3)
    _add(gb, c1, r)
    _add(gb, c1, r)                                   # c1 has a second reader
    c2 = gb.conv(x, 6, 3)
    _add(gb, r, c2, op="qcc.sub")                     # sub with the conv output on the right
    c3, c4 = gb.conv(x, 6, 3), gb.conv(x, 6, 3)
    _add(gb, c3, c4)                                  # folds into c4 (c3 is ready first) only
    kp = lower(gb.g, "m", FUSING)
    fused = [c for c in kp.calls if getattr(c, "residual", None) is not None]
    assert len(fused) == 1 and fused[0].residual.r is c3
    assert _fam(kp).count("binary") == 3


def test_tile_temporaries_and_sequence_xpath():
    gb = G(3)
    x = gb.input((1, 4, 6, 6))
    gb.conv(x, 8, 3, name_out=True)
    kp_c = lower(gb.g, "m", Target(name="c"))
    kp_t = lower(gb.g, "m", Target(name="t", tile_temporaries=True))
    assert kp_c.calls[0].scratch > 0 and kp_t.calls[0].scratch == 0
    assert kp_t.plan.arena <= kp_c.plan.arena
