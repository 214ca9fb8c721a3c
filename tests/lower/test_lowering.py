"""qcc.lower: the target-neutral kernel program (structure, target-driven tiling, the
plan's alignment, support reported for every node at once, layering)."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import numpy as np
import pytest

from qcc import arith
from qcc.errors import LoweringError, UnsupportedOpError
from qcc.ir import DType, Graph, TensorType
from qcc.ir.verifier import verify
from qcc.lower import FAMILIES, Const, Epilogue, Kernel, Support, Target, lower
from qcc.lower import kernels as K
from qcc.lower.program import buffer_nbytes
from qcc.lower.support import dtypes
from qcc.ops import infer_types

LOWER = Path(__file__).resolve().parents[2] / "compiler" / "lower"


class G:
    """A small integer graph built op by op."""

    def __init__(self, seed: int = 0):
        self.g = Graph("t")
        self.rng = np.random.default_rng(seed)

    def input(self, shape, dt=DType.int8):
        return self.g.add_input(f"x{len(self.g.inputs)}", TensorType(dt, tuple(shape)))

    def const(self, arr, dt=None):
        arr = np.asarray(arr)
        return self.g.add_const(f"c{len(self.g.constants)}", arr, dt or DType.from_numpy(arr.dtype))

    def mult(self, n=1):
        m, s = arith.quantize_multiplier(np.full(n, 0.01))
        return (self.const(np.atleast_1d(m).astype(np.int32)),
                self.const(np.atleast_1d(s).astype(np.int32)))

    def op(self, op, inputs, attrs=None, output=False):
        out = self.g.new_value(f"v{len(self.g.nodes)}", TensorType(DType.int8, ()))
        node = self.g.add_node(op, inputs, [out], attrs or {})
        out.type = infer_types(node)[0]
        if output:
            self.g.outputs.append(out)
        return out

    def conv(self, x, m, k, wdt=DType.int8, name_out=False, **attrs):
        c = x.shape[1]
        lo, hi = wdt.min, wdt.max
        w = self.const(self.rng.integers(lo, hi + 1, (m, c, k, k)).astype(np.int8), wdt)
        b = self.const(np.zeros(m, np.int32))
        return self.op("qcc.conv2d", [x, w, b, *self.mult(m)],
                       dict(strides=[1, 1], pads=[0, 0, 0, 0], group=1, **attrs), name_out)


def _model(wdt=DType.int8):
    gb = G()
    x = gb.input((1, 8, 12, 12))
    y = gb.conv(x, 16, 3, wdt)
    z = gb.conv(y, 16, 3, wdt)
    gb.op("qcc.add", [z, z, gb.mult(2)[0], gb.mult(1)[1]], {}, output=True)
    verify(gb.g)
    return gb.g


def test_kernel_program_structure_and_locations():
    kp = lower(_model(), "m")
    assert [c.family for c in kp.calls] == ["conv2d", "conv2d", "binary"]
    conv = kp.calls[0]
    assert isinstance(conv, K.Conv2d) and isinstance(conv.epi, Epilogue)
    assert conv.epi.per_channel and conv.epi.mult.values and conv.epi.mult.resident
    assert conv.w.dtype is DType.int8 and conv.w.data.size == 16 * 8 * 9
    # the binary's multipliers are immediates, not constant buffers
    add = kp.calls[2]
    assert not add.epi.mult.resident and len(add.epi.mult.values) == 2
    assert all(c.resident for c in kp.consts.values())
    assert conv.consts() == [conv.w, conv.epi.bias, conv.epi.mult, conv.epi.shift]
    assert add.consts() == []
    used = {id(c) for call in kp.calls for c in call.consts()}
    assert used == {id(c) for c in kp.consts.values()}   # every buffer is read by a call
    assert kp.location(kp.calls[0].x).space == "input"
    assert kp.location(add.y).space == "output"
    mid = kp.location(conv.y)
    assert mid.space == "arena" and mid.offset % kp.target.align == 0
    assert mid.offset + buffer_nbytes(conv.y) <= kp.plan.arena


def test_no_backend_names_in_calls():
    """Calls hold IR values, constants, DTypes and plain numbers/strings, no C spellings."""
    kp = lower(_model(DType.int4), "m")

    def walk(x):
        if isinstance(x, str):
            assert not re.search(r"int\d+_t|QCC_|qcc_|void", x), x
        elif dataclasses.is_dataclass(x) and not isinstance(x, Const):
            for f in dataclasses.fields(x):
                if f.name != "node":
                    walk(getattr(x, f.name))
        elif isinstance(x, (list, tuple)):
            for v in x:
                walk(v)

    for call in kp.calls:
        walk(call)
    assert kp.calls[0].wbits == 4


def test_target_drives_tiling_and_alignment():
    g = _model()
    base = lower(g, "m")
    assert base.calls[1].algo == "im2col" and base.calls[1].block == 8192 // (2 * 16 * 9)
    small = lower(g, "m", Target(im2col_bytes=2 * 16 * 9 * 4))
    assert small.calls[1].block == 4
    assert small.calls[1].scratch == 2 * 4 * 16 * 9 < base.calls[1].scratch
    wide = lower(g, "m", Target(align=256))
    offs = [v for k, v in wide.plan.offsets.items()]
    assert offs and all(o % 256 == 0 for o in offs)


def test_target_arena_limit_is_enforced():
    need = lower(_model(), "m").plan.arena
    assert lower(_model(), "m", Target(arena_limit=need)).plan.arena == need
    with pytest.raises(LoweringError, match=rf"target t: the activation arena needs {need} "
                                            rf"bytes \(lower bound \d+\); the target holds 64"):
        lower(_model(), "m", Target(name="t", arena_limit=64))


def test_target_weight_bits_are_enforced():
    with pytest.raises(LoweringError, match=r"target acc: .*weight 'c\d+' has dtype int4; "
                                            r"the kernels take int8 weights"):
        lower(_model(DType.int4), "m", Target(name="acc", weight_bits=(8,)))


def test_support_reports_every_node_at_once():
    gb = G()
    x = gb.input((1, 8, 6, 6), DType.int16)
    y = gb.op("qcc.requant", [x, *gb.mult()], {}, output=False)
    gb.op("qcc.lut", [y, gb.const(np.arange(256, dtype=np.int16).astype(np.int8))], {},
          output=True)
    gb.op("qcc.requant", [x, *gb.mult()], {}, output=True)
    sup = Support({"requant": {"x": dtypes("int8")}})
    with pytest.raises(LoweringError) as e:
        lower(gb.g, "m", Target(name="t"), sup)
    msg = str(e.value)
    assert msg.startswith("target t: 3 problems: ")
    assert msg.count("has x 'x0' of dtype i16; the requant kernel takes i8") == 2
    assert "needs a lut kernel, which this target does not implement" in msg


def test_missing_rules_are_listed_together():
    gb = G()
    x = gb.input((4,), DType.int8)
    for _ in range(2):
        gb.op("onnx.Abs", [x], {}, output=True)
    with pytest.raises(UnsupportedOpError, match=r"target z has no kernel for 2 node\(s\) "
                                                 r"\[onnx\.Abs\]"):
        lower(gb.g, "m", Target(name="z"))


def test_every_family_is_registered_and_documented():
    doc = (LOWER.parents[1] / "docs" / "lowering.md").read_text()
    for fam, cls in FAMILIES.items():
        assert issubclass(cls, Kernel)
        assert f"`{fam}`" in doc, f"docs/lowering.md does not describe family {fam}"


def test_layering_of_the_lowering_layer():
    """qcc.lower imports only the core; rule modules never import the registry back."""
    for f in LOWER.glob("*.py"):
        text = f.read_text()
        bad = re.findall(r"^\s*(?:from|import)\s+(qcc\.(?:passes|backends|bench)\b|"
                         r"\.\.(?:passes|backends|bench)\b)", text, re.M)
        assert not bad, f"{f.name} imports {bad}"
        if f.name.startswith("rules_"):
            assert not re.search(r"^\s*(?:from|import)\s.*registry", text, re.M), \
                f"{f.name} imports the registry"


def _pw_model():
    """A 3x3 conv to 64 channels (its step is the arena's peak) and a pointwise conv 64 -> 16
    after it, whose step leaves room in the arena."""
    gb = G()
    x = gb.input((1, 8, 12, 12))
    y = gb.conv(x, 64, 3)
    gb.conv(y, 16, 1, name_out=True)
    verify(gb.g)
    return gb.g


def test_pointwise_scratch_widens_only_into_the_plans_room():
    """Target.pw_wide_cols: a pointwise conv's GEMM scratch takes more columns only where the
    memory plan has room at its step; the arena and its lower bound stay the narrow plan's
    and the plan still passes its overlap and schedule checks (lower() runs them)."""
    from qcc.lower.rules_nn import conv_scratch

    g, wide_t = _pw_model(), Target(pw_wide_cols=(64, 32))
    narrow, wide = lower(g, "m", Target()), lower(g, "m", wide_t)
    pw_n, pw_w = narrow.calls[1], wide.calls[1]
    assert (wide.plan.arena, wide.plan.lower_bound) == (narrow.plan.arena, narrow.plan.lower_bound)
    assert pw_n.pw_cols == 0 and pw_w.pw_cols in wide_t.pw_wide_cols
    assert pw_w.scratch == conv_scratch(pw_w.geom, 0, pw_w.pw_cols) > pw_n.scratch
    live = pw_w.scratch + sum(buffer_nbytes(v) for v in (pw_w.x, pw_w.y))
    assert live <= wide.plan.arena
    # alone in its program (x and y at the boundary), there is no room: the narrow scratch
    gb = G()
    gb.conv(gb.input((1, 64, 10, 10)), 16, 1, name_out=True)
    verify(gb.g)
    alone = lower(gb.g, "m", wide_t)
    assert alone.calls[0].pw_cols == 0 and alone.calls[0].scratch == conv_scratch(alone.calls[0].geom, 0)
