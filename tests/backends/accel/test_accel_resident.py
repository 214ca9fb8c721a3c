"""On-chip layer residency (ISA v5): a conv/linear STOREs its requantized output straight
into the next conv/linear's input buffer (STORE ``inp = 1``), which then loads nothing from
DRAM; the producer stores to DRAM only when another reader needs the tensor."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from qcc import arith
from qcc.backends.accel.check import check_bounds
from qcc.backends.accel.funcsim import Machine, SimError
from qcc.backends.accel.isa import decode, disassemble, encode, format_instr, make, parse_instr
from qcc.backends.accel.stream import Builder
from qcc.backends.accel.timing import cost, dma_bytes, simulate

from accel_testlib import HW, G, compile_and_compare

D = HW.dim


def conv(g: G, x, m, k, group=1, x_zp=0, y_zp=0, output=False, **attrs):
    w = g.const(g.rand((m, x.shape[1] // group, k, k)))
    b = g.const(g.rng.integers(-500, 500, m).astype(np.int32))
    a = dict(strides=[1, 1], pads=[0, 0, 0, 0], group=group, x_zp=x_zp, y_zp=y_zp)
    a.update(attrs)
    return g.op("qcc.conv2d", [x, w, b, *g.mult(m)], a, output=output)


def chain(seed: int = 0) -> G:
    """dense 3x3 -> depthwise 3x3 (window region) -> 1x1 (flat region) -> strided 3x3
    (window region), with non-zero zero points (the padding value)."""
    g = G(seed)
    x = g.input((1, 8, 9, 9))
    a = conv(g, x, 12, 3, y_zp=3, pads=[1, 1, 1, 1])
    b = conv(g, a, 12, 3, group=12, x_zp=3, y_zp=-2, pads=[1, 1, 1, 1])
    c = conv(g, b, 10, 1, x_zp=-2, y_zp=1)
    conv(g, c, 10, 3, x_zp=1, strides=[2, 2], pads=[1, 1, 1, 1], output=True)
    return g


def _program(tmp_path, name="accel"):
    return disassemble((tmp_path / name / "m.bin").read_bytes())


# -- the instruction --------------------------------------------------------------------
def test_v4_store_words_decode_unchanged_and_v5_round_trips():
    v4 = make("STORE", dtype="i32", mode="raw", sram=65535, dram=2 ** 32 - 1, rows=1023,
              cols=255, stride=2 ** 22 - 1, param=4095)
    word = int.from_bytes(encode(v4), "little")
    assert word >> 112 == 0 and decode(encode(v4))["inp"] == 0
    v5 = make("STORE", dtype="i8", mode="channel", sram=3, dram=100, rows=5, cols=6, stride=2,
              param=9, inp=1, deps=("pop_prev", "push_next"))
    assert int.from_bytes(encode(v5), "little") >> 112 == 1
    assert decode(encode(v5)).key() == v5.key() == parse_instr(format_instr(v5)).key()


def _machine():
    m = Machine(HW, np.zeros(256, np.uint8))
    rng = np.random.default_rng(1)
    m.acc[:8] = rng.integers(-2 ** 20, 2 ** 20, (8, D))
    m.param[0] = rng.integers(-1000, 1000, D)          # bias
    m.param[1] = rng.integers(1 << 29, 1 << 30, D)     # multiplier
    m.param[2] = rng.integers(12, 20, D)               # shift
    m.clamp = (-3, -128, 127)
    return m


def test_store_into_the_input_buffer_writes_what_a_dram_store_writes():
    m = _machine()
    m.inp[:] = 77
    cols = 5
    m.run([make("STORE", dtype="i8", mode="channel", sram=2, dram=10, rows=4, cols=cols,
                stride=3, param=0, inp=1),
           make("STORE", dtype="i8", mode="channel", sram=2, dram=0, rows=4, cols=cols,
                stride=cols, param=0)])
    want = arith.requantize(m.acc[2:6, :cols] + m.param[0, :cols], m.param[1, :cols],
                            m.param[2, :cols], -3, -128, 127)
    got = m.inp[[10, 13, 16, 19]]
    assert np.array_equal(got[:, :cols], want)
    assert np.array_equal(m.dram[:4 * cols].view(np.int8).reshape(4, cols), want)
    assert (got[:, cols:] == -3).all()                 # lanes past cols: the zero point
    untouched = np.setdiff1d(np.arange(HW.inp_rows), [10, 13, 16, 19])
    assert (m.inp[untouched] == 77).all()


def test_store_into_the_input_buffer_bounds_and_dtype():
    bad_rows = make("STORE", dtype="i8", mode="raw", dram=HW.inp_rows - 2, rows=2, cols=4,
                    stride=2, inp=1)
    bad_dtype = make("STORE", dtype="u8", mode="raw", dram=0, rows=1, cols=4, inp=1)
    for ins in (bad_rows, bad_dtype):
        with pytest.raises(SimError):
            check_bounds([ins], HW, 256)
        with pytest.raises(SimError):
            _machine().run([ins])
    ok = make("STORE", dtype="i8", mode="raw", dram=HW.inp_rows - 3, rows=2, cols=4, stride=2,
              inp=1)
    check_bounds([ok], HW, 0)   # no DRAM byte is addressed: an empty image is enough


def test_on_chip_store_costs_no_dram_and_the_sram_latency():
    hw = replace(HW, sram_latency=7)
    ins = make("STORE", dtype="i8", mode="raw", dram=0, rows=20, cols=8, stride=1, inp=1)
    assert cost(ins, hw) == (hw.dma_overhead + 20, 7) and dma_bytes(ins, hw) == 0
    dram = make("STORE", dtype="i8", mode="raw", dram=0, rows=20, cols=8, stride=8)
    assert cost(dram, hw)[1] == hw.dma_latency and dma_bytes(dram, hw) == 160


# -- the stream builder: input-buffer resources by row interval -------------------------
def test_buffer_intervals_order_only_overlapping_uses():
    b = Builder(inp_half=HW.inp_rows // 2)
    h = HW.inp_rows // 2
    region = ("INP", h + 64, 2 * h, "data")
    pad = ("INP", h + 64, 2 * h, "pad")
    old = b.group("ex", reads=[("INP", 1)])          # an earlier layer read the upper half
    st = b.group("st", writes=[region])              # the region's STORE waits for it (WAR)
    assert st.waits == [old]
    pads = b.group("ld", writes=[pad])               # the padding rows: disjoint from the data
    assert pads.waits == [old]
    slot = b.group("ld", writes=[("INP", 0, h + 64)])  # the producer's own slot below it
    assert slot.waits == [old]                       # ... not the region's STORE
    use = b.group("ex", reads=[region, pad])
    assert set(map(id, use.waits)) == {id(st), id(pads)}
    later = b.group("ld", writes=[("INP", 1)])       # a later layer's half: after the reads
    assert use in later.waits


# -- lowering ---------------------------------------------------------------------------
def test_chain_runs_resident_bit_exact_and_faster(tmp_path):
    acc = compile_and_compare(chain(), tmp_path)
    on = {ly["name"]: ly.get("onchip", {}) for ly in acc["layers"]}
    a, b, c, d = (ly["name"] for ly in acc["layers"])
    assert on[a]["output"].startswith("window") and on[b]["input"] == on[a]["output"]
    assert on[b]["output"].startswith("flat") and on[c]["input"] == on[b]["output"]
    assert on[c]["output"].startswith("window") and on[d]["input"] == on[c]["output"]
    assert "output" not in on[d]
    prog = _program(tmp_path)
    for ly in acc["layers"][1:]:   # the consumers read no input from DRAM
        assert not [i for i in prog[ly["first"]:ly["last"]]
                    if i.op == "LOAD" and i["buf"] == "INP" and i["rows"]], ly["name"]
    for ly in acc["layers"][:3]:   # the producers store nothing to DRAM (no other reader)
        stores = [i for i in prog[ly["first"]:ly["last"]] if i.op == "STORE"]
        assert stores and all(i["inp"] for i in stores), ly["name"]
    off = tmp_path / "off"
    off.mkdir()
    base = compile_and_compare(chain(), off, replace(HW, onchip_store=False))
    assert not any(ly.get("onchip") for ly in base["layers"])
    assert not any(i.op == "STORE" and i["inp"] for i in _program(off))
    cycles = simulate(prog, HW).total
    assert cycles < simulate(_program(off), HW).total


def test_consumer_starts_before_the_producer_stores_its_last_rows(tmp_path):
    """The region's tokens are row intervals too: the consumer's first tile waits only for
    the STOREs of the input rows it reads (a slow on-chip write path makes it visible)."""
    hw = replace(HW, sram_latency=2000)
    g = G(4)
    x = g.input((1, 8, 20, 20))   # several tiles per layer
    a = conv(g, x, 8, 3, pads=[1, 1, 1, 1], y_zp=3)
    conv(g, a, 8, 3, pads=[1, 1, 1, 1], x_zp=3, output=True)
    acc = compile_and_compare(g, tmp_path, hw, samples=1)
    first, second = acc["layers"]
    assert second["onchip"]["input"] == first["onchip"]["output"]
    prog = _program(tmp_path)
    s = simulate(prog, hw)
    last_store = max(s.ready[i] for i in range(first["first"], first["last"]) if prog[i].op == "STORE")
    first_gemm = min(s.start[i] for i in range(second["first"], second["last"]) if prog[i].op == "GEMM")
    assert first_gemm < last_store, (first["tiling"], second["tiling"])


@pytest.mark.parametrize("dma,sram", [(0, 5000), (5000, 0)])
def test_resident_chain_bit_exact_under_extreme_interleavings(tmp_path, dma, sram):
    compile_and_compare(chain(1), tmp_path, replace(HW, dma_latency=dma, sram_latency=sram),
                        samples=1)


def test_another_reader_keeps_the_dram_store(tmp_path):
    """A producer whose output also feeds a residual add (or is a graph output) stores to
    DRAM too, besides the consumer's input buffer."""
    g = G(2)
    x = g.input((1, 8, 6, 6))
    a = conv(g, x, 8, 1, y_zp=2)
    b = conv(g, a, 8, 3, x_zp=2, y_zp=2, pads=[1, 1, 1, 1])
    conv(g, b, 8, 1, x_zp=2, output=True)
    g.g.outputs.append(b)
    g.op("qcc.add", [a, b, g.const(np.array([1 << 29, 1 << 29], np.int32)),
                     g.const(np.array([30], np.int32))], {"a_zp": 2, "b_zp": 2}, output=True)
    acc = compile_and_compare(g, tmp_path)
    first, second = acc["layers"][:2]
    assert first["onchip"]["output"].startswith("window") and first["onchip"]["output"].endswith("(and DRAM)")
    assert second["onchip"]["output"].startswith("flat") and second["onchip"]["output"].endswith("(and DRAM)")
    prog = _program(tmp_path)
    for ly in (first, second):
        kinds = {i["inp"] for i in prog[ly["first"]:ly["last"]] if i.op == "STORE"}
        assert kinds == {0, 1}, ly["name"]


