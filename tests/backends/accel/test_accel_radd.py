"""A residual add/sub in the STORE epilogue (ISA v8 STORE ``radd``, fuse_add.py): the conv
before an int8 add/sub stores the sum directly, its other operand loaded into the input
buffer, so the vector pass and the conv output's DRAM round trip disappear."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from qcc.backends.accel.check import check_bounds
from qcc.backends.accel.funcsim import Machine, SimError
from qcc.backends.accel.isa import (ISA_VERSION, decode, disassemble, encode, format_instr, make,
                                    parse_instr)
from qcc.backends.accel.timing import simulate
from qcc.interp import run as ref_run

from accel_testlib import HW, G, compile_and_compare
from test_accel_resident import conv

D = HW.dim
I32 = (-(1 << 31), (1 << 31) - 1)


def _ref_add(y, o, my, zy, mo, zo, s, zp, lo, hi):
    """The reference interpreter's qcc.add on int8 tensors ``y`` (operand a) and ``o`` (b):
    multipliers (my, |mo|), a subtraction where ``mo < 0``."""
    g = G()
    a, b = g.input(y.shape), g.input(o.shape)
    op = "qcc.sub" if mo < 0 else "qcc.add"
    g.op(op, [a, b, g.const(np.array([my, abs(mo)], np.int32)), g.const(np.array([s], np.int32))],
         {"a_zp": zy, "b_zp": zo, "y_zp": zp, "act_min": lo, "act_max": hi}, output=True)
    out = ref_run(g.g, {a.name: y.astype(np.int8), b.name: o.astype(np.int8)})
    return out[g.g.outputs[0].name].astype(np.int64)


@settings(max_examples=60, deadline=None)
@given(my=st.integers(0, I32[1]), mo=st.integers(-I32[1], I32[1]), s=st.integers(1, 62),
       zy=st.integers(-128, 127), zo=st.integers(-128, 127), zp=st.integers(-128, 127),
       seed=st.integers(0, 2 ** 16), inp=st.booleans())
def test_radd_epilogue_is_the_reference_add(my, mo, s, zy, zo, zp, seed, inp):
    """STORE ``radd`` equals the interpreter's integer add of the epilogue's int8 value and
    the operand rows, at the int32 edges of the multipliers and every shift."""
    rng = np.random.default_rng(seed)
    m = Machine(HW, np.zeros(512, np.uint8))
    rows, cols, base = 6, 5, 40
    m.acc[3:3 + rows] = rng.integers(-2 ** 20, 2 ** 20, (rows, D))
    m.inp[base + 3:base + 3 + rows] = rng.integers(-128, 128, (rows, D))
    m.clamp = (zy, -128, 127)
    m.run([make("CONFIG", reg="SCALE", a=1 << 30, b=0, c=30 + 12),
           make("CONFIG", reg="RADD", a=my, b=mo, c=s, d=base),
           make("CONFIG", reg="RADD_ZP", a=zy, b=zo),
           make("CONFIG", reg="RADD_CLAMP", a=zp, b=-128, d=127),
           make("STORE", dtype="i8", mode="tensor", sram=3, dram=100 if inp else 0, rows=rows,
                cols=cols, stride=2 if inp else cols, inp=int(inp), radd=1)])
    y = np.clip(((m.acc[3:3 + rows, :cols] + (1 << 11)) >> 12) + zy, -128, 127)
    want = _ref_add(y, m.inp[base + 3:base + 3 + rows, :cols].astype(np.int64), my, zy, mo, zo, s,
                    zp, -128, 127)
    if inp:
        got = m.inp[100:100 + 2 * rows:2].astype(np.int64)
        assert np.array_equal(got[:, :cols], want) and (got[:, cols:] == zp).all()
    else:
        assert np.array_equal(m.dram[:rows * cols].view(np.int8).reshape(rows, cols), want)


def test_radd_fields_registers_and_bounds():
    word = make("STORE", dtype="i8", mode="raw", sram=65535, dram=2 ** 32 - 1, rows=1023, cols=255,
                stride=2 ** 22 - 1, param=4095, inp=1, lut=1, table=63, outer=1, radd=1)
    assert decode(encode(word)).key() == word.key() == parse_instr(format_instr(word)).key()
    assert int.from_bytes(encode(word), "little") >> 121 == 1       # radd is bit 121, the last
    v7 = make("STORE", dtype="i32", mode="raw", rows=1023, cols=255, stride=2 ** 22 - 1,
              param=4095, sram=65535, dram=2 ** 32 - 1, inp=1, lut=1, table=63, outer=1)
    assert int.from_bytes(encode(v7), "little") >> 121 == 0 and decode(encode(v7)).f["radd"] == 0
    for reg, f in (("RADD", dict(a=I32[1], b=I32[0], c=255, d=I32[0])),
                   ("RADD_ZP", dict(a=-128, b=255)), ("RADD_CLAMP", dict(a=0, b=-128, d=127))):
        w = make("CONFIG", reg=reg, **f)
        assert w.engine == "st" and decode(encode(w)).key() == w.key()
    store = make("STORE", dtype="i8", mode="raw", sram=0, rows=2, cols=4, stride=4, radd=1)
    with pytest.raises(SimError, match="CONFIG RADD"):        # no operand offset yet
        check_bounds([store], HW, 64)
    with pytest.raises(SimError, match="INP rows"):           # operand rows past the buffer
        check_bounds([make("CONFIG", reg="RADD", a=1, b=1, c=1, d=HW.inp_rows - 1), store], HW, 64)
    check_bounds([make("CONFIG", reg="RADD", a=1, b=1, c=1, d=HW.inp_rows - 2), store], HW, 64)
    with pytest.raises(SimError, match="radd"):
        Machine(HW, np.zeros(64, np.uint8)).run([store])
    assert ISA_VERSION >= 8      # v8 introduced radd; later versions keep it


def _add(g, a, b, a_zp, b_zp, y_zp, op="qcc.add"):
    return g.op(op, [a, b, g.const(np.array([1 << 29, 3 << 27], np.int32)),
                     g.const(np.array([30], np.int32))], {"a_zp": a_zp, "b_zp": b_zp, "y_zp": y_zp})


def _block(seed=0, op="qcc.add", swap=False, k=1, reader=False, lut=False, then=True,
           twice=False, short=False) -> G:
    """1x1 conv -> depthwise 3x3 -> 1x1 conv -> add/sub with the first 1x1's output (the
    residual), then a k x k conv; ``swap``: the residual is the first operand (the add runs
    in place of it); ``lut``: an activation between the last conv and the add; ``reader``:
    the last conv's output is a graph output too; ``twice``: a second conv reads the sum (so
    it goes to DRAM too); ``short``: no second 1x1 (the residual is the depthwise conv's own
    input)."""
    from qcc.ir import DType
    g = G(seed)
    x = g.input((1, 8, 6, 6))
    a = conv(g, x, 12, 1, y_zp=2)
    b = conv(g, a, 12, 3, group=12, x_zp=2, y_zp=-1, pads=[1, 1, 1, 1])
    if not short:
        b = conv(g, b, 12, 1, x_zp=-1, y_zp=-1)
    if lut:
        b = g.op("qcc.lut", [b, g.const(g.rng.integers(-128, 128, 256).astype(np.int8), DType.int8)])
    s = _add(g, a, b, 2, -1, 3, op) if swap else _add(g, b, a, -1, 2, 3, op)
    if then:
        conv(g, s, 10, k, x_zp=3, pads=[k // 2] * 4, output=True)
    if twice:
        conv(g, s, 6, 1, x_zp=3, output=True)
    else:
        g.g.outputs.append(s)
    if reader:
        g.g.outputs.append(b)
    return g


def _program(d):
    return disassemble((d / "accel" / "m.bin").read_bytes())


@pytest.mark.parametrize("kw", [dict(), dict(op="qcc.sub"), dict(swap=True, k=3), dict(lut=True),
                                dict(then=False)])
def test_add_fused_into_the_conv_store(kw, tmp_path):
    """Bit-exact with the add fused into the depthwise conv's STOREs (no ALU, its output
    written into the next conv's input buffer), and fewer cycles than the separate pass."""
    acc = compile_and_compare(_block(**kw), tmp_path)
    ops = [ly["op"] for ly in acc["layers"]]
    assert "qcc.add" not in ops and "qcc.sub" not in ops
    dw = acc["layers"][2]
    assert dw["fused"][-1].startswith("v") and len(dw["fused"]) == (2 if kw.get("lut") else 1)
    prog = _program(tmp_path)
    seg = prog[dw["first"]:dw["last"]]
    assert not [i for i in prog if i.op == "ALU"]
    assert {i["radd"] for i in seg if i.op == "STORE" and i["rows"]} == {1}
    if kw.get("then", True):
        assert acc["layers"][3]["onchip"]["input"] == dw["onchip"]["output"]
    off = tmp_path / "off"
    off.mkdir()
    hw = replace(HW, store_radd=False)
    base = compile_and_compare(_block(**kw), off, hw, samples=1)
    assert any(ly["op"] in ("qcc.add", "qcc.sub") for ly in base["layers"])
    assert simulate(prog, HW).total < simulate(_program(off), hw).total


