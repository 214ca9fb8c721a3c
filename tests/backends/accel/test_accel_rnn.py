"""LSTM and GRU on the accelerator (lower_rnn.py): the x path of a chunk of steps and the h
path of each step as GEMMs, the STORE epilogue for the per-row requantization, and ALU/LUT
sequences for the gates and the cell; bit-exact
with the reference interpreter (qcc.ops.integer_rnn), and a host fallback with a precise
reason where a form is not lowered."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import replace
from types import SimpleNamespace

import numpy as np
import pytest

from qcc import arith
from qcc.backends.accel.funcsim import Machine
from qcc.backends.accel.hw import HwConfig
from qcc.backends.accel.lower_rnn import tables
from qcc.backends.accel.lower_rnn_alu import Alu
from qcc.backends.accel.runtime import load
from qcc.ir import DType, TensorType
from qcc.ops.integer_rnn import gate_tables, lut16

from accel_testlib import HW, G, compile_and_compare

SIG, TANH = gate_tables()


@pytest.mark.parametrize("biased", [False, True])
def test_lut16_sequence_is_the_reference_on_every_int16_input(biased):
    """The ALU/LUT form of the interpolated 513-entry tables over all 65,536 inputs (biased:
    the rows hold u = g + 2^15, as the gates do with their bias rows)."""
    hw = HwConfig()
    d, tpr, n = hw.dim, hw.lut_rows_per_table, 128
    lay = SimpleNamespace(t0=n, t1=2 * n, t2=3 * n, t3=4 * n)
    a = Alu(lay, tpr)
    prog = []
    a.on(SimpleNamespace(add=prog.append)).lut16(0, [(n // 2, 0), (n // 2, 1)], biased=biased)
    m = Machine(hw, np.zeros(64, np.uint8))
    m.lut[:4 * tpr] = np.pad(tables(SIG, TANH), ((0, 0), (0, tpr * d - 256))).reshape(4 * tpr, d)
    allx = np.arange(-(1 << 15), 1 << 15, dtype=np.int64).reshape(-1, n // 2 * d)
    for chunk in allx:
        m.acc[:n // 2] = chunk.reshape(n // 2, d) + (1 << 15) * biased
        m.acc[n // 2:n] = chunk.reshape(n // 2, d) + (1 << 15) * biased
        m.run(prog)
        assert np.array_equal(m.acc[:n // 2].ravel(), lut16(chunk, SIG))
        assert np.array_equal(m.acc[n // 2:n].ravel(), lut16(chunk, TANH))


def _mult(g: G, scales):
    m, s = arith.quantize_multiplier(np.asarray(scales, np.float64))
    return g.const(np.atleast_1d(m).astype(np.int32)), g.const(np.atleast_1d(s).astype(np.int32))


def _rnn(kind="lstm", seq=3, batch=1, inp=12, hidden=8, direction="forward", states="none",
         cell_frac=11, lbr=1, big_bias=False, seed=0, bias0=None, zero_weights=False):
    """A qcc.lstm / qcc.gru node built op by op (random int8 weights, realistic requant
    scales), its outputs graph outputs; ``states``: none, const or input; ``bias0``: the
    first gate row's (x-path) bias; ``zero_weights``: W = R = 0 (the gate sums are the
    biases)."""
    g = G(seed)
    nd, ng = (2 if direction == "bidirectional" else 1), (4 if kind == "lstm" else 3)
    rng = g.rng
    x = g.input((seq, batch, inp))
    wr = [g.rand((nd, ng * hidden, k)) for k in (inp, hidden)]
    w, r = (g.const(np.zeros_like(a) if zero_weights else a) for a in wr)
    braw = [rng.integers(-2000, 2000, (nd, ng * hidden)).astype(np.int32)
            for _ in range(1 if kind == "lstm" else 2)]
    if big_bias:  # gx + gh + b may leave int32 before the int16 saturation
        braw[0][0, 0] = (1 << 31) - 1000
    if bias0 is not None:
        braw[0][0, 0] = bias0
    bias = [g.const(b) for b in braw]
    mx, sx = _mult(g, rng.uniform(0.1, 0.6, nd * ng * hidden))
    mh, sh = _mult(g, rng.uniform(0.1, 0.6, nd * ng * hidden))
    shape = (nd, batch, hidden)
    if states == "input":
        h0 = g.input(shape)
        c0 = g.input(shape, DType.int16) if kind == "lstm" else None
    elif states == "const":
        h0 = g.const(g.rand(shape))
        c0 = g.const(rng.integers(-9000, 9000, shape).astype(np.int16)) if kind == "lstm" else None
    else:
        h0 = c0 = None
    tabs = [g.const(SIG), g.const(TANH)]
    mo, so = _mult(g, 2.0 ** -30 / 0.02)
    attrs = {"hidden_size": hidden, "direction": direction, "x_zp": int(rng.integers(-20, 20)),
             "h_zp": int(rng.integers(-20, 20))}
    if kind == "lstm":
        ins = [x, w, r, bias[0], mx, sx, mh, sh, h0, c0, *tabs, mo, so]
        attrs["cell_frac"] = cell_frac
        outs = 3
    else:
        ins = [x, w, r, bias[0], bias[1], mx, sx, mh, sh, h0, *tabs, mo, so]
        attrs["linear_before_reset"] = lbr
        outs = 2
    vals = [g.g.new_value(f"o{k}", TensorType(DType.int8, ())) for k in range(outs)]
    node = g.g.add_node(f"qcc.{kind}", ins, vals, attrs)
    from qcc.ops import infer_types
    for v, t in zip(vals, infer_types(node)):
        v.type = t
    g.g.outputs.extend(vals)

    def feeds():
        f = {v.name: g.rand(v.shape, v.dtype) for v in g.g.inputs}
        if states == "input" and kind == "lstm":  # a cell state the cell format can hold
            f[c0.name] = rng.integers(-9000, 9000, shape).astype(np.int16)
        return f
    g.feeds = feeds
    return g


@pytest.mark.parametrize("kw", [
    dict(kind="lstm"),
    dict(kind="lstm", direction="reverse", batch=2, states="input", cell_frac=14),
    dict(kind="lstm", direction="bidirectional", states="const", cell_frac=12),
    dict(kind="lstm", batch=2, states="const", cell_frac=9, inp=5),
    dict(kind="gru", batch=2, states="input"),
    dict(kind="gru", direction="bidirectional", states="const", inp=20),
    dict(kind="lstm", hidden=16),   # two lane blocks; the paths' PARAM rows load per step
    dict(kind="gru", lbr=0, batch=2, states="input"),   # ONNX's default GRU form
    dict(kind="gru", lbr=0, hidden=16, direction="reverse"),
])
def test_rnn_runs_on_the_accelerator_bit_exact(tmp_path, kw):
    acc = compile_and_compare(_rnn(**kw), tmp_path)
    assert acc["host_ops"] == []
    assert [ly["kind"] for ly in acc["layers"]] == ["rnn"]


def _program(tmp_path, g, hw=HW):
    """Compile and run ``g`` bit-exact; its instructions and their schedule."""
    tmp_path.mkdir(exist_ok=True)
    acc = compile_and_compare(g, tmp_path, hw, samples=1)
    assert acc["host_ops"] == []
    art = load(str(tmp_path / "accel"), {"accel": acc})
    (k, seg), = [(k, s) for k, s in enumerate(art.segments) if s["kind"] == "accel"]
    return art.instrs[seg["first"]:seg["last"]], art.schedule(k)


def _gemm_rows(tmp_path, g) -> list:
    """The ``rows`` of every GEMM of ``g``'s program (compiled and run bit-exact)."""
    return [ins.f["rows"] for ins in _program(tmp_path, g)[0] if ins.op == "GEMM"]


