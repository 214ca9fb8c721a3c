"""Never-seen models (issue 12): op forms that Funnel-Transformer exports and no integer
target ran.  Each was 'cannot be lowered to integer arithmetic':
* Einsum attention (``bind,bjnd->bnij``, ``bnij,bjnd->bind``) and Einsum with a weight;
* AveragePool with ``ceil_mode=1`` (its last window runs past the input);
* ``Where(cond, a, b)`` selecting between two computed tensors by a run-time condition."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from qcc.bench.accuracy import ort_outputs
from qcc.bench.metrics import sqnr_db
from qcc.commands import run_artifact
from qcc.driver import CompileOptions, compile_model
from qcc.frontend.onnx_import import import_model
from qcc.interp import run
from qcc.passmanager import PassContext, all_passes


def _save(path, nodes, ins, inits, opset=17):
    g = helper.make_graph(nodes, "m", ins, [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
                          [numpy_helper.from_array(v, k) for k, v in inits.items()])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 8
    onnx.save(m, path)


def _compile_check(tmp_path, path, calib, test, min_db, target="c"):
    np.savez(tmp_path / "calib.npz", **calib)
    out = str(tmp_path / target)
    compile_model(path, CompileOptions(target=target, out_dir=out,
                                       options={"calib": str(tmp_path / "calib.npz"), "quiet": True}))
    got, want = run_artifact(out, test, "target"), run_artifact(out, test, "reference")
    assert np.array_equal(got["y"], want["y"])
    assert sqnr_db(ort_outputs(path, test), want["y"]) >= min_db


B, L, N, DH = 1, 6, 2, 4


def _einsum_attention(path):
    rng = np.random.default_rng(7)
    inits = {"wq": rng.standard_normal((N * DH, N, DH)).astype(np.float32) * 0.3,
             "wk": rng.standard_normal((N * DH, N, DH)).astype(np.float32) * 0.3,
             "wv": rng.standard_normal((N * DH, N, DH)).astype(np.float32) * 0.4}
    nodes = [helper.make_node("Einsum", ["x", w], [w[1]], equation="bld,dnh->blnh") for w in ("wq", "wk", "wv")]
    nodes += [helper.make_node("Einsum", ["q", "k"], ["s"], equation="bind,bjnd->bnij"),
              helper.make_node("Softmax", ["s"], ["p"], axis=-1),
              helper.make_node("Einsum", ["p", "v"], ["y"], equation="bnij,bjnd->bind")]
    _save(path, nodes, [helper.make_tensor_value_info("x", TensorProto.FLOAT, [B, L, N * DH])], inits)
    return ({"x": rng.standard_normal((16, L, N * DH)).astype(np.float32)},
            {"x": rng.standard_normal((4, L, N * DH)).astype(np.float32)})


@pytest.mark.parametrize("target", ["c", "accel"])
def test_einsum_attention(tmp_path, target):
    """(onnxruntime's quantize_static leaves Einsum float, so it is no int8 baseline here;
    the bound is what int8 attention on 16 calibration samples reaches.)"""
    path = str(tmp_path / "ein.onnx")
    calib, test = _einsum_attention(path)
    _compile_check(tmp_path, path, calib, test, 15.0, target)


@pytest.mark.parametrize("eq,sa,sb", [("ij,jk->ik", (3, 4), (4, 5)), ("bij,bkj->bki", (2, 3, 4), (2, 5, 4)),
                                      ("abcd,adbe->acbe", (2, 3, 4, 5), (2, 5, 3, 6)),
                                      ("ijk,jkl->li", (3, 4, 5), (4, 5, 2)), ("i,j->ij", (3,), (4,)),
                                      ("ij,ij->i", (3, 4), (3, 4)), ("ij,i->j", (3, 4), (3,)),
                                      ("ij,jk->i", (3, 4), (4, 5)), ("ii,ij->j", (3, 3), (3, 4))])
def test_einsum_forms_match_onnxruntime(tmp_path, eq, sa, sb):
    """The Transpose/Reshape/MatMul form equals onnxruntime's Einsum (outer products,
    two contracted letters, a permuted output, batched dot products; a letter summed out
    of one side and a repeated letter are left as Einsum)."""
    path = str(tmp_path / "e.onnx")
    _save(path, [helper.make_node("Einsum", ["a", "b"], ["y"], equation=eq)],
          [helper.make_tensor_value_info("a", TensorProto.FLOAT, list(sa)),
           helper.make_tensor_value_info("b", TensorProto.FLOAT, list(sb))], {})
    rng = np.random.default_rng(0)
    feeds = {"a": rng.standard_normal(sa).astype(np.float32), "b": rng.standard_normal(sb).astype(np.float32)}
    g = import_model(path)
    import qcc.passes  # noqa: F401  (registers the passes)
    all_passes()["canonicalize"].fn(g, PassContext())
    summed_out = eq in ("ij,jk->i", "ii,ij->j")  # a letter summed out of one side; a trace
    assert ("onnx.Einsum" in {n.op for n in g.nodes}) == summed_out
    got = run(g, feeds)[g.outputs[0].name]
    np.testing.assert_allclose(got, ort_outputs(path, feeds), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("pads,include", [([0, 0, 0, 0], 1), ([1, 1, 0, 0], 0), ([0, 0, 0, 0], 0)])
def test_avgpool_ceil_mode(tmp_path, pads, include):
    rng = np.random.default_rng(9)
    path = str(tmp_path / "pool.onnx")
    inits = {"w": rng.standard_normal((4, 3, 3, 3)).astype(np.float32) * 0.3}
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1]),
             helper.make_node("AveragePool", ["c"], ["y"], kernel_shape=[3, 2], strides=[2, 2],
                              ceil_mode=1, pads=pads, count_include_pad=include)]
    _save(path, nodes, [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 10, 9])], inits)
    calib = {"x": rng.standard_normal((8, 3, 10, 9)).astype(np.float32)}
    test = {"x": rng.standard_normal((2, 3, 10, 9)).astype(np.float32)}
    _compile_check(tmp_path, path, calib, test, 30.0)


def test_where_selects_between_activations(tmp_path):
    rng = np.random.default_rng(11)
    path = str(tmp_path / "sel.onnx")
    inits = {"w1": rng.standard_normal((8, 8)).astype(np.float32) * 0.3,
             "w2": rng.standard_normal((8, 8)).astype(np.float32) * 3.0, "one": np.array(1, np.int64)}
    nodes = [helper.make_node("MatMul", ["x", "w1"], ["a"]), helper.make_node("MatMul", ["x", "w2"], ["b"]),
             helper.make_node("Equal", ["tt", "one"], ["c2"]),
             helper.make_node("Unsqueeze", ["c2", "ax"], ["c"]),
             helper.make_node("Where", ["c", "a", "b"], ["y"])]
    inits["ax"] = np.array([2], np.int64)
    _save(path, nodes, [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 5, 8]),
                        helper.make_tensor_value_info("tt", TensorProto.INT64, [1, 5])], inits)

    def feeds(n):
        return {"x": rng.standard_normal((n, 5, 8)).astype(np.float32),
                "tt": rng.integers(0, 2, (n, 5)).astype(np.int64)}
    _compile_check(tmp_path, path, feeds(16), feeds(4), 25.0)


def test_3d_conv_refusal_names_the_reason(tmp_path):
    """Video models (torchvision r3d_18 / mc3_18): a 3-D Conv has no integer rule; the one
    line names the node and why (it said only 'conv ... cannot be lowered'), exit code 2."""
    import subprocess
    rng = np.random.default_rng(13)
    path = str(tmp_path / "c3d.onnx")
    _save(path, [helper.make_node("Conv", ["x", "w"], ["y"], pads=[1] * 6)],
          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2, 3, 4, 4])],
          {"w": rng.standard_normal((3, 2, 3, 3, 3)).astype(np.float32)})
    np.savez(tmp_path / "calib.npz", x=rng.standard_normal((4, 2, 3, 4, 4)).astype(np.float32))
    r = subprocess.run(["qcc", "compile", path, "--calib", str(tmp_path / "calib.npz"),
                        "--target", "c", "-o", str(tmp_path / "out")], capture_output=True, text=True)
    assert r.returncode == 2, r.stderr
    assert "Traceback" not in r.stderr
    assert "3-D convolution: only 1-D and 2-D are lowered" in r.stderr


@pytest.mark.parametrize("ceil", [0, 1])
def test_avgpool_1d(tmp_path, ceil):
    """SEW (issue 12, never-seen models): AveragePool over a sequence ([N, C, L]) was
    'cannot be lowered'; it runs as a 2-D pool over [N, C, 1, L]."""
    rng = np.random.default_rng(17)
    path = str(tmp_path / "p1.onnx")
    inits = {"w": rng.standard_normal((4, 3, 3)).astype(np.float32) * 0.3}
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1]),
             helper.make_node("AveragePool", ["c"], ["y"], kernel_shape=[2], strides=[2], ceil_mode=ceil)]
    _save(path, nodes, [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 11])], inits)
    calib = {"x": rng.standard_normal((64, 3, 11)).astype(np.float32)}  # (8 samples clip the test's tails)
    test = {"x": rng.standard_normal((2, 3, 11)).astype(np.float32)}
    _compile_check(tmp_path, path, calib, test, 30.0)