def test_linear_chain_resident(tmp_path):
    g = G(3)
    x = g.input((12, 20))
    h = x
    for k, n in ((20, 24), (24, 9)):
        w = g.const(g.rand((k, n)))
        bias = g.const(g.rng.integers(-300, 300, n).astype(np.int32))
        h = g.op("qcc.linear", [h, w, bias, *g.mult(n)], dict(x_zp=-1 if k == 24 else 0,
                                                             y_zp=-1), output=n == 9)
    acc = compile_and_compare(g, tmp_path)
    assert acc["layers"][0]["onchip"]["output"].startswith("flat")


def test_no_residency_when_the_input_does_not_fit(tmp_path):
    hw = replace(HW, inp_kib=2)          # 256 rows: a half of 128 < the 2 x 81-row plane
    acc = compile_and_compare(chain(), tmp_path, hw, samples=1)
    on = {ly["name"]: ly.get("onchip", {}) for ly in acc["layers"]}
    assert "output" not in on[acc["layers"][0]["name"]]


def _add(g: G, a, b, a_zp, b_zp, y_zp):
    return g.op("qcc.add", [a, b, g.const(np.array([1 << 29, 3 << 27], np.int32)),
                            g.const(np.array([30], np.int32))],
                {"a_zp": a_zp, "b_zp": b_zp, "y_zp": y_zp})