def test_x_path_of_all_steps_is_one_gemm_per_gate_block(tmp_path):
    """The x path does not depend on h: its GEMMs run once over all steps' rows, so six more
    steps add only the h path's GEMMs (one per gate lane block), not two per block."""
    nb = 3 * 16 // HW.dim      # gate lane blocks of a GRU with hidden 16
    short = _gemm_rows(tmp_path / "a", _rnn("gru", seq=3, batch=2, hidden=16))
    long = _gemm_rows(tmp_path / "b", _rnn("gru", seq=9, batch=2, hidden=16))
    assert len(long) - len(short) == 6 * nb
    assert long.count(9 * 2) == nb and long.count(2) == 9 * nb


def test_both_gru_forms_run_three_gemms_per_lane_block_and_step(tmp_path):
    """linear_before_reset = 0 replaces the h gate's h-path terms by the second GEMM's, so
    its h path runs only the z and r blocks: per step and lane block one GEMM per gate in
    both forms (six more steps add 6 * 3 * kb GEMMs of the batch's rows)."""
    kb = 16 // HW.dim
    for lbr in (0, 1):
        n = {seq: _gemm_rows(tmp_path / f"{lbr}{seq}", _rnn("gru", seq=seq, hidden=16, lbr=lbr))
             for seq in (3, 9)}
        assert n[9].count(1) - n[3].count(1) == 6 * 3 * kb


