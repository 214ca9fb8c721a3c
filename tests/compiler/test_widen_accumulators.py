"""The int64 accumulator (docs/arithmetic.md 5.1, issue 18): a reduction whose int32 sum
check-headroom cannot prove is given ``acc_bits=64`` by widen-accumulators -- only then
-- and runs bit-exact in the reference interpreter and the C kernels, with the float
answer (not a wrapped sum); Triton refuses it in one line, the accelerator runs it on
the host.

The models overflow int32 for real: calibrated on all-ones inputs, an int8 activation
has zero point -128, so every centered value is 255, and all-ones weights quantize to
127 (so a K-long dot product reaches ``255 * 127 * K``)."""

from __future__ import annotations

import json
import sys

import numpy as np
import onnx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from onnx import helper, numpy_helper

from qcc_testlib import assert_error, assert_ok, f32_input, make_model, qcc, qcc_inproc

EDGE = (2 ** 31 - 1) // 255  # 8 421 504 centered int8 values fit an int32 sum
K_DENSE = 70_000             # 255 * 127 * 70 000 > 2^31 - 1
K_MATMUL = 34_000            # 255 * 255 * 34 000 > 2^31 - 1
C_CONV = 8_000               # 3x3 taps: K = 72 000


def _init(name, a):
    return numpy_helper.from_array(np.asarray(a), name)