@pytest.mark.parametrize("lat", [0, 3000])
def test_add_in_place_over_its_operand(lat, tmp_path):
    """The sum overwrites the residual's bytes (the add runs in place of its first operand,
    the residual ``v0``): each tile's STOREs may write only the rows whose operand the tile
    has loaded; bit-exact with DMA latencies far apart."""
    acc = compile_and_compare(_block(3, swap=True, twice=True), tmp_path,
                              replace(HW, dma_latency=lat))
    t = acc["tensors"]
    ly = acc["layers"][2]
    assert t["v0"]["addr"] == t["v3"]["addr"] and ly["fused"]
    assert [i for i in _program(tmp_path)[ly["first"]:ly["last"]]
            if i.op == "STORE" and i["radd"] and not i["inp"] and i["rows"]]   # to DRAM


@pytest.mark.parametrize("lat", [0, 3000])
def test_not_fused_in_place_over_the_conv_input(lat, tmp_path):
    """The add would overwrite (in place) the depthwise conv's own input, whose rows its
    later tiles still read: not fused, bit-exact."""
    acc = compile_and_compare(_block(5, swap=True, twice=True, short=True), tmp_path,
                              replace(HW, dma_latency=lat))
    assert acc["tensors"]["v0"]["addr"] == acc["tensors"]["v2"]["addr"]
    assert "qcc.add" in [ly["op"] for ly in acc["layers"]]


