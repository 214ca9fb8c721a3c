"""GELU after a linear layer: the exact 256-entry int8 table (``gelu=lut``) against
I-BERT's int16 polynomial (``gelu=ibert``) and the per-layer choice between them
(``gelu=auto``, the default), on a small feed-forward block made here in both exporter
forms (erf and tanh).  docs/transformers.md."""

from __future__ import annotations

import math
import subprocess

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

import qcc
from qcc.interp import Interpreter

D, F, S = 24, 64, 12


def _ffn(form: str, seed: int = 0, w1: float = 0.5) -> onnx.ModelProto:
    """x[1,S,D] -> MatMul+Add -> GELU (exporter subgraph) -> MatMul+Add -> y; ``w1``: the
    first weights' standard deviation (GELU's input range grows with it)."""
    rng = np.random.default_rng(seed)
    inits = [numpy_helper.from_array(a.astype(np.float32), n) for n, a in (
        ("w1", rng.normal(0, w1, (D, F))), ("b1", rng.normal(0, 0.3 * w1 / 0.5, F)),
        ("w2", rng.normal(0, 0.2, (F, D))), ("b2", rng.normal(0, 0.1, D)),
        ("half", np.array(0.5)), ("one", np.array(1.0)), ("r2", np.array(math.sqrt(2.0))),
        ("k", np.array(math.sqrt(2 / math.pi))), ("c", np.array(0.044715)), ("three", np.array(3.0)))]
    nodes = [helper.make_node("MatMul", ["x", "w1"], ["m1"]), helper.make_node("Add", ["m1", "b1"], ["h"])]
    if form == "erf":
        nodes += [helper.make_node("Div", ["h", "r2"], ["hs"]), helper.make_node("Erf", ["hs"], ["e"])]
    else:
        nodes += [helper.make_node("Pow", ["h", "three"], ["h3"]), helper.make_node("Mul", ["h3", "c"], ["h3c"]),
                  helper.make_node("Add", ["h", "h3c"], ["inner"]), helper.make_node("Mul", ["inner", "k"], ["ik"]),
                  helper.make_node("Tanh", ["ik"], ["e"])]
    nodes += [helper.make_node("Add", ["e", "one"], ["e1"]), helper.make_node("Mul", ["h", "e1"], ["he"]),
              helper.make_node("Mul", ["he", "half"], ["g"]),
              helper.make_node("MatMul", ["g", "w2"], ["m2"]), helper.make_node("Add", ["m2", "b2"], ["y"])]
    graph = helper.make_graph(nodes, "ffn", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, S, D])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, S, D])], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def _data(n: int, seed: int) -> dict:
    return {"x": np.random.default_rng(seed).normal(0, 1, (n, S, D)).astype(np.float32)}


def _float(model, data) -> np.ndarray:
    so = ort.SessionOptions()
    so.log_severity_level = 3
    sess = ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])
    return np.concatenate([sess.run(None, {"x": data["x"][i:i + 1]})[0] for i in range(len(data["x"]))])


def _sqnr(ref, out) -> float:
    ref, out = ref.astype(np.float64), out.astype(np.float64)
    return float(10 * np.log10(np.sum(ref ** 2) / np.sum((ref - out) ** 2)))


def _gelu(x: np.ndarray, form: str) -> np.ndarray:
    if form == "tanh":
        return 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))
    return 0.5 * x * (1 + np.vectorize(math.erf)(x / math.sqrt(2)))


@pytest.fixture(scope="module", params=["erf", "tanh"])
def compiled(request, tmp_path_factory):
    model = _ffn(request.param)
    art = qcc.compile(model, _data(32, 1), target="c", out_dir=tmp_path_factory.mktemp("c"), quiet=True,
                      gelu="lut")
    return request.param, model, art


def test_gelu_is_an_exact_int8_table(compiled):
    """table[q] = clamp(round(gelu(s_in (q - zp_in)) / s_out) + zp_out), recomputed here."""
    form, _, art = compiled
    g = art.graph
    assert not [n for n in g.nodes if n.op == "qcc.igelu"]
    luts = [n for n in g.nodes if n.op == "qcc.lut"]
    assert [n.attrs["fn"] for n in luts] == ["Gelu"]
    n = luts[0]
    assert n.attrs.get("approximate", "none") == ("tanh" if form == "tanh" else "none")
    x, y = n.inputs[0], n.outputs[0]
    assert x.dtype.name == "int8"
    si, zi = float(x.qparams.scale[0]), int(x.qparams.zero_point[0])
    so, zo = float(y.qparams.scale[0]), int(y.qparams.zero_point[0])
    q = np.arange(-128, 128)
    want = np.clip(np.round(_gelu(si * (q - zi), form) / so) + zo, -128, 127)
    got = n.inputs[1].data.astype(np.int64).reshape(-1)
    # round half to even in the table vs numpy's (also half to even): identical codes
    np.testing.assert_array_equal(got, want)


