"""Helpers of the C backend tests: many small integer ops in one graph, one gcc build,
outputs compared bit for bit with the reference interpreter."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from qcc import arith
from qcc.backends.c import arm
from qcc.interp import Interpreter
from qcc.ir import DType, Graph, TensorType, Value
from qcc.ir.verifier import verify
from qcc.ops import infer_types

needs_gcc = pytest.mark.skipif(shutil.which("gcc") is None or shutil.which("make") is None,
                               reason="gcc and make are needed to build the generated C")
FAST_CFLAGS = ("-O1",)  # tests compile many small programs; -O3 is exercised by the model tests
needs_arm = pytest.mark.skipif(not arm.available(), reason=arm.missing_tools() or "ok")


class Cases:
    """A graph of independent single-op cases with integer inputs and outputs."""

    def __init__(self, seed: int = 0):
        self.g = Graph("cases")
        self.feeds: dict[str, np.ndarray] = {}
        self.rng = np.random.default_rng(seed)

    def input(self, arr, dt: DType = None) -> Value:
        arr = np.asarray(arr)
        v = self.g.add_input(f"x{len(self.g.inputs)}", TensorType(dt or DType.from_numpy(arr.dtype), arr.shape))
        self.feeds[v.name] = arr
        return v

    def rand_input(self, shape, dt: DType = DType.int8) -> Value:
        return self.input(self.rng.integers(dt.min, dt.max + 1, size=shape).astype(dt.np), dt)

    def const(self, arr, dt: DType = None) -> Value:
        arr = np.asarray(arr)
        return self.g.add_const(f"c{len(self.g.constants)}", arr, dt or DType.from_numpy(arr.dtype))

    def op(self, op: str, inputs, attrs=None, n_out: int = 1, output: bool = True):
        outs = [self.g.new_value(f"y{len(self.g.outputs)}_{i}", TensorType(DType.int8, ()))
                for i in range(n_out)]
        node = self.g.add_node(op, inputs, outs, attrs or {})
        for v, t in zip(outs, infer_types(node)):
            v.type = t
        if output:
            self.g.outputs.extend(outs)
        return outs[0] if n_out == 1 else outs

    def mult(self, n: int = 1, lo: float = 1e-4, hi: float = 0.9):
        r = np.exp(self.rng.uniform(np.log(lo), np.log(hi), n))
        m, s = arith.quantize_multiplier(r)
        return self.const(np.atleast_1d(m).astype(np.int32)), self.const(np.atleast_1d(s).astype(np.int32))


def emit_c(graph: Graph, out_dir: str, name: str = "t") -> dict:
    from qcc.backends.c import emit

    os.makedirs(out_dir, exist_ok=True)
    extra = emit(graph, out_dir, SimpleNamespace(options={"model_name": name}))
    manifest = dict(extra, target="c")
    with open(os.path.join(out_dir, "manifest.json"), "w") as f:
        json.dump(manifest, f, default=str)
    return manifest


def run_c(graph: Graph, feeds_list: list, out_dir: str, cflags=FAST_CFLAGS, cc: str = "gcc"):
    from qcc.backends.c.build import build, run_samples

    manifest = emit_c(graph, out_dir)
    binary = build(out_dir, cc=cc, extra_cflags=cflags)
    return run_samples(out_dir, feeds_list, manifest, binary=binary), manifest


def _assert_equal(want: dict, got: dict, where: str = "C") -> None:
    """Every output of ``want`` (the interpreter's) equals ``got``'s bit for bit, dtype and shape."""
    for name, w in want.items():
        g = got[name]
        assert g.dtype == w.dtype and g.shape == w.shape, (name, g.dtype, w.dtype, g.shape, w.shape)
        if not np.array_equal(g, w):
            bad = np.argwhere(g != w)[:5].tolist()
            raise AssertionError(f"output {name}: {where} differs from the interpreter at {bad}: "
                                 f"{g[tuple(np.array(bad).T)]} vs {w[tuple(np.array(bad).T)]}")


def check_exact(cases: Cases, out_dir: str, cflags=FAST_CFLAGS) -> dict:
    """Build the cases, run them, assert every output equals the interpreter's exactly."""
    verify(cases.g)
    want = Interpreter(cases.g).run(cases.feeds)
    got, manifest = run_c(cases.g, [cases.feeds], str(out_dir), cflags)
    _assert_equal(want, got[0])
    return manifest


def check_exact_qemu(cases: Cases, out_dir, core: str = "cortex-m4", feature: str = None) -> dict:
    """The same on QEMU's Cortex-M board for ``core`` (arm-none-eabi-gcc build); ``feature``
    (e.g. ``__ARM_FEATURE_DSP``) must guard a kernel variant in the generated header."""

    verify(cases.g)
    want = Interpreter(cases.g).run(cases.feeds)
    manifest = emit_c(cases.g, str(out_dir))
    if feature:
        assert feature in (Path(out_dir) / "qcc_kernels.h").read_text(), feature
    got, = arm.run_qemu(Path(out_dir), [cases.feeds], core=core)
    _assert_equal(want, got, f"C on {core}")
    return manifest


def edge_biases(data, room: int, n: int, label: str = "bias") -> list:
    """Hypothesis draw of ``n`` int32 biases near +-2^31: ``room`` is the largest magnitude the
    accumulation adds, so ``bias + sum`` stays in int32 (``data`` is ``st.data()``)."""
    from hypothesis import strategies as st

    top, bot = 2**31 - 1 - room, -2**31 + room
    return data.draw(st.lists(st.one_of(st.integers(top - 2**12, top), st.integers(bot, bot + 2**12),
                                        st.integers(bot, top)), min_size=n, max_size=n), label=label)


def add_conv_op(cs: Cases, op: str, x_shape, w_shape, m: int, geometry: dict, wvals=None,
                acc_out=False, per_channel=True, relu=False, bias=None, ratios=None, x_zp=None):
    """One random int8 conv-like node (``qcc.conv2d``, ``qcc.conv_transpose2d``) of ``m``
    output channels: weights of ``w_shape`` (from ``wvals`` if given), int32 bias, per-channel
    or per-tensor multipliers (from ``ratios`` if given), random zero points (``x_zp`` drawn
    among the int8 edges unless given); ``geometry``: the strides/pads/... attributes;
    ``acc_out``: the int32 accumulators as the output (no requantization)."""
    x = cs.rand_input(x_shape)
    wv = cs.rng.integers(-128, 128, w_shape) if wvals is None else cs.rng.choice(wvals, w_shape)
    w = cs.const(wv.astype(np.int8))
    bv = cs.rng.integers(-20000, 20000, m) if bias is None else np.resize(np.asarray(bias), m)
    b = cs.const(bv.astype(np.int32))
    if ratios is None:
        ms = list(cs.mult(m if per_channel else 1, 1e-5, 3e-2))
    else:
        mm, ss = arith.quantize_multiplier(np.resize(np.asarray(ratios, np.float64), m))
        ms = [cs.const(np.atleast_1d(mm).astype(np.int32)), cs.const(np.atleast_1d(ss).astype(np.int32))]
    y_zp = int(cs.rng.integers(-128, 128))
    attrs = {"x_zp": int(cs.rng.choice([-128, 127, int(cs.rng.integers(-128, 128))]))
             if x_zp is None else x_zp, "y_zp": y_zp, **geometry}
    if relu:
        attrs.update(act_min=y_zp, act_max=127)
    if acc_out:
        ms = []
        attrs = {a: v for a, v in attrs.items() if a not in ("y_zp", "act_min", "act_max")}
    return cs.op(op, [x, w, b] + ms, attrs)



def add_depthwise(cs: Cases, n, c, hw, k, s, pads, **kw) -> None:
    """A depthwise ``qcc.conv2d`` (one input channel per group, dilation 1) on
    ``[n, c, hw]`` with a ``k`` kernel, strides ``s`` and ``pads`` (``add_conv_op``'s extras)."""
    add_conv_op(cs, "qcc.conv2d", (n, c, hw[0], hw[1]), (c, 1, k[0], k[1]), c,
                {"strides": list(s), "pads": list(pads), "dilations": [1, 1], "group": c}, **kw)


def add_depthwise_edges(cs: Cases, c, hw, k, s, side: int) -> None:
    """Depthwise convs at the int32 edges: biases +-(2^31 - 1) minus the products' room,
    weights -128 / 127, input zero points -128 and 127, multipliers 2^-31 .. 0.99 across
    the channels."""
    edge = side * (2**31 - 1 - k[0] * k[1] * 128 * 255)
    pads = [k[0] // 2, k[1] // 2] * 2
    ratios = [[2.0**-31, 0.99, 2.0**-12][i % 3] for i in range(c)]
    bias = [[edge, -edge, 0][i % 3] for i in range(c)]
    for zp in (-128, 127):
        add_depthwise(cs, 1, c, hw, k, (s, s), pads, wvals=[-128, 127], bias=bias, ratios=ratios,
                      x_zp=zp)


def add_global_avgpools(cs: Cases, specs) -> None:
    """qcc.global_avgpool cases: per (shape, lo, hi) a random input whose requantization ratio
    is drawn from [lo, hi) with random zero points, then a 9x9 plane of bytes at -128 / 127
    (x_zp -128: the largest sums)."""
    for shape, lo_r, hi_r in specs:
        x = cs.rand_input(shape)
        m, s = cs.mult(1, lo_r, hi_r)
        cs.op("qcc.global_avgpool", [x, m, s], {"x_zp": int(cs.rng.integers(-128, 128)),
                                                "y_zp": int(cs.rng.integers(-128, 128))})
    xe = cs.input(cs.rng.choice(np.array([-128, 127], np.int8), (1, 3, 9, 9)), DType.int8)
    m, s = cs.mult(1, 1e-3, 1e-2)
    cs.op("qcc.global_avgpool", [xe, m, s], {"x_zp": -128, "y_zp": 5})


def check_exact_dispatched(cases: Cases, out_dir, variants, monkeypatch, cflags=("-O1",)):
    """One program built with run-time dispatch; each of ``variants`` (``QCC_DISPATCH``) run
    against the interpreter bit for bit.  Returns the out_dir's binary path."""
    from qcc.backends.c.build import build, run_samples

    verify(cases.g)
    want = Interpreter(cases.g).run(cases.feeds)
    manifest = emit_c(cases.g, str(out_dir))
    binary = build(str(out_dir), extra_cflags=cflags, dispatch=True)
    for v in variants:
        monkeypatch.setenv("QCC_DISPATCH", v)
        _assert_equal(want, run_samples(str(out_dir), [cases.feeds], manifest, binary=binary)[0],
                      f"C variant {v}")
    return binary