"""ISA v10.  STORE ``rwide``: the fused residual add (v8 ``radd``) with an int16 operand, two
int8 lanes per value (low byte first) in the operand rows, the channels past DIM/2 in the rows
``CONFIG RADD_ZP d`` above them: the residual stream of a transformer whose adds sum two int16
tensors.  CONFIG IM2COL ``d``: an im2col LOAD row is lanes ``d ..`` of a window wider than one
row, so the ``pim`` schedule covers 3-channel and 7x7 stems as several K blocks per position."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from qcc.backends.accel.check import check_bounds
from qcc.backends.accel.funcsim import Machine, SimError
from qcc.backends.accel.hw import HwConfig
from qcc.backends.accel.isa import ISA_VERSION, decode, encode, format_instr, make, parse_instr
from qcc.backends.accel.timing import simulate
from qcc.interp import run as ref_run
from qcc.ir import DType

from accel_testlib import HW, G, compile_and_compare
from test_accel_radd import _program

D = HW.dim
I32 = (-(1 << 31), (1 << 31) - 1)
I16 = (-(1 << 15), (1 << 15) - 1)


def _ref_add16(y, o, my, zy, mo, zo, s, zp, lo, hi):
    """The reference interpreter's qcc.add/qcc.sub on int16 tensors (``mo < 0``: a sub)."""
    g = G()
    a, b = g.input(y.shape, DType.int16), g.input(o.shape, DType.int16)
    op = "qcc.sub" if mo < 0 else "qcc.add"
    g.op(op, [a, b, g.const(np.array([my, abs(mo)], np.int32)), g.const(np.array([s], np.int32))],
         {"a_zp": zy, "b_zp": zo, "y_zp": zp, "act_min": lo, "act_max": hi, "dtype": "i16"},
         output=True)
    out = ref_run(g.g, {a.name: y.astype(np.int16), b.name: o.astype(np.int16)})
    return out[g.g.outputs[0].name].astype(np.int64)