def test_not_fused_when_the_conv_output_has_another_reader(tmp_path):
    acc = compile_and_compare(_block(4, reader=True), tmp_path)
    assert "qcc.add" in [ly["op"] for ly in acc["layers"]]
    assert not any(ly.get("fused") for ly in acc["layers"])


def test_int16_residual_stream_of_a_linear(tmp_path):
    """A linear with an int16 output plus an int8 residual into an int16 sum (a transformer's
    residual stream before its LayerNorm): fused, bit-exact, faster than the separate pass."""
    from qcc.ir import DType
    g = G(9)
    x, r = g.input((1, 12, 40)), g.input((1, 12, 24))
    w = g.const(g.rand((40, 24)))
    bias = g.const(g.rng.integers(-300, 300, 24).astype(np.int32))
    y = g.op("qcc.linear", [x, w, bias, *g.mult(24, 0.3)], dict(x_zp=3, y_zp=-40, dtype="i16"))
    assert y.dtype == DType.int16
    g.op("qcc.add", [r, y, g.const(np.array([1 << 29, 3 << 27], np.int32)),
                     g.const(np.array([30], np.int32))],
         {"a_zp": -2, "b_zp": -40, "y_zp": 100, "dtype": "i16"}, output=True)
    acc = compile_and_compare(g, tmp_path)
    assert len(acc["layers"]) == 1 and acc["layers"][0]["fused"]
    off = tmp_path / "off"
    off.mkdir()
    hw = replace(HW, store_radd=False)
    compile_and_compare(g, off, hw, samples=1)
    assert simulate(_program(tmp_path), HW).total < simulate(_program(off), hw).total
