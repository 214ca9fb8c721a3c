"""Dense kernels of the C backend vs the interpreter, bit for bit (random shapes/params)."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qcc.ir import DType

from c_testlib import Cases, check_exact, needs_gcc

pytestmark = needs_gcc
SETTINGS = settings(max_examples=6, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])


def _epilogue(cs: Cases, m: int, per_channel: bool, relu: bool) -> tuple[list, dict]:
    mm, ss = cs.mult(m if per_channel else 1, 1e-5, 3e-2)
    y_zp = int(cs.rng.integers(-128, 128))
    attrs = {"x_zp": int(cs.rng.integers(-128, 128)), "y_zp": y_zp}
    if relu:
        attrs.update(act_min=y_zp, act_max=127)
    return [mm, ss], attrs


def add_conv(cs: Cases, n, c, hw, m, k, s, d, pads, group, per_channel=True, relu=False,
             acc_out=False):
    x = cs.rand_input((n, c, hw[0], hw[1]))
    w = cs.const(cs.rng.integers(-128, 128, (m, c // group, k[0], k[1])).astype(np.int8))
    b = cs.const(cs.rng.integers(-20000, 20000, m).astype(np.int32))
    ms, attrs = _epilogue(cs, m, per_channel, relu)
    attrs.update(strides=list(s), dilations=list(d), pads=list(pads), group=group)
    if acc_out:
        ms = []
        attrs = {k2: v for k2, v in attrs.items() if k2 not in ("y_zp", "act_min", "act_max")}
    return cs.op("qcc.conv2d", [x, w, b] + ms, attrs)


@st.composite
def conv_cases(draw):
    g = draw(st.sampled_from([1, 1, 2, "dw"]))
    cg = draw(st.integers(1, 5))
    c = cg * (1 if g == "dw" else g)
    group = c if g == "dw" else g
    m = c * draw(st.integers(1, 2)) if g == "dw" else group * draw(st.integers(1, 6))
    k = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    s = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    d = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    pads = [draw(st.integers(0, 2)) for _ in range(4)]
    hw = tuple(draw(st.integers(max(1, d[i] * (k[i] - 1) + 1 - pads[i] - pads[i + 2]), 9))
               for i in range(2))
    return dict(n=draw(st.integers(1, 2)), c=c, hw=hw, m=m, k=k, s=s, d=d, pads=pads,
                group=group, per_channel=draw(st.booleans()), relu=draw(st.booleans()))


@SETTINGS
@given(cases=st.lists(conv_cases(), min_size=3, max_size=5), seed=st.integers(0, 2**16))
def test_conv2d_random_exact(tmp_path, cases, seed):
    cs = Cases(seed)
    for p in cases:
        add_conv(cs, **p)
    check_exact(cs, tmp_path / "c")


def test_conv2d_paths_and_acc_output(tmp_path):
    """im2col (3x3), depthwise and pointwise (direct) paths, several im2col blocks, int32 out."""
    cs = Cases(1)
    add_conv(cs, 1, 8, (20, 20), 8, (1, 1), (1, 1), (1, 1), [0, 0, 0, 0], 1)  # pointwise, direct
    add_conv(cs, 1, 6, (9, 7), 6, (3, 3), (1, 1), (1, 1), [1, 1, 1, 1], 6)     # depthwise
    add_conv(cs, 2, 64, (12, 12), 5, (3, 3), (1, 1), (1, 1), [1, 0, 2, 1], 1)  # K=576: blocks
    add_conv(cs, 1, 3, (5, 5), 4, (3, 3), (2, 2), (1, 1), [1, 1, 1, 1], 1, acc_out=True)
    manifest = check_exact(cs, tmp_path / "c")
    assert [r["kernel"] for r in manifest["layers"]] == ["qcc_conv2d"] * 4


@SETTINGS
@given(n=st.integers(1, 3), k=st.integers(1, 40), nn=st.integers(1, 20),
       lead=st.sampled_from([(), (2,), (2, 3)]), seed=st.integers(0, 2**16),
       per_channel=st.booleans())
def test_linear_random_exact(tmp_path, n, k, nn, lead, seed, per_channel):
    cs = Cases(seed)
    x = cs.rand_input(lead + (n, k))
    w = cs.const(cs.rng.integers(-128, 128, (k, nn)).astype(np.int8))
    b = cs.const(cs.rng.integers(-5000, 5000, nn).astype(np.int32))
    ms, attrs = _epilogue(cs, nn, per_channel, False)
    cs.op("qcc.linear", [x, w, b] + ms, attrs)
    cs.op("qcc.linear", [x, w], {"x_zp": attrs["x_zp"]})  # int32 accumulators, no bias
    check_exact(cs, tmp_path / "c")


@SETTINGS
@given(m=st.integers(1, 6), k=st.integers(1, 30), nn=st.integers(1, 9),
       batches=st.sampled_from([((), ()), ((2,), (2,)), ((3, 1), (1, 2)), ((2,), ()), ((), (4,))]),
       seed=st.integers(0, 2**16))
def test_matmul_broadcast_exact(tmp_path, m, k, nn, batches, seed):
    cs = Cases(seed)
    a = cs.rand_input(batches[0] + (m, k))
    b = cs.rand_input(batches[1] + (k, nn))
    ms, attrs = _epilogue(cs, 1, False, False)
    attrs = {"a_zp": attrs["x_zp"], "b_zp": int(cs.rng.integers(-128, 128)), "y_zp": attrs["y_zp"]}
    cs.op("qcc.matmul", [a, b] + ms, attrs)
    check_exact(cs, tmp_path / "c")


@SETTINGS
@given(c=st.integers(1, 4), mg=st.integers(1, 3), group=st.sampled_from([1, 2]),
       hw=st.tuples(st.integers(1, 5), st.integers(1, 5)), k=st.integers(1, 3),
       s=st.integers(1, 3), p=st.integers(0, 1), seed=st.integers(0, 2**16))
def test_conv_transpose_random_exact(tmp_path, c, mg, group, hw, k, s, p, seed):
    cs = Cases(seed)
    c *= group
    x = cs.rand_input((1, c, hw[0], hw[1]))
    w = cs.const(cs.rng.integers(-127, 128, (c, mg, k, k)).astype(np.int8))
    b = cs.const(cs.rng.integers(-3000, 3000, mg * group).astype(np.int32))
    ms, attrs = _epilogue(cs, mg * group, True, False)
    oh = (hw[0] - 1) * s + k - 2 * p
    if oh < 1 or (hw[1] - 1) * s + k - 2 * p < 1:
        p = 0
    attrs.update(strides=[s, s], pads=[p, p, p, p], group=group, output_padding=[s - 1, 0])
    cs.op("qcc.conv_transpose2d", [x, w, b] + ms, attrs)
    check_exact(cs, tmp_path / "c")


def _gmult(cs: Cases, m: int, k: int, gsz: int, gsh: int):
    ng = -(-k // gsz)
    return cs.const(cs.rng.integers(0, (1 << gsh) + 1, (m, ng)).astype(np.int32))


@SETTINGS
@given(k=st.integers(1, 70), nn=st.integers(1, 12), gsz=st.sampled_from([1, 4, 16, 32]),
       gsh=st.integers(8, 20), bits=st.sampled_from([4, 2]), seed=st.integers(0, 2**16),
       out=st.sampled_from(["i8", "i16"]))
def test_per_group_linear_and_conv_exact(tmp_path, k, nn, gsz, gsh, bits, seed, out):
    """Per-group int4/int2 weights (docs/integer_ops.md "Per-group"): linear and conv
    (general, depthwise, pointwise: all take the grouped im2col path)."""
    cs = Cases(seed)
    lim = (1 << (bits - 1)) - 1
    dt = DType.int4 if bits == 4 else DType.int2
    x = cs.rand_input((3, k))
    w = cs.const(cs.rng.integers(-lim - 1, lim + 1, (k, nn)).astype(np.int8), dt)
    b = cs.const(cs.rng.integers(-3000, 3000, nn).astype(np.int32))
    (mm, ss), attrs = _epilogue(cs, nn, True, False)
    attrs.update(group_size=gsz, group_shift=gsh, dtype=out)
    if out == "i16":
        attrs["y_zp"] = int(attrs["y_zp"]) * 100
    cs.op("qcc.linear", [x, w, b, mm, ss, _gmult(cs, nn, k, gsz, gsh)], attrs)
    cs.op("qcc.linear", [x, w, None, None, None, _gmult(cs, nn, k, gsz, gsh)],
          {"x_zp": 1, "group_size": gsz, "group_shift": gsh})
    for c, m, kk, group in ((3, 4, 3, 1), (4, 4, 3, 4), (6, 5, 1, 1)):
        xc = cs.rand_input((1, c, 6, 5))
        wc = cs.const(cs.rng.integers(-lim - 1, lim + 1, (m, c // group, kk, kk)).astype(np.int8), dt)
        (mc, sc), ac = _epilogue(cs, m, True, True)
        ac.update(pads=[1, 1, 1, 1] if kk == 3 else [0, 0, 0, 0], group=group, group_size=gsz,
                  group_shift=gsh)
        cs.op("qcc.conv2d", [xc, wc, None, mc, sc, _gmult(cs, m, c // group * kk * kk, gsz, gsh)], ac)
        plain = {a: v for a, v in ac.items() if a not in ("group_size", "group_shift")}
        cs.op("qcc.conv2d", [xc, wc, None, mc, sc], plain)  # packed weights, no groups
    cs.op("qcc.linear", [x, w, b, mm, ss], {"x_zp": 2, "y_zp": 1})
    check_exact(cs, tmp_path / "c")


@given(bits=st.sampled_from([4, 2]), r=st.integers(1, 5), k=st.integers(1, 19), seed=st.integers(0, 99))
def test_pack_rows_layout(bits, r, k, seed):
    """int4/int2 rows take ceil(K*bits/8) bytes; field t sits at bits (t % per)*bits of byte t//per."""
    from qcc.lower.rules_nn import pack_rows

    lim = 1 << (bits - 1)
    w = np.random.default_rng(seed).integers(-lim, lim, (r, k))
    p = pack_rows(w, bits).view(np.uint8).astype(np.int64)
    per = 8 // bits
    assert p.shape == (r, -(-k // per))
    t = np.arange(k)
    v = (p[:, t // per] >> ((t % per) * bits)) & ((1 << bits) - 1)
    assert np.array_equal(v - ((v >> (bits - 1)) << bits), w)