@pytest.mark.parametrize("k,reader", [(1, False), (3, False), (1, True)])
def test_elementwise_producer_fills_the_next_conv_input(k, reader, tmp_path):
    """A residual add followed by a conv (1x1: flat region; 3x3: padded window): the add's
    STOREs write the conv's input buffer and the conv loads no input from DRAM, bit-exact;
    with a second reader of the sum the add stores to DRAM too."""
    g = G(6)
    x = g.input((1, 8, 6, 6))
    a = conv(g, x, 12, 1, y_zp=2)
    b = conv(g, a, 12, 3, group=12, x_zp=2, y_zp=-1, pads=[1, 1, 1, 1])
    s = _add(g, a, b, 2, -1, 3)
    conv(g, s, 10, k, x_zp=3, pads=[k // 2] * 4, output=True)
    if reader:
        g.g.outputs.append(s)
    hw = replace(HW, store_radd=False)   # the add as its own pass (fused: test_accel_radd.py)
    acc = compile_and_compare(g, tmp_path, hw)
    add, last = acc["layers"][2], acc["layers"][3]
    assert add["op"] == "qcc.add"
    spec = last["onchip"]["input"]
    assert spec.startswith("flat" if k == 1 else "window") and spec.endswith("(and DRAM)") == reader
    prog = _program(tmp_path)
    assert not [i for i in prog[last["first"]:last["last"]]
                if i.op == "LOAD" and i["buf"] == "INP" and i["rows"]]
    kinds = {i["inp"] for i in prog[add["first"]:add["last"]] if i.op == "STORE" and i["rows"]}
    assert kinds == ({0, 1} if reader else {1})
    off = tmp_path / "off"
    off.mkdir()
    base = compile_and_compare(g, off, replace(hw, onchip_store=False), samples=1)
    assert not any(ly.get("onchip") for ly in base["layers"])
    assert simulate(prog, hw).total < simulate(_program(off), hw).total


def test_pool_fills_the_classifier_input_through_a_flatten(tmp_path):
    """global average pool -> Flatten (a view) -> linear: the pool's STOREs write the
    linear's input buffer (one row per channel block), bit-exact."""
    g = G(8)
    x = g.input((1, 20, 5, 5))
    p = g.op("qcc.global_avgpool", [x, *g.mult(1, 0.05)], {"x_zp": -3, "y_zp": 4})
    f = g.op("onnx.Flatten", [p], {"axis": 1})
    w = g.const(g.rand((20, 7)))
    bias = g.const(g.rng.integers(-300, 300, 7).astype(np.int32))
    g.op("qcc.linear", [f, w, bias, *g.mult(7)], dict(x_zp=4, y_zp=-1), output=True)
    acc = compile_and_compare(g, tmp_path)
    lin = acc["layers"][-1]
    assert lin["op"] == "qcc.linear" and lin["onchip"]["input"].startswith("flat")


def test_lut_pass_fills_a_window_with_lanes_past_the_channels(tmp_path):
    """conv -> add -> LUT -> 3x3 conv over 5 channels (3 lanes past them on the 8-lane test
    array, which the LUT's STOREs fill with their zero point 0 and the weights ignore) with
    input zero point -4 (the window's padding): bit-exact, the LUT pass writes the window."""
    from qcc.ir import DType
    g = G(7)
    x = g.input((1, 5, 5, 5))
    a = conv(g, x, 5, 1, y_zp=1)
    s = _add(g, a, x, 1, 0, -2)
    t = g.op("qcc.lut", [s, g.const(g.rng.integers(-128, 128, 256).astype(np.int8), DType.int8)])
    conv(g, t, 6, 3, x_zp=-4, pads=[1, 1, 1, 1], output=True)
    acc = compile_and_compare(g, tmp_path, replace(HW, store_radd=False))
    assert acc["layers"][2]["op"] == "qcc.lut"
    assert acc["layers"][-1]["onchip"]["input"].startswith("window")


@pytest.mark.parametrize("sram", [1000, 2])
def test_consumer_plane_waits_only_for_its_plane_and_not_for_the_dram_store(tmp_path, sram):
    """A producer's STOREs into the region come first, one group per channel block, then its
    DRAM STOREs: the consumer's GEMMs of the first input plane start before the producer has
    stored the second plane (visible with a slow on-chip write path) and before the DRAM
    STORE of the same rows, for another reader, has finished.  With the on-chip write path
    slower than DRAM (``sram_latency > dma_latency``) the DRAM STOREs come first instead: a
    consumer waits for the latest ST group it needs, which must land last (the race check of
    every compile fails the other order: a consumer's GEMM read the plane before it landed)."""
    hw = replace(HW, sram_latency=sram)
    g = G(5)
    x = g.input((1, 8, 4, 4))
    a = conv(g, x, 2 * D, 1, y_zp=2)                  # two channel blocks: two planes
    conv(g, a, 2 * D, 3, group=2 * D, x_zp=2, pads=[1, 1, 1, 1], output=True)
    g.g.outputs.append(a)                              # a second reader: DRAM too
    acc = compile_and_compare(g, tmp_path, hw, samples=1)
    first, second = acc["layers"]
    spec = first["onchip"]["output"]
    assert spec.startswith("window 2x") and spec.endswith("(and DRAM)")
    prog = _program(tmp_path)
    s = simulate(prog, hw)
    mine = range(first["first"], first["last"])
    res = [i for i in mine if prog[i].op == "STORE" and prog[i]["inp"]]
    dram = [i for i in mine if prog[i].op == "STORE" and not prog[i]["inp"]]
    assert res and dram
    first_, then = (res, dram) if hw.sram_latency <= hw.dma_latency else (dram, res)
    for d in then:   # each STORE of the later kind after one of the same accumulator rows
        assert any(r < d and prog[r]["sram"] == prog[d]["sram"] for r in first_), d
    lo, hi = (int(v) for v in spec.split(" at INP rows ")[1].split()[0].split(".."))
    plane = (hi - lo + 1) // 2
    gemms = [i for i in range(second["first"], second["last"]) if prog[i].op == "GEMM"]
    g0 = min(s.start[i] for i in gemms if lo <= prog[i]["inp"] < lo + plane)
    if sram > 2:
        assert g0 < max(s.ready[i] for i in res if prog[i]["dram"] >= lo + plane), second["tiling"]
    else:
        assert g0 < max(s.end[i] for i in dram), second["tiling"]