def pool_case(op: str, n: int = EDGE + 2):
    """x [1, 1, 2, n/2] -> op over the spatial axes -> y [1, 1, 1, 1]; float answer."""
    shape = [1, 1, 2, n // 2]
    inits = []
    if op == "AveragePool":
        node = helper.make_node(op, ["x"], ["y"], name="pool", kernel_shape=shape[2:])
    elif op == "GlobalAveragePool":
        node = helper.make_node(op, ["x"], ["y"], name="pool")
    else:
        node = helper.make_node(op, ["x", "axes"], ["y"], name="pool", keepdims=1)
        inits = [_init("axes", np.array([2, 3], np.int64))]
    m = make_model([node], [f32_input("x", shape)], [f32_input("y", [1, 1, 1, 1])], inits,
                   opset=18)
    return m, {"x": np.ones(shape, np.float32)}, float(n) if op == "ReduceSum" else 1.0


def dense_case(op: str):
    """Gemm (K_DENSE), MatMul of two activations (K_MATMUL), Conv (C_CONV x 3x3): the
    all-ones answer is K."""
    if op == "Gemm":
        w = np.ones((K_DENSE, 2), np.float32)
        w[:, 1] = np.linspace(-1, 1, K_DENSE)
        node = helper.make_node("Gemm", ["x", "w"], ["y"], name="dense")
        m = make_model([node], [f32_input("x", [1, K_DENSE])], [f32_input("y", [1, 2])],
                       [_init("w", w)])
        return m, {"x": np.ones((1, K_DENSE), np.float32)}, float(K_DENSE)
    if op == "MatMul":
        node = helper.make_node("MatMul", ["a", "b"], ["y"], name="dense")
        m = make_model([node], [f32_input("a", [1, K_MATMUL]), f32_input("b", [K_MATMUL, 1])],
                       [f32_input("y", [1, 1])])
        return m, {"a": np.ones((1, K_MATMUL), np.float32),
                   "b": np.ones((K_MATMUL, 1), np.float32)}, float(K_MATMUL)
    node = helper.make_node("Conv", ["x", "w"], ["y"], name="dense")
    m = make_model([node], [f32_input("x", [1, C_CONV, 3, 3])], [f32_input("y", [1, 1, 1, 1])],
                   [_init("w", np.ones((1, C_CONV, 3, 3), np.float32))])
    return m, {"x": np.ones((1, C_CONV, 3, 3), np.float32)}, float(9 * C_CONV)


def _compile(tmp_path, capsys, case, target="c", *extra):
    m, feeds, want = case
    onnx.save(m, str(tmp_path / "m.onnx"))
    np.savez(tmp_path / "c.npz", **feeds)
    out = tmp_path / f"out_{target}"
    p = qcc_inproc(capsys, "compile", tmp_path / "m.onnx", "--calib", tmp_path / "c.npz",
                   "--target", target, "-o", out, *extra)
    return p, out, feeds, want


def _check_c(out, feeds, want, name, cflags=None):
    """C (optionally sanitized) == reference interpreter, bit for bit, and ~ the float answer."""
    from qcc.backends.c.build import build, run_samples
    from qcc.commands import run_artifact

    man = json.loads((out / "manifest.json").read_text())
    assert man["passes"]["widen-accumulators"]["nodes"][name]["acc_bits"] == 64
    assert man["passes"]["check-headroom"]["min_bits"] >= 0
    binary = build(str(out), extra_cflags=cflags) if cflags else build(str(out))
    got = run_samples(str(out), [feeds], man, binary=binary)[0]["y"]
    ref = run_artifact(str(out), feeds, "reference")["y"]
    assert np.array_equal(got, ref)
    first = float(np.asarray(got).ravel()[0])
    assert abs(first - want) < 0.01 * want, (first, want)  # not a wrapped int32 sum


@pytest.mark.parametrize("op", ["MatMul", pytest.param("Gemm", marks=pytest.mark.slow), "Conv"])
def test_dense_reduction_over_int32_is_widened_and_exact_in_c(tmp_path, capsys, op):
    p, out, feeds, want = _compile(tmp_path, capsys, dense_case(op))
    assert_ok(p)
    assert "node 'dense' accumulates in int64" in p.stderr
    assert "qcc_" in (out / "model.c").read_text() and "64(&" in (out / "model.c").read_text()
    _check_c(out, feeds, want, "dense")


def test_pooling_over_int32_is_widened_through_the_script(tmp_path):
    m, feeds, want = pool_case("GlobalAveragePool")
    onnx.save(m, str(tmp_path / "m.onnx"))
    np.savez(tmp_path / "c.npz", **feeds)
    p = qcc("compile", tmp_path / "m.onnx", "--calib", tmp_path / "c.npz", "--target", "c",
            "-o", tmp_path / "out")
    assert_ok(p)
    assert "qcc.global_avgpool node 'pool' accumulates in int64" in p.stderr
    _check_c(tmp_path / "out", feeds, want, "pool")


@pytest.mark.slow  # 26 s in CI; the fast smoke is ..._through_the_script (GlobalAveragePool)
@pytest.mark.parametrize("op", ["AveragePool"])  # the others: the slow UBSan test
def test_pooling_over_int32_is_widened_in_the_reference(tmp_path, capsys, op):
    from qcc.commands import run_artifact

    p, out, feeds, want = _compile(tmp_path, capsys, pool_case(op), "c", "--stop-after",
                                   "check-headroom")
    assert_ok(p)
    graph_nodes = json.loads((out / "manifest.json").read_text())["passes"]
    assert graph_nodes["widen-accumulators"]["nodes"]["pool"]["acc_bits"] == 64
    got = float(run_artifact(str(out), feeds, "reference")["y"].ravel()[0])
    assert abs(got - want) < 0.01 * want
    _lowering_without_the_wide_kernels_refuses(out / "model.qcc")


def _lowering_without_the_wide_kernels_refuses(model_qcc):
    """A target whose Support lacks the pool family's int64 form names the node."""
    from qcc.backends.c.program import SUPPORT, TARGET_DESC
    from qcc.errors import LoweringError
    from qcc.ir.serialize import load
    from qcc.lower import Support, lower

    g = load(str(model_qcc))
    lower(g.clone(), "m", TARGET_DESC, SUPPORT)  # the C target has it
    with pytest.raises(LoweringError, match=r"target c: qcc.avgpool node 'pool' needs an int64 "
                                            r"accumulator"):
        lower(g, "m", TARGET_DESC, Support(SUPPORT.families))


@pytest.mark.slow
@pytest.mark.skipif(sys.platform != "linux", reason="sanitizer runtimes: linux gcc")
@pytest.mark.parametrize("op", ["GlobalAveragePool", "AveragePool", "ReduceMean", "ReduceSum",
                                "Gemm", "MatMul", "Conv"])
def test_widened_form_is_exact_in_c_under_ubsan(tmp_path, capsys, op):
    case = dense_case(op) if op in ("Gemm", "MatMul", "Conv") else pool_case(op)
    p, out, feeds, want = _compile(tmp_path, capsys, case)
    assert_ok(p)
    _check_c(out, feeds, want, "dense" if op in ("Gemm", "MatMul", "Conv") else "pool",
             ("-O1", "-g", "-fsanitize=undefined", "-fno-sanitize-recover=all"))


def _ort_answer(out, feeds) -> float:
    import onnxruntime as ort

    sess = ort.InferenceSession(str(out / "model.onnx"))  # default (all) graph optimizations
    return float(np.asarray(sess.run(None, feeds)[0]).ravel()[0])


@pytest.mark.parametrize("op", ["Gemm", "MatMul", "Conv"])
def test_onnx_target_keeps_onnxruntime_off_its_int32_kernels(tmp_path, capsys, op):
    """onnxruntime fuses QDQ Conv/MatMul/pooling into QLinear* kernels that sum in int32
    (0 or 5929 instead of 72000 here): the widened nodes' export avoids the fusion."""
    p, out, feeds, want = _compile(tmp_path, capsys, dense_case(op), "onnx")
    assert_ok(p)
    got = _ort_answer(out, feeds)
    assert abs(got - want) < 0.01 * want, (got, want)


@pytest.mark.slow
@pytest.mark.parametrize("op", ["GlobalAveragePool", "AveragePool", "ReduceMean", "ReduceSum"])
def test_onnx_target_pooling_in_onnxruntime(tmp_path, capsys, op):
    p, out, feeds, want = _compile(tmp_path, capsys, pool_case(op), "onnx")
    assert_ok(p)
    got = _ort_answer(out, feeds)
    assert abs(got - want) < 0.01 * want, (got, want)


@pytest.mark.parametrize("op", ["MatMul", pytest.param("Gemm", marks=pytest.mark.slow),
                                pytest.param("Conv", marks=pytest.mark.slow),
                                pytest.param("GlobalAveragePool", marks=pytest.mark.slow),
                                pytest.param("ReduceMean", marks=pytest.mark.slow)])
def test_triton_widened_form_is_exact_under_the_interpreter(tmp_path, capsys, op):
    """The Triton kernels of the int64-accumulator form (the gemm template sums each K
    tile's int32 dot in int64; the row kernels accumulate in int64): bit-exact with the
    reference and near the float answer (a wrapped int32 sum would be far off)."""
    pytest.importorskip("triton")  # the interpreter: TRITON_INTERPRET=1 from tests/conftest.py
    from qcc.commands import run_artifact

    dense = op in ("Gemm", "MatMul", "Conv")
    p, out, feeds, want = _compile(tmp_path, capsys, dense_case(op) if dense else pool_case(op),
                                   "triton")
    assert_ok(p)
    man = json.loads((out / "manifest.json").read_text())
    assert man["passes"]["widen-accumulators"]["nodes"]["dense" if dense else "pool"]["acc_bits"] == 64
    got = run_artifact(str(out), feeds, "target", "cpu")["y"]
    ref = run_artifact(str(out), feeds, "reference")["y"]
    assert np.array_equal(got, ref)
    first = float(np.asarray(got).ravel()[0])
    assert abs(first - want) < 0.01 * want, (first, want)


def test_accel_runs_the_widened_node_on_the_host(tmp_path, capsys):
    from qcc.commands import run_artifact

    p, out, feeds, want = _compile(tmp_path, capsys, dense_case("MatMul"), "accel")
    assert_ok(p)
    man = json.loads((out / "manifest.json").read_text())
    host = [h for h in json.dumps(man).split("{") if "'dense'" in h or '"dense"' in h]
    assert any("acc_bits=64" in h for h in host), host
    got = float(run_artifact(str(out), feeds, "reference")["y"].ravel()[0])
    assert abs(got - want) < 0.01 * want


# ---------------------------------------------------------------- the pass and the arithmetic
def _gap_graph(count: int, zp: int):
    from qcc.ir import DType, Graph, TensorType, Value

    g = Graph(name="t", opset=17)
    x = g.add_input("x", TensorType(DType.int8, (1, 1, 1, count)))
    y = Value("y", TensorType(DType.int8, (1, 1, 1, 1)))
    g.add_node("qcc.global_avgpool", [x, g.add_const("m", np.array([(1 << 31) - 1], np.int32)),
                                      g.add_const("s", np.array([62], np.int32))],
               [y], {"x_zp": zp, "y_zp": 0})
    g.outputs.append(y)
    return g


@settings(max_examples=60, deadline=None)
@given(count=st.integers(1, 1 << 30), zp=st.integers(-128, 127))
def test_widened_exactly_when_the_int32_proof_fails(count, zp):
    """Only where needed: acc_bits=64 iff count * max|x - zp| > 2^31 - 1, and the result
    always passes check-headroom (the narrowed multiplier keeps acc * m in int64)."""
    from qcc.passes.check_headroom import analyse
    from qcc.passes.widen_accumulators import widen_accumulators
    from qcc.passmanager import PassContext

    g = _gap_graph(count, zp)
    widen_accumulators(g, PassContext())
    node = g.nodes[0]
    amax = max(abs(-128 - zp), abs(127 - zp))
    assert (node.attrs.get("acc_bits") == 64) == (count * amax > 2 ** 31 - 1)
    assert analyse(g)[node.name]["bits"] >= 0


@settings(max_examples=200, deadline=None)
@given(bits=st.integers(32, 62), m=st.integers(1 << 30, (1 << 31) - 1), s=st.integers(40, 62),
       frac=st.floats(-1.0, 1.0), zp=st.integers(-128, 127))
def test_requantize_wide_matches_exact_integers(bits, m, s, frac, zp):
    """At the int64 edge: for |acc| < 2^bits, the narrowed (m', s') keeps |acc * m'| < 2^63
    and requantize_wide equals the exact big-integer formula; m'/2^s' stays within
    2^-(31 - p) (relative) of m/2^s."""
    from qcc import arith

    mn, sn = arith.narrow_multiplier(np.array([m]), np.array([s]), bits)
    mi, si = int(mn[0]), int(sn[0])
    acc = int(frac * ((1 << bits) - 1))
    assert abs(acc) * mi < 1 << 63
    exact = max(-128, min(127, ((acc * mi + (1 << (si - 1))) >> si) + zp))
    assert int(arith.requantize_wide(np.array([acc]), mn, sn, zp)[0]) == exact
    p = max(0, bits - 31)
    assert abs(mi / 2.0 ** si - m / 2.0 ** s) <= (m / 2.0 ** s) * 2.0 ** -(30 - p)


def test_requantize_wide_refuses_an_unproved_product():
    from qcc import arith
    from qcc.errors import QccError

    with pytest.raises(QccError, match="int64 accumulator x multiplier overflow"):
        arith.requantize_wide(np.array([1 << 40]), np.array([1 << 30]), np.array([40]))
