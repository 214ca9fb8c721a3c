"""The static race check (``races.py``, docs/target_accel.md §9): a conflicting pair of
accesses from two engines that no dependency token orders is reported, naming both
instructions and the rows; the streams the lowering emits are race-free, and the same
streams without their tokens are not."""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from qcc.backends.accel.hw import HwConfig
from qcc.backends.accel.isa import make
from qcc.backends.accel.races import RaceError, check_segment
from qcc.backends.accel.runtime import load
from qcc.cli import main

from accel_testlib import HW, G, compile_and_compare

sys.path.insert(0, str(Path(__file__).parent))
D = HW.dim
ARENA = 4096            # bytes below the constants in the hand-written streams
EX = Path(__file__).resolve().parents[3] / "examples"


def _tile(gemm_deps=("pop_prev", "push_next"), store_deps=("pop_prev",)):
    """LD loads 4 input rows and a weight block, EX multiplies, ST stores the 4 rows."""
    return [
        make("LOAD", buf="WGT", sram=0, dram=ARENA, rows=1, stride=D * D),
        make("LOAD", buf="INP", sram=0, dram=0, rows=4, cols=D, stride=D, deps=("push_next",)),
        make("GEMM", reset=1, acc=0, inp=0, wgt=0, rows=4, kblocks=1, deps=gemm_deps),
        make("STORE", dtype="i8", mode="raw", sram=0, dram=1024, rows=4, cols=D, stride=D,
             deps=store_deps),
        make("FINISH"),
    ]


def test_a_store_without_the_gemm_token_is_reported():
    check_segment(_tile(), HW, ARENA)
    with pytest.raises(RaceError, match=r"instruction 2 \(GEMM on EX\) writes ACC rows 0\.\.3 "
                                        r"\(4 of them\) that instruction 3 \(STORE on ST\) reads"):
        check_segment(_tile(gemm_deps=("pop_prev",), store_deps=()), HW, ARENA)


def test_a_gemm_without_the_load_token_is_reported():
    with pytest.raises(RaceError, match=r"instruction 1 \(LOAD on LD\) writes INP rows 0\.\.3"):
        prog = _tile(gemm_deps=("push_next",))
        check_segment(prog[:1] + [replace(prog[1], deps=())] + prog[2:], HW, ARENA)


def _dram_roundtrip(token: bool):
    """ST writes arena bytes 64..79 that a later LD LOAD reads (through s2l, or not)."""
    return [
        make("GEMM", reset=1, acc=0, inp=0, wgt=0, rows=1, kblocks=1, deps=("push_next",)),
        make("STORE", dtype="i8", mode="raw", sram=0, dram=64, rows=1, cols=D, stride=D,
             deps=("pop_prev", "push_next") if token else ("pop_prev",)),
        make("LOAD", buf="INP", sram=8, dram=60, rows=2, cols=D, stride=16,
             deps=("pop_prev",) if token else ()),
        make("FINISH"),
    ]


def test_an_arena_byte_stored_then_loaded_needs_the_ring_token():
    check_segment(_dram_roundtrip(True), HW, ARENA)
    assert D == 8   # the STORE writes bytes [64, 72), the LOAD reads [60, 68) and [76, 84)
    with pytest.raises(RaceError, match=r"instruction 1 \(STORE on ST\) writes DRAM bytes "
                                        r"64\.\.67 \(4 of them\) that instruction 2 \(LOAD"):
        check_segment(_dram_roundtrip(False), HW, ARENA)
    # the same bytes among the read-only constants: nothing to order
    check_segment(_dram_roundtrip(False), HW, 64)


def test_overwriting_rows_a_gemm_still_reads_needs_its_token():
    """WAR: the second input LOAD reuses the rows of the first tile's GEMM."""
    prog = _tile()[:3] + [
        make("LOAD", buf="INP", sram=2, dram=0, rows=2, cols=D, stride=D, deps=("pop_next",)),
        make("FINISH")]
    prog[2] = replace(prog[2], deps=("pop_prev", "push_prev"))
    check_segment(prog, HW, ARENA)
    prog[2], prog[3] = replace(prog[2], deps=("pop_prev",)), replace(prog[3], deps=())
    with pytest.raises(RaceError, match=r"instruction 2 \(GEMM on EX\) reads INP rows 2\.\.3 "
                                        r"\(2 of them\) that instruction 3 \(LOAD on LD\) writes"):
        check_segment(prog, HW, ARENA)


def test_ex_loads_land_after_a_gemm_but_before_the_scoreboarded_ops():
    """§4: an EX LOAD into the accumulator is pipelined; an ALU waits for it (the
    scoreboard), a GEMM issued behind it does not."""
    ld = make("LOAD", buf="ACC", dtype="i32", sram=0, dram=0, rows=2, cols=D, stride=4 * D)
    gemm = make("GEMM", reset=0, acc=0, inp=0, wgt=0, rows=2, kblocks=1)
    alu = make("ALU", alu_op="ADD", use_imm=1, dst=8, rows=1, dst_inc=1)
    with pytest.raises(RaceError, match=r"instruction 0 \(LOAD on EX\) writes ACC rows 0\.\.1 "
                                        r".*instruction 1 \(GEMM on EX\) writes"):
        check_segment([ld, gemm, make("FINISH")], HW, ARENA)
    check_segment([ld, alu, gemm, make("FINISH")], HW, ARENA)


