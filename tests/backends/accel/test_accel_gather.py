"""The convolution input gather (strided LOADs with on-the-fly padding, merged padding rows,
whole-tile loads) puts exactly the im2col rows of every weight block into the input buffer."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from qcc.backends.accel.funcsim import Machine
from qcc.backends.accel.hw import HwConfig
from qcc.backends.accel.layout import DramPlan, Region
from qcc.backends.accel.lower_gemm import conv_call, input_loads, prepare
from qcc.ir import DType, TensorType, Value

HW = HwConfig(rows=8, cols=8, inp_kib=16)


def _layer(h, w, c, m, k, s, p, zp):
    oh, ow = (h + 2 * p - k) // s + 1, (w + 2 * p - k) // s + 1
    x = Value("x", TensorType(DType.int8, (1, c, h, w)))
    wt = Value("w", TensorType(DType.int8, (m, c, k, k)), data=np.ones((m, c, k, k), np.int8))
    y = Value("y", TensorType(DType.int32, (1, m, oh, ow)))
    call = conv_call("c", x, wt.data, y, (s, s), (p, p), 1, zp)
    plan = DramPlan()
    plan.arena_size = h * w * c
    return prepare(call, plan, HW), oh, ow


@settings(max_examples=60, deadline=None)
@given(h=st.integers(1, 9), w=st.integers(1, 9), c=st.integers(1, 20), k=st.sampled_from([1, 2, 3, 5]),
       s=st.integers(1, 3), p=st.integers(0, 2), zp=st.integers(-128, 127), data=st.data())
def test_gather_equals_im2col(h, w, c, k, s, p, zp, data):
    if h + 2 * p < k or w + 2 * p < k:
        return
    ly, oh, ow = _layer(h, w, c, 8, k, s, p, zp)
    rng = np.random.default_rng(data.draw(st.integers(0, 1000)))
    x = rng.integers(-128, 128, (h, w, c)).astype(np.int8)
    xp = np.pad(x.astype(np.int64), ((p, p), (p, p), (0, 0)), constant_values=zp)
    th = data.draw(st.integers(1, oh))
    tw = data.draw(st.integers(1, ow))
    oh0 = data.draw(st.integers(0, oh - th))
    ow0 = data.draw(st.integers(0, ow - tw))
    xr = Region("x", 0, x.size, "i8", (1, c, h, w), h * w, c)
    d = HW.dim
    for kb, (u, v, cb) in enumerate(ly.kblocks):
        dram = np.zeros(x.size + 64, np.uint8)
        dram[:x.size] = x.reshape(-1).view(np.uint8)
        mach = Machine(HW, dram)
        mach.inp[:] = 99
        loads = input_loads(ly, xr, d, kb, 0, oh0, th, ow0, tw, 5)
        mach.run(loads)
        want = np.full((th * tw, d), zp, np.int64)
        for r in range(th):
            for q in range(tw):
                ih, iw = (oh0 + r) * s + u, (ow0 + q) * s + v
                cols = min(d, c - cb * d)
                want[r * tw + q, :cols] = xp[ih, iw, cb * d:cb * d + cols]
        assert np.array_equal(mach.inp[5:5 + th * tw], want), (kb, loads)
        assert (mach.inp[5 + th * tw:] == 99).all() and (mach.inp[:5] == 99).all()