def test_c_bit_exact_with_the_interpreter(compiled):
    _, _, art = compiled
    test = _data(4, 2)
    got, want = art.run(test, engine="target"), art.run(test, engine="reference")
    np.testing.assert_array_equal(got["y"], want["y"])


def test_qdq_export_runs_the_table_in_onnxruntime(compiled, tmp_path):
    """The QDQ export computes GELU in float between DequantizeLinear and QuantizeLinear:
    the same codes as the table up to float32 ties (at most one step apart)."""
    form, model, _ = compiled
    art = qcc.compile(model, _data(32, 1), target="onnx", out_dir=tmp_path / "o", quiet=True, gelu="lut")
    test = _data(4, 2)
    got, want = art.run(test, engine="target")["y"], art.run(test, engine="reference")["y"]
    step = float(np.max(np.abs(want))) / 127
    assert float(np.max(np.abs(got - want))) <= 2 * step


@pytest.mark.parametrize("w1,better", [(0.1, "lut"), (1.0, "ibert")])
def test_auto_picks_the_more_accurate_form(w1, better):
    """gelu=auto (the default) measures both forms' error over the calibrated range and
    keeps the smaller: the table wins on a narrow GELU input (I-BERT's i-erf is off by
    ~0.1 next to 0), the int16 polynomial on a wide one (the int8 input step is coarse)."""
    model, calib, test = _ffn("erf", seed=3, w1=w1), _data(32, 1), _data(8, 5)
    ref = _float(model, test)
    sq = {}
    for mode in ("lut", "ibert", "auto"):
        g = qcc.quantize(model, calib, gelu=mode)
        ops = {n.op for n in g.nodes}
        assert ("qcc.igelu" in ops) == (mode == "ibert" or (mode == "auto" and better == "ibert"))
        it = Interpreter(g)
        out = np.concatenate([it.run({"x": test["x"][i:i + 1]})["y"] for i in range(8)])
        sq[mode] = _sqnr(ref, out)
    worse = "ibert" if better == "lut" else "lut"
    assert sq[better] > sq[worse] + 0.5, sq
    assert sq["auto"] == sq[better]


def test_cli_gelu_flag(tmp_path):
    path = tmp_path / "m.onnx"
    onnx.save(_ffn("erf"), path)
    np.savez(tmp_path / "calib.npz", **_data(16, 1))
    cmd = ["qcc", "compile", str(path), "--calib", str(tmp_path / "calib.npz"),
           "--target", "onnx", "--quiet"]
    r = subprocess.run(cmd + ["-o", str(tmp_path / "ib"), "--gelu", "ibert"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    ops = {n.op for n in qcc.load(tmp_path / "ib").graph.nodes}
    assert "qcc.igelu" in ops
    r = subprocess.run(cmd + ["-o", str(tmp_path / "lut"), "--gelu", "lut"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    ops = {n.op for n in qcc.load(tmp_path / "lut").graph.nodes}
    assert "qcc.igelu" not in ops and "qcc.lut" in ops
    r = subprocess.run(cmd + ["-o", str(tmp_path / "bad"), "--gelu", "cubic"], capture_output=True, text=True)
    assert r.returncode == 2 and "--gelu" in r.stderr and "Traceback" not in r.stderr


@pytest.mark.parametrize("target", ["accel", pytest.param("triton", marks=pytest.mark.slow)])
@pytest.mark.parametrize("form", ["erf", "tanh"])
def test_other_targets_bit_exact(tmp_path, target, form):
    """The same table on the accelerator simulator and in Triton (CPU interpreter)."""
    art = qcc.compile(_ffn(form), _data(32, 1), target=target, out_dir=tmp_path / target, quiet=True, gelu="lut")
    assert any(n.op == "qcc.lut" for n in art.graph.nodes)
    test = _data(2, 2)
    got = art.run(test, engine="target", **({"device": "cpu"} if target == "triton" else {}))
    np.testing.assert_array_equal(got["y"], art.run(test, engine="reference")["y"])
