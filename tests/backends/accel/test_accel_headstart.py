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
