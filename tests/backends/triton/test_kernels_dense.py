"""Per-kernel tests of the int8 GEMM family against the reference interpreter (bit for
bit): linear (int8/int4/int2 weights, per-channel and per-group scales), conv as
implicit GEMM (grouped, depthwise, strides, dilations, pads), matmul with broadcast
batches (any number of broadcast levels: per-batch offset tables); random shapes that are not multiples of the tiles, edge multipliers and zero
points."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from tkit import dname, mults, run_call, run_op

from qcc.backends.triton.calls import conv_call, linear_call, matmul_call
from qcc.errors import LoweringError

SET = settings(max_examples=6, deadline=None, suppress_health_check=list(HealthCheck))
OUTS = {"i8": "int8", "u8": "uint8", "i16": "int16"}


def _act(rng, shape, uint: bool):
    lo, hi = (0, 256) if uint else (-128, 128)
    return rng.integers(lo, hi, size=shape).astype(np.uint8 if uint else np.int8)


def _epi_attrs(rng, out_key, n_ch, edge=True):
    m, s = mults(rng, n_ch, edge=edge)
    dt = {"i8": (-128, 127), "u8": (0, 255), "i16": (-32768, 32767)}[out_key]
    y_zp = int(rng.integers(dt[0], dt[1] + 1))
    lo = int(rng.integers(dt[0], y_zp + 1))
    return m, s, dict(dtype=out_key, y_zp=y_zp, act_min=lo, act_max=dt[1])


@SET
@given(seed=st.integers(0, 2**31), bits=st.sampled_from([8, 4, 2]), k=st.integers(1, 150),
       n=st.integers(1, 70), rows=st.integers(1, 40), uint=st.booleans(),
       form=st.sampled_from(["acc", "tensor", "channel"]), out=st.sampled_from(["i8", "u8", "i16"]),
       grp=st.sampled_from([0, 0, 8, 12, 32]))
def test_linear(seed, bits, k, n, rows, uint, form, out, grp):
    rng = np.random.default_rng(seed)
    lo_w, hi_w = {8: (-127, 128), 4: (-8, 8), 2: (-2, 2)}[bits]
    w = rng.integers(lo_w, hi_w, size=(k, n)).astype(np.int8)
    x = _act(rng, (rows, k), uint)
    zp = int(rng.choice([0, 255, 128, int(rng.integers(0, 256))])) if uint else \
        int(rng.choice([-128, 127, 0, int(rng.integers(-128, 128))]))
    bias = rng.integers(-20000, 20000, n).astype(np.int32)
    gm = None
    if grp and k > grp:
        gm = rng.integers(0, (1 << 16) + 1, size=(n, -(-k // grp))).astype(np.int32)
    attrs = dict(x_zp=zp)
    args = [x, w, bias]
    m = s = None
    if form != "acc":
        m, s, ea = _epi_attrs(rng, out, n if form == "channel" else 1, edge=True)
        attrs.update(ea)
        args += [m, s]
    if gm is not None:
        if form == "acc":
            args += [None, None]
        args.append(gm)
        attrs.update(group_size=grp, group_shift=16)
    wdt = {8: None, 4: "int4", 2: "int2"}[bits]
    from qcc.ir import DType
    ref = run_op("qcc.linear", args, attrs, consts=range(1, 6),
                 dtypes={1: getattr(DType, wdt)} if wdt else None)
    outn = "int32" if form == "acc" else OUTS[out]
    call = linear_call("lin", x.shape, dname(x), w, bits, bias, m, s, outn, x_zp=zp,
                       y_zp=attrs.get("y_zp", 0), lo=attrs.get("act_min"),
                       hi=attrs.get("act_max"), gmult=gm, gsz=grp)
    y = run_call(call, {"a": x}, ref.shape, outn)
    np.testing.assert_array_equal(y, ref)


@SET
@given(seed=st.integers(0, 2**31), kind=st.sampled_from(["plain", "grouped", "depthwise"]),
       ks=st.sampled_from([(1, 1), (3, 3), (2, 3), (5, 1)]), stride=st.integers(1, 2),
       dil=st.integers(1, 2), pad=st.integers(0, 2), uint=st.booleans(),
       bits=st.sampled_from([8, 8, 4]), per_ch=st.booleans())
def test_conv(seed, kind, ks, stride, dil, pad, uint, bits, per_ch):
    rng = np.random.default_rng(seed)
    g = {"plain": 1, "grouped": 2, "depthwise": 4}[kind]
    cin = {"plain": int(rng.integers(1, 9)), "grouped": 6, "depthwise": 4}[kind]
    cout = {"plain": int(rng.integers(1, 20)), "grouped": 4, "depthwise": 8}[kind]
    h, w_ = int(rng.integers(ks[0] * dil, 12)), int(rng.integers(ks[1] * dil, 11))
    x = _act(rng, (2, cin, h, w_), uint)
    lim = 8 if bits == 4 else 127
    wt = rng.integers(-lim, lim, size=(cout, cin // g) + ks).astype(np.int8)
    bias = rng.integers(-5000, 5000, cout).astype(np.int32)
    zp = int(rng.integers(0, 256) if uint else rng.integers(-128, 128))
    m, s, ea = _epi_attrs(rng, "i8", cout if per_ch else 1)
    pads = [pad, min(pad, 1), pad, 0]
    attrs = dict(ea, strides=[stride, stride], pads=pads, dilations=[dil, dil], group=g, x_zp=zp)
    from qcc.ir import DType
    ref = run_op("qcc.conv2d", [x, wt, bias, m, s], attrs, consts=range(1, 5),
                 dtypes={1: DType.int4} if bits == 4 else None)
    call = conv_call("cv", x.shape, dname(x), wt, bits, bias, m, s, "int8", (stride, stride),
                     pads, (dil, dil), g, x_zp=zp, y_zp=ea["y_zp"], lo=ea["act_min"],
                     hi=ea["act_max"])
    y = run_call(call, {"a": x}, ref.shape, "int8")
    np.testing.assert_array_equal(y, ref)


@SET
@given(seed=st.integers(0, 2**31), bshape=st.sampled_from([((), ()), ((3,), (3,)), ((2, 3), (3,)),
                                                           ((2, 1), (1, 3)), ((1,), (4,)),
                                                           ((2, 1, 3), (1, 4, 3))]),
       mk=st.tuples(st.integers(1, 20), st.integers(1, 80), st.integers(1, 20)),
       ua=st.booleans(), ub=st.booleans(), requant=st.booleans())
def test_matmul(seed, bshape, mk, ua, ub, requant):
    rng = np.random.default_rng(seed)
    mm, k, n = mk
    a = _act(rng, bshape[0] + (mm, k), ua)
    b = _act(rng, bshape[1] + (k, n), ub)
    za = int(rng.integers(0, 256) if ua else rng.integers(-128, 128))
    zb = int(rng.integers(0, 256) if ub else rng.integers(-128, 128))
    attrs = dict(a_zp=za, b_zp=zb)
    args = [a, b]
    m = s = None
    if requant:
        m, s, ea = _epi_attrs(rng, "i8", 1)
        attrs.update(ea)
        args += [m, s]
    ref = run_op("qcc.matmul", args, attrs, consts=(2, 3))
    outn = "int8" if requant else "int32"
    call = matmul_call("mm", a.shape, dname(a), b.shape, dname(b), m, s, outn, za, zb,
                       attrs.get("y_zp", 0), attrs.get("act_min"), attrs.get("act_max"))
    y = run_call(call, {"a": a, "b": b}, ref.shape, outn)
    np.testing.assert_array_equal(y, ref)


def test_int32_accumulator_extremes():
    """Accumulators near +-2^31 (K = 66 000 products of 255 * 127 and a bias) wrap the
    int32 partial sums nowhere and requantize with the largest multiplier exactly."""
    k = 66000
    x = np.full((2, k), 255, np.uint8)
    x[1] = 0
    w = np.full((k, 3), 127, np.int8)
    w[:, 1] = -127
    w[: k // 2, 2] = -127
    bias = np.array([-5000, 5000, 7], np.int32)
    m = np.array([(1 << 31) - 1], np.int32)
    s = np.array([31], np.int32)
    for args, outn, attrs in (([x, w, bias], "int32", dict(x_zp=0)),
                              ([x, w, bias, m, s], "int16", dict(x_zp=0, dtype="i16"))):
        ref = run_op("qcc.linear", args, attrs, consts=range(1, 5))
        call = linear_call("ext", x.shape, "uint8", w, 8, bias, *(args[3:] or [None, None]),
                           outn, x_zp=0)
        np.testing.assert_array_equal(run_call(call, {"a": x}, ref.shape, outn), ref)


def test_gpu_tile_limits_are_enforced():
    from qcc.backends.triton.render import kernel_source

    call = linear_call("lim", (4, 64), "int8", np.ones((64, 8), np.int8), 8, None, None, None,
                       "int32")
    for bad in (dict(BK=16), dict(BM=8), dict(BN=8), dict(BM=24)):
        with pytest.raises(LoweringError, match="tile|dot"):
            kernel_source("gemm", dict(call.cfg, **bad))
    with pytest.raises(LoweringError, match="K tile"):  # int4: two dots of BK/2 each
        kernel_source("gemm", dict(call.cfg, per=2, bits=4, BK=32))


@SET
@given(seed=st.integers(0, 2**31), ks=st.sampled_from([(1, 1), (3, 3), (2, 3)]),
       stride=st.integers(1, 3), dil=st.integers(1, 2), pad=st.integers(0, 2),
       group=st.sampled_from([1, 2]), uint=st.booleans(), opad=st.integers(0, 2))
def test_conv_transpose(seed, ks, stride, dil, pad, group, uint, opad):
    rng = np.random.default_rng(seed)
    cin, mg = 2 * group, int(rng.integers(1, 5))
    x = _act(rng, (1, cin, int(rng.integers(2, 6)), int(rng.integers(2, 6))), uint)
    wt = rng.integers(-127, 128, size=(cin, mg) + ks).astype(np.int8)
    bias = rng.integers(-5000, 5000, mg * group).astype(np.int32)
    zp = int(rng.integers(0, 256) if uint else rng.integers(-128, 128))
    m, s, ea = _epi_attrs(rng, "i8", mg * group)
    pads = [min(pad, ks[0] - 1), 0, min(pad, ks[0] - 1), min(pad, ks[1] - 1)]
    h, w_ = x.shape[2:]
    assume((h - 1) * stride + dil * (ks[0] - 1) + 1 > pads[0] + pads[2]
           and (w_ - 1) * stride + dil * (ks[1] - 1) + 1 > pads[1] + pads[3])
    attrs = dict(ea, strides=[stride, stride], pads=pads, dilations=[dil, dil], group=group,
                 x_zp=zp, output_padding=[min(opad, stride - 1), 0])
    ref = run_op("qcc.conv_transpose2d", [x, wt, bias, m, s], attrs, consts=range(1, 5))
    from qcc.backends.triton.calls import conv_transpose_call
    call = conv_transpose_call("ct", x.shape, dname(x), wt, 8, bias, m, s, "int8",
                               ref.shape[2:], (stride, stride), pads, (dil, dil), group, x_zp=zp,
                               y_zp=ea["y_zp"], lo=ea["act_min"], hi=ea["act_max"])
    np.testing.assert_array_equal(run_call(call, {"a": x}, ref.shape, "int8"), ref)


def test_gpu_autotune_configs_respect_the_limits():
    """On a GPU the GEMM kernels are autotuned; every configuration keeps the GPU limits
    (the interpreter uses the fixed one instead)."""
    from qcc.backends.triton.limits import MIN_DOT_K, MIN_DOT_MN
    from qcc.backends.triton.render import load_module, module_source

    call = linear_call("tune", (4, 64), "int8", np.ones((64, 8), np.int8), 4, None, None, None,
                       "int32")
    src = module_source([(call.family, call.cfg)])
    assert "@_tune(2)" in src
    mod = load_module(src)
    for per in (1, 2, 4):
        for cfg in mod._gemm_configs(per):
            kw = cfg.kwargs
            assert kw["BK"] // per >= MIN_DOT_K and min(kw["BM"], kw["BN"]) >= MIN_DOT_MN
            assert all(v & (v - 1) == 0 for v in kw.values())


@SET
@given(seed=st.integers(0, 2**31), ks=st.sampled_from([(3, 3), (5, 5), (1, 3)]),
       stride=st.integers(1, 2), dil=st.integers(1, 2), pad=st.integers(0, 2),
       form=st.sampled_from(["acc", "tensor", "channel"]), w4=st.booleans())
def test_depthwise_conv_direct_kernel(tmp_path_factory, seed, ks, stride, dil, pad, form, w4):
    """Depthwise convs (group = C = M) take the direct tap kernel through the backend."""
    from c_testlib import Cases
    from tkit import check_cases

    from qcc.ir import DType

    cs = Cases(seed)
    c = int(cs.rng.integers(1, 6))
    x = cs.rand_input((2, c, 11, 10))
    lim = 8 if w4 else 127
    w = cs.const(cs.rng.integers(-lim, lim, (c, 1) + ks).astype(np.int8), DType.int4 if w4 else None)
    args = [x, w, cs.const(cs.rng.integers(-3000, 3000, c).astype(np.int32))]
    if form != "acc":
        m, s = mults(cs.rng, c if form == "channel" else 1, edge=True)
        args += [cs.const(m), cs.const(s)]
    attrs = dict(strides=[stride, stride], pads=[pad, 0, min(pad, 1), pad],
                 dilations=[dil, dil], group=c, x_zp=int(cs.rng.integers(-128, 128)))
    cs.op("qcc.conv2d", args, attrs)
    check_cases(cs, tmp_path_factory.mktemp("dw"))


def test_residual_add_fused_into_the_gemm_epilogue(tmp_path):
    """qcc.add/sub of a conv/linear output (single reader) runs in that call's epilogue,
    bit-exact; an operand computed later, a second reader or a sub with the GEMM output
    on the right keep the separate kernel."""
    import json

    from c_testlib import Cases
    from tkit import check_cases

    from qcc import arith

    cs = Cases(5)
    x = cs.rand_input((2, 6, 5, 4))
    r = cs.rand_input((2, 8, 5, 4))

    def conv():
        m, s = mults(cs.rng, 8)
        w = cs.const(cs.rng.integers(-127, 128, (8, 6, 3, 3)).astype(np.int8))
        return cs.op("qcc.conv2d", [x, w, None, cs.const(m), cs.const(s)],
                     dict(pads=[1, 1, 1, 1], x_zp=3, y_zp=-2), output=False)

    def add(op, a, b, dtype="i8"):
        ms, s = arith.quantize_multipliers_shared(np.exp(cs.rng.uniform(-2, 1, 2)))
        return cs.op(op, [a, b, cs.const(ms.astype(np.int32)), cs.const(np.array([s], np.int32))],
                     dict(a_zp=-2, b_zp=int(cs.rng.integers(-128, 128)), y_zp=5, dtype=dtype))

    add("qcc.add", conv(), r)                      # fused (left)
    add("qcc.add", r, conv(), "i16")               # fused (right), int16 out
    add("qcc.sub", conv(), r)                      # fused
    add("qcc.sub", r, conv())                      # not fused: GEMM output on the right
    c1, c2 = conv(), conv()
    add("qcc.add", c1, c2)                         # fused into c2 only (c1 is ready first)
    c3 = conv()
    add("qcc.add", c3, r)
    cs.g.outputs.append(c3)                        # c3 is also an output: not fused
    check_cases(cs, tmp_path)
    man = json.loads((tmp_path / "tt" / "manifest.json").read_text())
    assert sum(1 for row in man["layers"] if row.get("fused")) == 4


def test_matmul_three_broadcast_levels_through_the_backend(tmp_path):
    """Batch dims broadcast in alternation (a over one, b over another, both over a third):
    more than two batch levels, each batch's operand offsets from the kernel program's tables;
    also the int32 accumulator form and uint8 operands."""
    from c_testlib import Cases
    from tkit import check_cases

    from qcc.ir import DType

    cs = Cases(8)
    a = cs.rand_input((2, 1, 3, 5, 7))
    b = cs.rand_input((1, 4, 3, 7, 6), DType.uint8)
    m, s = cs.mult(1, 1e-3, 0.1)
    cs.op("qcc.matmul", [a, b, m, s], {"a_zp": -3, "b_zp": 130, "y_zp": 4})
    cs.op("qcc.matmul", [cs.rand_input((3, 1, 2, 4)), cs.rand_input((1, 2, 4, 3))],
          {"a_zp": 5, "b_zp": -1})
    check_cases(cs, tmp_path)


def test_gpu_autotune_prunes_tiles_larger_than_the_problem(monkeypatch):
    """The autotuner's early prune keeps only tiles that fit the next power of two of
    M, N and K (never none), and QCC_TRITON_AUTOTUNE=0 keeps exactly one."""
    from qcc.backends.triton.render import load_module, module_source

    call = linear_call("prune", (4, 64), "int8", np.ones((64, 8), np.int8), 8, None, None, None,
                       "int32")
    mod = load_module(module_source([(call.family, call.cfg)]))
    cfgs = mod._gemm_configs(1)
    monkeypatch.delenv("QCC_TRITON_AUTOTUNE", raising=False)
    assert mod._prune(cfgs, {"M": 8192, "N": 4096, "K": 4096}) == cfgs
    small = mod._prune(cfgs, {"M": 1, "N": 64, "K": 576})
    assert small and all(c.kwargs["BM"] == 16 and c.kwargs["BN"] == 64 for c in small)
    assert all(c.kwargs["BK"] <= 1024 for c in small)
    mid = mod._prune(cfgs, {"M": 100, "N": 200, "K": 64})
    assert mid and all(c.kwargs["BM"] <= 128 and c.kwargs["BN"] <= 256 and c.kwargs["BK"] == 64
                       for c in mid)
    assert len(mod._prune(cfgs, {"M": 1, "N": 1, "K": 1})) >= 1
    monkeypatch.setenv("QCC_TRITON_AUTOTUNE", "0")
    assert len(mod._prune(cfgs, {"M": 8192, "N": 4096, "K": 4096})) == 1
