"""An activation table in the STORE epilogue (ISA v5 STORE ``lut``): a conv/linear followed by
a LUT activation (hardswish and the like, ``qcc.lut``) stores ``T[y + 128]`` directly, so the
LUT pass and its DRAM round trip disappear and the next conv can read the activation from
its input buffer (on-chip residency)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from qcc import arith
from qcc.backends.accel.check import check_bounds
from qcc.backends.accel.funcsim import Machine, SimError
from qcc.backends.accel.isa import decode, disassemble, encode, format_instr, make, parse_instr
from qcc.ir import DType

from accel_testlib import HW, G, compile_and_compare
from test_accel_resident import conv

D = HW.dim
TPR = HW.lut_rows_per_table


def _machine(table: np.ndarray, k: int = 1):
    m = Machine(HW, np.zeros(512, np.uint8))
    rng = np.random.default_rng(5)
    m.acc[:6] = rng.integers(-2 ** 16, 2 ** 16, (6, D))
    m.param[0] = rng.integers(-100, 100, D)
    m.param[1] = rng.integers(1 << 29, 1 << 30, D)
    m.param[2] = rng.integers(8, 12, D)
    m.clamp = (4, -128, 127)
    full = np.zeros(TPR * D, np.int64)
    full[:256] = table
    m.lut[k * TPR:(k + 1) * TPR] = full.reshape(TPR, D)
    return m


def test_store_applies_the_table_after_the_epilogue():
    table = np.random.default_rng(0).integers(0, 256, 256)      # a uint8 activation
    m = _machine(table)
    cols = 7
    m.run([make("STORE", dtype="u8", mode="channel", sram=1, dram=0, rows=5, cols=cols,
                stride=cols, param=0, lut=1, table=1)])
    y = arith.requantize(m.acc[1:6, :cols] + m.param[0, :cols], m.param[1, :cols],
                         m.param[2, :cols], 4, -128, 127)
    assert np.array_equal(m.dram[:5 * cols].reshape(5, cols), table[y + 128])


def test_store_with_table_into_the_input_buffer():
    table = np.random.default_rng(1).integers(-128, 128, 256)
    m = _machine(table, k=0)
    cols = 5
    m.run([make("STORE", dtype="i8", mode="channel", sram=0, dram=20, rows=6, cols=cols,
                stride=2, param=0, inp=1, lut=1, table=0)])
    y = arith.requantize(m.acc[:6, :cols] + m.param[0, :cols], m.param[1, :cols],
                         m.param[2, :cols], 4, -128, 127)
    got = m.inp[20:32:2]
    assert np.array_equal(got[:, :cols], table[y + 128])
    assert (got[:, cols:] == table[4 + 128]).all()    # the zero point through the table


def test_table_bounds_and_values():
    word = make("STORE", dtype="i8", mode="raw", rows=1, cols=4, lut=1, table=HW.lut_tables)
    with pytest.raises(SimError):
        check_bounds([word], HW, 64)
    assert decode(encode(word)).key() == word.key() == parse_instr(format_instr(word)).key()
    wide = _machine(np.full(256, 300))                   # 300 does not fit int8
    with pytest.raises(SimError):
        wide.run([make("STORE", dtype="i8", mode="channel", rows=2, cols=4, stride=4,
                       lut=1, table=1)])
    v4 = make("STORE", dtype="i32", mode="raw", rows=1023, cols=255, stride=2 ** 22 - 1,
              param=4095, sram=65535, dram=2 ** 32 - 1)
    assert int.from_bytes(encode(v4), "little") >> 112 == 0


def _conv_act_conv(seed: int = 0, reader: bool = False, u8: bool = False) -> G:
    """conv -> LUT activation -> 3x3 conv (``u8``: the activation is a uint8 graph output
    instead); ``reader``: the conv's own output is a graph output too."""
    g = G(seed)
    x = g.input((1, 8, 7, 7))
    a = conv(g, x, 12, 1, y_zp=-5)
    if u8:
        g.op("qcc.lut", [a, g.const(g.rng.integers(0, 256, 256).astype(np.uint8), DType.uint8)],
             output=True)
    else:
        act = g.op("qcc.lut", [a, g.const(g.rng.integers(-128, 128, 256).astype(np.int8),
                                          DType.int8)])
        conv(g, act, 8, 3, x_zp=3, pads=[1, 1, 1, 1], output=True)
    if reader:
        g.g.outputs.append(a)
    return g


def _ops(tmp_path):
    return [i.op for i in disassemble((tmp_path / "accel" / "m.bin").read_bytes())]


def test_activation_fused_into_the_store_and_the_next_conv_resident(tmp_path):
    acc = compile_and_compare(_conv_act_conv(), tmp_path)
    first, second = acc["layers"]
    assert first["fused"] and first["onchip"]["output"].startswith("window")
    assert second["onchip"]["input"] == first["onchip"]["output"]
    assert "LUT" not in _ops(tmp_path)
    off = tmp_path / "off"
    off.mkdir()
    base = compile_and_compare(_conv_act_conv(), off, replace(HW, store_lut=False))
    assert len(base["layers"]) == 3 and "LUT" in _ops(off)
    # the unfused LUT pass writes the next conv's input on chip too (resident.elem_out),
    # but it still loads the conv's output from DRAM and runs a LUT pass: slower
    from qcc.backends.accel.timing import simulate
    cycles = {k: simulate(disassemble((d / "accel" / "m.bin").read_bytes()), HW).total
              for k, d in (("fused", tmp_path), ("pass", off))}
    assert cycles["fused"] < cycles["pass"], cycles


def test_uint8_activation_output_fused(tmp_path):
    acc = compile_and_compare(_conv_act_conv(1, u8=True), tmp_path)
    assert len(acc["layers"]) == 1 and acc["layers"][0]["fused"] and "LUT" not in _ops(tmp_path)


def test_not_fused_when_the_conv_output_has_another_reader(tmp_path):
    acc = compile_and_compare(_conv_act_conv(2, reader=True), tmp_path)
    assert len(acc["layers"]) == 3 and not any(ly.get("fused") for ly in acc["layers"])
