"""Where a short network's head and middle wait (docs/target_accel.md §6, "Tokens on the first
instruction that touches data"): the register writes of a group issue before the data it
waits for, and the timing model's schedule of small graphs built here shows it; bit-exact with
the reference interpreter (the checker runs in every compile)."""

from __future__ import annotations

from qcc.backends.accel.isa import make
from qcc.backends.accel.stream import Builder
from qcc.backends.accel.timing import simulate

from accel_testlib import HW, G, compile_and_compare
from test_accel_resident import _program, conv


def _gemm(**kw):
    return make("GEMM", rows=16, kblocks=1, inp_kstride=16, wgt_kstride=1, **kw)


def test_a_group_pops_its_tokens_on_its_first_data_instruction():
    """An ST group that sets its registers (CLAMP, STORE_OUTER) before its STORE waits for the
    GEMM on that STORE: the register writes issue while the GEMM still drains, and the STORE
    starts when the GEMM's results are ready (before, the CONFIG popped the token and the
    STORE started one CONFIG per register later)."""
    b = Builder()
    ex = b.group("ex", writes=[("ACC", 0)])
    ex.add(_gemm())
    st = b.group("st", reads=[("ACC", 0)])
    st.add(make("CONFIG", reg="CLAMP", a=-128, b=-128, d=127))
    st.add(make("CONFIG", reg="STORE_OUTER", a=2, b=1, d=8))
    st.add(make("STORE", dtype="i8", mode="channel", rows=8, cols=16, stride=9, outer=1))
    prog, _ = b.finalize()
    assert [i.deps for i in prog] == [("push_next",), (), (), ("pop_prev",)]
    s = simulate(prog, HW)
    assert s.end[2] <= s.ready[0]          # the registers are set while the GEMM drains
    assert s.start[3] == s.ready[0]        # the STORE starts as its data is ready


def test_a_group_of_register_writes_alone_still_pops():
    b = Builder()
    b.group("ex", writes=[("ACC", 0)]).add(_gemm())
    b.group("st", reads=[("ACC", 0)]).add(make("CONFIG", reg="CLAMP", a=-128, b=-128, d=127))
    prog, _ = b.finalize()
    assert prog[1].deps == ("pop_prev",)


def test_stores_start_when_their_gemms_are_ready_in_a_conv_chain(tmp_path):
    """conv 3x3 -> 1x1 -> 3x3 on chip: the STOREs that wait for a GEMM carry the token
    themselves (their register writes came before it), and each starts as soon as both its
    engine is free and the GEMM's results are ready, no CONFIG cycle later; some wait for
    the GEMM (the token decides their start)."""
    g = G(21)
    x = g.input((1, 1, 8, 8))
    a = conv(g, x, 2 * HW.dim, 3, x_zp=1, y_zp=-3, pads=[1, 1, 1, 1])
    b = conv(g, a, 2 * HW.dim, 1, x_zp=-3, y_zp=2)
    conv(g, b, 2 * HW.dim, 3, x_zp=2, y_zp=4, pads=[1, 1, 1, 1], output=True)
    compile_and_compare(g, tmp_path)
    prog = _program(tmp_path)
    s = simulate(prog, HW)
    pushes = [i for i, ins in enumerate(prog) if ins.engine == "ex" and ins.dep("push_next")]
    pops = [i for i, ins in enumerate(prog) if ins.engine == "st" and ins.dep("pop_prev")]
    assert len(pushes) == len(pops)
    assert all(prog[i].op == "STORE" for i in pops)
    waited = 0
    for k, i in enumerate(pops):   # the k-th pop of the EX -> ST FIFO takes the k-th push
        if prog[i].op != "STORE" or prog[i].dep("pop_next"):
            continue
        prev = [j for j in range(i) if prog[j].engine == "st"]
        free = s.end[prev[-1]] if prev else 0
        assert s.start[i] == max(free, s.ready[pushes[k]]), i
        waited += s.ready[pushes[k]] > free
    assert waited


def _redundant(prog) -> list:
    """Indices of CONFIGs that write a register the value it already holds."""
    held, out = {}, []
    for i, ins in enumerate(prog):
        if ins.op == "CONFIG" and ins.f["reg"] != "VERSION":
            val = (ins.f["a"], ins.f["b"], ins.f["c"], ins.f["d"])
            if held.get(ins.f["reg"]) == val:
                out.append(i)
            held[ins.f["reg"]] = val
    return out


def test_a_register_is_not_written_the_value_it_holds(tmp_path):
    """A 1-channel stem in several tiles of the same shape (im2col rows, outer LOADs and
    STOREs) before a 3x3 conv, both with the same clamp: every tile used to set LOAD_OUTER and
    STORE_OUTER again, the second layer CLAMP again; now no CONFIG repeats its register's value,
    the stream is bit-exact and takes fewer cycles than with those CONFIGs put back."""
    g = G(22)
    x = g.input((1, 1, 12, 12))
    a = conv(g, x, HW.dim, 3, x_zp=1, y_zp=-128, pads=[1, 1, 1, 1])
    conv(g, a, HW.dim, 3, x_zp=-128, y_zp=-128, pads=[1, 1, 1, 1], output=True)
    compile_and_compare(g, tmp_path)
    prog = _program(tmp_path)
    assert not _redundant(prog)
    # put back a copy of every register write before each instruction of its engine that
    # uses the register (an outer LOAD / STORE): the cycles of the stream as it was
    back, n = [], 0
    held: dict = {}
    for ins in prog:
        if ins.op == "CONFIG":
            held[ins.f["reg"]] = ins
        elif ins.f.get("outer") and ins.op in ("LOAD", "STORE") and f"{ins.op}_OUTER" in held:
            cfg = held[f"{ins.op}_OUTER"]
            back.append(make("CONFIG", reg=cfg.f["reg"], a=cfg.f["a"], b=cfg.f["b"],
                             c=cfg.f["c"], d=cfg.f["d"]))
            n += 1
        back.append(ins)
    assert n > len([i for i in prog if i.op == "CONFIG" and i.f["reg"].endswith("_OUTER")])
    assert simulate(prog, HW).total < simulate(back, HW).total