def _segments(out: Path, acc: dict | None = None):
    acc = acc or json.loads((out / "manifest.json").read_text())["accel"]
    art = load(str(out), {"accel": acc})
    const_base = acc["dram"]["image_bytes"] - acc["dram"]["const_bytes"]
    return [(art.instrs[s["first"]:s["last"]], art.hw, const_base)
            for s in art.segments if s["kind"] == "accel"]


def _assert_race_free_and_needs_its_tokens(out: Path, acc: dict | None = None) -> None:
    segs = _segments(out, acc)
    assert segs
    for prog, hw, limit in segs:
        check_segment(prog, hw, limit)
        if sum(1 for ins in prog if ins.op in ("GEMM", "STORE")) > 1:
            with pytest.raises(RaceError):
                check_segment([replace(ins, deps=()) for ins in prog], hw, limit)


def _compile_example(name: str, model: str, out: Path) -> Path:
    assert main(["compile", str(EX / name / model), "--calib", str(EX / name / "calib.npz"),
                 "--target", "accel", "-o", str(out), "--quiet"]) == 0
    return out


def test_digits_cnn_stream_is_race_free_and_not_without_its_tokens(tmp_path):
    _assert_race_free_and_needs_its_tokens(
        _compile_example("digits_cnn", "digits_cnn.onnx", tmp_path / "o"))


@pytest.mark.slow
@pytest.mark.parametrize("name,model", [("mobilenet_small", "mobilenet_small.onnx"),
                                        ("text_recog", "text_recog_opset17.onnx")])
def test_example_streams_are_race_free(tmp_path, name, model):
    _assert_race_free_and_needs_its_tokens(_compile_example(name, model, tmp_path / "o"))


def _compiled(g: G, tmp_path: Path, hw: HwConfig = HW) -> tuple[Path, dict]:
    return tmp_path / "accel", compile_and_compare(g, tmp_path, hw, samples=1)


@pytest.mark.parametrize("kw", [
    dict(kind="lstm"),
    dict(kind="lstm", direction="bidirectional", states="const", cell_frac=12),
    dict(kind="gru", batch=2, states="input"),
    dict(kind="lstm", hidden=16),
    dict(kind="gru", lbr=0, hidden=16, direction="reverse"),
])
def test_rnn_streams_are_race_free(tmp_path, kw):
    from test_accel_rnn import _rnn
    _assert_race_free_and_needs_its_tokens(*_compiled(_rnn(**kw), tmp_path))


@pytest.mark.parametrize("kw", [dict(), dict(k=3, lut=True), dict(swap=True, reader=True)])
def test_residual_block_streams_are_race_free(tmp_path, kw):
    from test_accel_radd import _block
    _assert_race_free_and_needs_its_tokens(*_compiled(_block(**kw), tmp_path))


def _behind_an_on_chip_store(rows: int):
    """ST: a DRAM STORE, then an on-chip STORE of ``rows`` rows pushes s2l; LD loads the DRAM
    bytes on that token."""
    return [
        make("GEMM", reset=1, acc=0, inp=0, wgt=0, rows=1, kblocks=1, deps=("push_next",)),
        make("STORE", dtype="i8", mode="raw", sram=0, dram=64, rows=1, cols=D, stride=D,
             deps=("pop_prev",)),
        make("STORE", dtype="i8", mode="raw", sram=0, dram=100, rows=rows, cols=D, stride=1,
             inp=1, deps=("push_next",)),
        make("LOAD", buf="INP", sram=0, dram=64, rows=1, cols=D, stride=D, deps=("pop_prev",)),
        make("FINISH"),
    ]


def test_a_token_carries_an_earlier_dma_only_once_it_has_landed():
    """§4: a token is ready at its pusher's start + busy + latency; an on-chip STORE (latency
    ``sram_latency``) pushing right behind a DRAM STORE (``dma_latency``) may hand it over
    before the DRAM bytes land, unless its own busy cycles cover the difference."""
    hw = HW
    short = hw.dma_latency - hw.sram_latency - hw.dma_overhead   # busy = overhead + rows
    with pytest.raises(RaceError, match=r"instruction 1 \(STORE on ST\) writes DRAM bytes 64"):
        check_segment(_behind_an_on_chip_store(short - 1), hw, ARENA)
    check_segment(_behind_an_on_chip_store(short), hw, ARENA)
    check_segment(_behind_an_on_chip_store(1), replace(hw, dma_latency=hw.sram_latency), ARENA)