@pytest.mark.parametrize("kw", [
    dict(kind="lstm", direction="bidirectional", states="input"),
    dict(kind="gru", lbr=0, direction="reverse", states="const"),
])
def test_x_path_in_chunks_where_the_accumulator_is_short(tmp_path, kw):
    """20 steps of batch 2 do not fit the test array's 256 accumulator rows beside the step's
    own (LSTM: 112 + 16 per step; GRU: 88 + 12 per step): the x path runs in chunks of 9 and
    14 steps (the last chunk shorter), still bit-exact (reverse steps, the PARAM rows of the
    two paths loaded in turn)."""
    rows = _gemm_rows(tmp_path, _rnn(seq=20, batch=2, hidden=16, **kw))
    tc = 9 if kw["kind"] == "lstm" else 14
    assert sorted({r for r in rows if r > 2}) == sorted({tc * 2, (20 - tc * (20 // tc)) * 2})


@pytest.mark.parametrize("onchip", [True, False])
def test_h_stays_on_chip_and_the_first_gemms_wait_for_one_weight_piece(tmp_path, onchip):
    """With the v5 STORE into the input buffer, the new h goes there instead of through
    ``yh`` in DRAM: six more steps add no LD instruction (without it, h's LOADs in each
    step, and the outputs are bit-exact either way). The weights load in pieces,
    so the first x-path GEMM starts before the last W block has landed."""
    hw = replace(HW, onchip_store=onchip)
    prog = {}
    for seq in (3, 9):
        prog[seq], sched = _program(tmp_path / f"{seq}", _rnn("lstm", seq=seq, inp=128, hidden=16),
                                    hw)
    lds = {seq: sum(ins.engine == "ld" for ins in p) for seq, p in prog.items()}
    assert lds[9] - lds[3] == 0 if onchip else lds[9] - lds[3] >= 6
    nx = 4 * 2 * 16            # the W blocks (128 inputs: 16 K blocks); the R blocks follow
    w = [i for i, ins in enumerate(prog[9])
         if ins.op == "LOAD" and ins.f["buf"] == "WGT" and ins.f["sram"] < nx]
    first = min(i for i, ins in enumerate(prog[9]) if ins.op == "GEMM")
    assert len(w) > 1 and sched.start[first] < max(sched.ready[i] for i in w)


@pytest.mark.parametrize("kw,hw,reason", [
    (dict(kind="lstm", hidden=6), HW, "hidden size 6 is not a multiple of the array's 8 lanes"),
    (dict(kind="lstm", big_bias=True), HW, "could leave int32"),
    (dict(kind="gru"), replace(HW, lut_tables=2), "2 LUT tables"),
])
def test_forms_not_lowered_fall_back_with_the_reason(tmp_path, kw, hw, reason):
    acc = compile_and_compare(_rnn(**kw), tmp_path, hw)
    assert len(acc["host_ops"]) == 1 and reason in acc["host_ops"][0]["reason"], acc["host_ops"]


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_a_bias_at_the_int32_edge_runs_bit_exact_or_on_the_host(tmp_path, kind):
    """The gates' bias rows hold b + 2^15 (lut16's u = g + 2^15): with zero weights a gate's
    sum is its biases, so a first bias within 2^15 of int32's top would wrap in that row.
    At each bias up to 2^31 - 1 the call either stays on the host or runs bit-exact, and the
    one 2^15 + 2^13 below the top still runs on the accelerator."""
    top = (1 << 31) - 1
    on_accel = []
    for k, b in enumerate((top - (1 << 15) - (1 << 13), top - (1 << 14), top - 2, top)):
        (tmp_path / f"{k}").mkdir()
        acc = compile_and_compare(_rnn(kind, bias0=b, zero_weights=True), tmp_path / f"{k}")
        on_accel.append(acc["host_ops"] == [])
    assert on_accel[0]


QCC = os.path.join(os.path.dirname(sys.executable), "qcc")


def test_torch_lstm_through_the_console_script(tmp_path):
    """A torch-exported bidirectional LSTM + Linear, quantized with --calib, compiled for the
    accelerator (default 16x16 array) and run on its simulator: no host op, the same outputs
    as the reference engine."""
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "recurrent"))
    from rnn_testlib import data, torch_rnn

    model = torch_rnn(str(tmp_path / "m.onnx"), "lstm", bidirectional=True, seq=4, inp=8, hidden=16)
    np.savez(tmp_path / "calib.npz", x=data((4, 8), 8))
    np.savez(tmp_path / "in.npz", x=data((4, 8), 2, seed=4))

    def qcc(*args):
        p = subprocess.run([QCC, *map(str, args)], capture_output=True, text=True, timeout=600)
        assert p.returncode == 0, p.stderr

    out = tmp_path / "out"
    qcc("compile", model, "--calib", tmp_path / "calib.npz", "--target", "accel", "-o", out, "--quiet")
    assert json.loads((out / "manifest.json").read_text())["accel"]["host_ops"] == []
    for eng in ("target", "reference"):
        qcc("run", out, "--inputs", tmp_path / "in.npz", "-o", tmp_path / f"{eng}.npz", "--engine", eng)
    got, want = np.load(tmp_path / "target.npz"), np.load(tmp_path / "reference.npz")
    assert sorted(got) == sorted(want)
    for k in want:
        assert np.array_equal(got[k], want[k]), k