def _wide_rows(o: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """An int16 operand [rows, cols] as the two sets of int8 operand rows of ``rwide``: the
    little-endian bytes of channels < D/2, then of the others."""
    h = D // 2
    b = np.ascontiguousarray(o.astype(np.int16)).view(np.int8).reshape(o.shape[0], -1)
    lo, hi = np.zeros((o.shape[0], D), np.int8), np.zeros((o.shape[0], D), np.int8)
    lo[:, :2 * min(h, o.shape[1])] = b[:, :2 * h]
    rest = b[:, 2 * h:]
    hi[:, :rest.shape[1]] = rest
    return lo, hi


@settings(max_examples=60, deadline=None)
@given(my=st.integers(0, I32[1]), mo=st.integers(-I32[1], I32[1]), s=st.integers(1, 62),
       zy=st.integers(*I16), zo=st.integers(*I16), zp=st.integers(*I16),
       cols=st.integers(1, D), seed=st.integers(0, 2 ** 16), edge=st.booleans())
def test_rwide_epilogue_is_the_reference_int16_add(my, mo, s, zy, zo, zp, cols, seed, edge):
    """STORE ``radd`` + ``rwide`` equals the interpreter's int16 add of the epilogue's int16
    value and the int16 operand, at the int32 edges of the multipliers, every shift, both
    halves of the lanes and the int16 extremes of the operand."""
    rng = np.random.default_rng(seed)
    m = Machine(HW, np.zeros(1024, np.uint8))
    rows, base, hoff = 5, 40, 300
    m.acc[3:3 + rows] = rng.integers(-2 ** 28, 2 ** 28, (rows, D))
    o = rng.integers(I16[0], I16[1] + 1, (rows, cols))
    if edge:
        o.flat[::2] = I16[0]
        o.flat[1::3] = I16[1]
    lo, hi = _wide_rows(o)
    m.inp[base + 3:base + 3 + rows] = lo
    m.inp[base + hoff + 3:base + hoff + 3 + rows] = hi
    m.clamp = (zy, *I16)
    m.run([make("CONFIG", reg="SCALE", a=1 << 30, b=0, c=30 + 4),
           make("CONFIG", reg="RADD", a=my, b=mo, c=s, d=base),
           make("CONFIG", reg="RADD_ZP", a=zy, b=zo, d=hoff),
           make("CONFIG", reg="RADD_CLAMP", a=zp, b=I16[0], d=I16[1]),
           make("STORE", dtype="i16", mode="tensor", sram=3, dram=0, rows=rows, cols=cols,
                stride=2 * cols, radd=1, rwide=1)])
    y = np.clip(((m.acc[3:3 + rows, :cols] + (1 << 3)) >> 4) + zy, *I16)
    want = _ref_add16(y, o, my, zy, mo, zo, s, zp, *I16)
    got = m.dram[:rows * cols * 2].view(np.int16).reshape(rows, cols).astype(np.int64)
    assert np.array_equal(got, want)


def test_rwide_field_registers_and_errors():
    word = make("STORE", dtype="i8", mode="raw", sram=65535, dram=2 ** 32 - 1, rows=1023, cols=255,
                stride=2 ** 22 - 1, param=4095, inp=1, lut=1, table=63, outer=1, radd=1, rwide=1)
    assert decode(encode(word)).key() == word.key() == parse_instr(format_instr(word)).key()
    assert int.from_bytes(encode(word), "little") >> 122 == 1      # rwide is bit 122, the last
    v9 = dict(word.f, rwide=0)
    assert int.from_bytes(encode(make("STORE", **v9)), "little") >> 122 == 0
    assert decode(encode(make("STORE", **v9))).f["rwide"] == 0       # v8/v9 words: int8 operand
    zp = make("CONFIG", reg="RADD_ZP", a=I16[0], b=I16[1], d=I32[1])
    assert decode(encode(zp)).key() == zp.key() and zp.engine == "st"
    assert ISA_VERSION >= 10
    store = make("STORE", dtype="i16", mode="raw", sram=0, rows=2, cols=D, stride=2 * D, radd=1,
                 rwide=1)
    regs = [make("CONFIG", reg="RADD", a=1, b=1, c=1, d=HW.inp_rows - 4)]
    check_bounds(regs + [make("CONFIG", reg="RADD_ZP", d=2), store], HW, 64)
    with pytest.raises(SimError, match="INP rows"):   # the upper channels' rows past the buffer
        check_bounds(regs + [make("CONFIG", reg="RADD_ZP", d=3), store], HW, 64)
    check_bounds(regs + [make("CONFIG", reg="RADD_ZP", d=3), make("STORE", **dict(
        store.f, cols=D // 2))], HW, 64)               # only the lower half: no upper rows read
    with pytest.raises(SimError, match="d >= 0"):
        check_bounds(regs + [make("CONFIG", reg="RADD_ZP", d=-1), store], HW, 64)
    for prog in ([make("STORE", **dict(store.f, radd=0))],
                 regs + [make("CONFIG", reg="RADD_ZP", d=-1), store]):
        with pytest.raises(SimError, match="rwide"):
            Machine(HW, np.zeros(64, np.uint8)).run(prog)
    with pytest.raises(SimError, match="rwide"):
        check_bounds([make("STORE", **dict(store.f, radd=0))], HW, 64)


def _residual_linear(seed: int, m_out: int, sub: bool = False, swap: bool = False) -> G:
    """linear (int16 out) + an int16 residual -> int16 sum (the residual stream of a
    transformer block); ``swap``: the residual is the first operand."""
    g = G(seed)
    x, r = g.input((1, 12, 40)), g.input((1, 12, m_out), DType.int16)
    w = g.const(g.rand((40, m_out)))
    bias = g.const(g.rng.integers(-300, 300, m_out).astype(np.int32))
    y = g.op("qcc.linear", [x, w, bias, *g.mult(m_out, 0.3)], dict(x_zp=3, y_zp=-40, dtype="i16"))
    a, b, za, zb = (r, y, 17, -40) if swap else (y, r, -40, 17)
    g.op("qcc.sub" if sub else "qcc.add",
         [a, b, g.const(np.array([(1 << 31) - 1, 3 << 27], np.int32)), g.const(np.array([31], np.int32))],
         {"a_zp": za, "b_zp": zb, "y_zp": 100, "dtype": "i16"}, output=True)
    return g


@pytest.mark.parametrize("m_out,kw", [(24, {}), (3, dict(sub=True)), (13, dict(swap=True))])
def test_int16_residual_fused(m_out, kw, tmp_path):
    """Both operands int16 (text_recog's residual stream): the add runs in the linear's STOREs
    (rwide), bit-exact with the interpreter for channel blocks that fill one or both operand
    halves, and in fewer cycles than the separate pass (``--hw radd_wide=false``)."""
    g = _residual_linear(11, m_out, **kw)
    acc = compile_and_compare(g, tmp_path)
    assert len(acc["layers"]) == 1 and acc["layers"][0]["fused"]
    stores = [i for i in _program(tmp_path) if i.op == "STORE" and i["rows"]]
    assert stores and all(i["radd"] and i["rwide"] for i in stores)
    off = tmp_path / "off"
    off.mkdir()
    hw = replace(HW, radd_wide=False)
    base = compile_and_compare(g, off, hw, samples=1)
    assert len(base["layers"]) == 2 and not base["layers"][0].get("fused")
    assert simulate(_program(tmp_path), HW).total < simulate(_program(off), hw).total


# -- CONFIG IM2COL d: a window wider than one buffer row ------------------------------------
HW16 = HwConfig(rows=16, cols=16, inp_kib=16, wgt_kib=16, acc_kib=16, param_kib=1)


@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 6), step=st.integers(1, 3), pw=st.integers(1, 12), off=st.integers(0, 11),
       rows=st.integers(1, 8), pb=st.integers(0, 2), pa=st.integers(0, 2), lane=st.integers(0, 5),
       copies=st.integers(1, 2), seed=st.integers(0, 999))
def test_im2col_row_is_a_lane_window_of_the_pieces(n, step, pw, off, rows, pb, pa, lane, copies,
                                                  seed):
    """Row ``i`` of an im2col LOAD under CONFIG IM2COL ``(n, step, pw, off)`` is lanes ``off ..
    off+DIM-1`` of pieces ``i*step .. i*step+n-1`` of the plain LOAD side by side (pad value
    past the window), for windows narrower and wider than a row."""
    d = HW16.dim
    off, lane = min(off, pw - 1), min(lane, pw - 1)
    total = pb + rows + pa
    if total < n or (n - 1) * pw >= off + d:
        return
    cols = pw - lane
    img = np.random.default_rng(seed).integers(0, 256, 4096).astype(np.uint8)
    f = dict(buf="INP", dtype="i8", sram=3, dram=40, rows=rows, cols=cols, stride=13,
             pad_before=pb, pad_after=pa, pad_val=-7, outer=1)
    outer = make("CONFIG", reg="LOAD_OUTER", a=copies, b=200, c=lane, d=50)
    wide = dict(f, cols=max(cols, 1))
    plain = Machine(HwConfig(rows=32, cols=32, inp_kib=32, wgt_kib=32, acc_kib=32, param_kib=1),
                    img.copy())   # the pieces of a 32-lane machine: up to 12 + 11 lanes each
    plain.run([outer, make("LOAD", **wide)])
    im = Machine(HW16, img.copy())
    prog = [outer, make("CONFIG", reg="IM2COL", a=n, b=step, c=pw, d=off),
            make("LOAD", im2col=1, **f)]
    check_bounds(prog, HW16, 4096)
    im.run(prog)
    m = (total - n) // step + 1
    want = np.zeros_like(im.inp)
    for k in range(copies):
        pieces = plain.inp[3 + 50 * k:3 + 50 * k + total, :pw]
        for i in range(m):
            win = np.full(max(n * pw, off + d), -7, np.int8)
            win[:n * pw] = pieces[i * step:i * step + n].reshape(-1)
            want[3 + 50 * k + i] = win[off:off + d]
    assert np.array_equal(im.inp, want)


@pytest.mark.parametrize("reg,match", [((2, 1, 9, 9), "off < pw"),      # off past the first piece
                                       ((3, 1, 9, 0), "n-1"),           # piece 3 starts at lane 18
                                       ((2, 1, 9, -1), "off < pw")])
def test_im2col_offset_errors(reg, match):
    prog = [make("CONFIG", reg="IM2COL", a=reg[0], b=reg[1], c=reg[2], d=reg[3]),
            make("LOAD", buf="INP", sram=0, dram=0, rows=4, cols=9, stride=9, im2col=1)]
    with pytest.raises(SimError, match=match):
        Machine(HW16, np.zeros(4096, np.uint8)).run(prog)
    with pytest.raises(SimError, match=match):
        check_bounds(prog, HW16, 4096)


def _stem(shape, k, m, **attrs) -> G:
    g = G(sum(shape) + k + m)
    x = g.input(shape)
    g.conv(x, m, k, **attrs)
    g.g.outputs.append(g.g.nodes[-1].outputs[0])
    return g


def _only_pim(monkeypatch):
    from qcc.backends.accel import gemm_emit
    orig = gemm_emit.candidates

    def pick(ly, hw):
        ts = [t for t in orig(ly, hw) if t.order == "pim"]
        assert ts, f"no pim tiling for {ly.name}"
        return ts
    monkeypatch.setattr(gemm_emit, "candidates", pick)


@pytest.mark.parametrize("shape,k,m,attrs,nk", [
    ((1, 3, 9, 9), 3, 20, dict(pads=[1, 1, 1, 1], x_zp=-3), 2),              # 27 lanes
    ((1, 3, 15, 13), 7, 20, dict(pads=[3, 3, 3, 3], strides=[2, 2], x_zp=4), 10),  # tap groups 5+2
    ((1, 2, 11, 10), 5, 9, dict(pads=[2, 1, 0, 2], x_zp=7), 4),             # 50 lanes, asymmetric
    ((1, 6, 8, 7), 3, 33, dict(pads=[1, 1, 1, 1], strides=[2, 1], x_zp=-1), 5),  # groups 2+1 taps: 3+2
])
def test_window_over_several_rows_bit_exact(tmp_path, monkeypatch, shape, k, m, attrs, nk):
    """Windows wider than a row (v10 IM2COL d) as ``nk`` K blocks per position, borders and
    strides included: bit-exact with the interpreter, every GEMM multiplies ``nk`` blocks."""
    _only_pim(monkeypatch)
    acc = compile_and_compare(_stem(shape, k, m, **attrs), tmp_path, HW16)
    assert "order=pim" in acc["layers"][0]["tiling"]
    prog = _program(tmp_path)
    assert {i["kblocks"] for i in prog if i.op == "GEMM"} == {nk}
    assert any(i.op == "CONFIG" and i["reg"] == "IM2COL" and i["d"] for i in prog)


def test_three_channel_stem_takes_two_blocks_where_faster(tmp_path):
    """A 3-channel 3x3 stride-2 stem: the tile search picks the two-block im2col rows over the
    packed column windows (three blocks per position), and is faster than without them
    (``--hw im2col_split=false``, which reproduces the v9 choice)."""
    g = _stem((1, 3, 24, 24), 3, 32, pads=[1, 1, 1, 1], strides=[2, 2], x_zp=4)
    acc = compile_and_compare(g, tmp_path, HW16, samples=1)
    assert "order=pim" in acc["layers"][0]["tiling"]
    assert {i["kblocks"] for i in _program(tmp_path) if i.op == "GEMM"} == {2}
    (tmp_path / "off").mkdir()
    old = compile_and_compare(g, tmp_path / "off", replace(HW16, im2col_split=False), samples=1)
    assert "pim" not in old["layers"][0]["tiling"]
    assert acc["layers"][0]["est_cycles"] < old["layers"][0]["est_cycles"]


def test_v9_stream_runs_unchanged(tmp_path):
    """A stream without the v10 features (``--hw im2col_split=false radd_wide=false``) states
    version 9 and uses only v9 words (im2col rows with IM2COL d = 0, no rwide STORE); the v10
    simulator runs it bit-exact."""
    import json

    from qcc.backends.accel import run as accel_run
    from qcc.backends.accel.isa import assemble

    g = _stem((1, 1, 9, 9), 3, 12, pads=[1, 1, 1, 1], x_zp=2)
    hw = replace(HW16, im2col_split=False, radd_wide=False)
    acc = compile_and_compare(g, tmp_path, hw, samples=1)
    prog = _program(tmp_path)
    assert any(i.op == "LOAD" and i["im2col"] for i in prog)
    assert not any(i.op == "CONFIG" and i["reg"] == "IM2COL" and i["d"] for i in prog)
    assert not any(i.op == "STORE" and i["rwide"] for i in prog)
    ver = [i for i in prog if i.op == "CONFIG" and i["reg"] == "VERSION"]
    assert ver and all(v["a"] == ISA_VERSION for v in ver)
    for v in ver:
        v.f["a"] = 9
    (tmp_path / "accel" / "m.bin").write_bytes(assemble(prog))
    manifest = json.loads(json.dumps({"accel": acc}))
    feeds = g.feeds()
    got = accel_run(str(tmp_path / "accel"), [feeds], manifest)[0]
    want = ref_run(g.g, feeds)
    for v in g.g.outputs:
        assert np.array_equal(got[v.name], want[v.name])
