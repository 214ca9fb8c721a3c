"""The accelerator corpus benchmark (bench/corpus_accel.py): its per-model function on a tiny
corpus-like folder made here (compile, bit-exact on two samples, profile, host ops with
their reasons), a failure as a one-line row, and the table / JSON shape."""

from __future__ import annotations

import json

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from qcc.bench import corpus_accel


def corpus_folder(root, name="tiny"):
    """conv 3x3 -> relu -> conv 1x1, as fetch.py writes a corpus folder: model.onnx,
    calib.npz, test.npz (3 samples), meta.json."""
    rng = np.random.default_rng(0)
    f = lambda *s: (0.3 * rng.standard_normal(s)).astype(np.float32)  # noqa: E731
    nodes = [helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c1"], ["r1"]),
             helper.make_node("Conv", ["r1", "w2", "b2"], ["y"])]
    inits = [numpy_helper.from_array(a, n) for n, a in
             (("w1", f(8, 2, 3, 3)), ("b1", f(8)), ("w2", f(4, 8, 1, 1)), ("b2", f(4)))]
    g = helper.make_graph(nodes, "m", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2, 8, 8])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4, 8, 8])], inits)
    d = root / name
    d.mkdir(parents=True)
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), str(d / "model.onnx"))
    np.savez(d / "calib.npz", x=rng.uniform(-1, 1, (8, 2, 8, 8)).astype(np.float32))
    np.savez(d / "test.npz", x=rng.uniform(-1, 1, (3, 2, 8, 8)).astype(np.float32))
    (d / "meta.json").write_text(json.dumps({"name": name, "kind": "segmenter", "input_shapes": []}))
    return d


def test_one_model_row_and_table(tmp_path):
    d = corpus_folder(tmp_path / "zoo")
    row = corpus_accel.measure_one(str(d), str(tmp_path / "work"))
    assert row["compiles"] is True and row["bit_exact"] is True, row
    assert row["samples"] == 2 and "error" not in row and row["measured"].endswith("UTC")
    assert row["cycles"] > 0 and 0 < row["utilization"] <= 1
    assert row["conv_layers"] >= 1 and 0 < row["conv_cycles"] <= row["cycles"]
    assert row["host_ops"] == []
    hosted = dict(row, model="hosted", host_ops=[{"node": f"a{i}", "op": "qcc.argmax", "reason": "no index"}
                                                 for i in range(2)])
    md = corpus_accel.table([row, hosted, {"model": "broken", "error": "timed out after 5 s (in compile)"}])
    lines = md.splitlines()
    assert len(lines) == 5 and all(ln.count("|") == lines[0].count("|") for ln in lines)
    assert lines[2].startswith("| tiny | yes | none | yes | ")
    assert lines[3].startswith("| hosted | yes | 2 qcc.argmax: no index | yes | ")
    assert lines[4].endswith("| timed out after 5 s (in compile) |")
    res = corpus_accel.result([row, hosted], 0.0, ["--zoo", "z"])
    json.dumps(res)
    assert res["summary"] == {"models": 2, "compile": 2, "bit_exact": 2, "no_host_ops": 1, "failed": []}


def test_a_model_that_fails_to_compile_is_a_one_line_row(tmp_path):
    d = corpus_folder(tmp_path / "zoo")
    (d / "model.onnx").write_bytes(b"not an onnx model")
    row = corpus_accel.measure_one(str(d), str(tmp_path / "work"))
    assert row["compiles"] is False and row["error"].startswith("compile: ")
    assert "\n" not in row["error"] and "bit_exact" not in row


def test_main_runs_each_model_in_its_own_process_and_writes_json_and_markdown(tmp_path, capsys):
    corpus_folder(tmp_path / "zoo")
    js, md = tmp_path / "r.json", tmp_path / "r.md"
    rc = corpus_accel.main(["--zoo", str(tmp_path / "zoo"), "--json", str(js), "--md", str(md),
                            "--work", str(tmp_path / "work")])
    assert rc == 0
    res = json.loads(js.read_text())
    assert [r["model"] for r in res["rows"]] == ["tiny"] and res["rows"][0]["bit_exact"] is True
    assert res["summary"]["bit_exact"] == 1 and res["qcc"] is not None and res["date"]
    assert md.read_text().splitlines()[2].startswith("| tiny | yes | none | yes | ")
    assert corpus_accel.main(["--zoo", str(tmp_path / "nowhere")]) == 2


def test_update_replaces_the_rows_of_the_models_measured_again(tmp_path):
    old = tmp_path / "old.json"
    old.write_text(json.dumps({"rows": [{"model": "a", "error": "x"}, {"model": "b", "error": "y"}]}))
    got = corpus_accel.merge(str(old), [{"model": "b", "bit_exact": True}, {"model": "c", "error": "z"}])
    assert got == [{"model": "a", "error": "x"}, {"model": "b", "bit_exact": True}, {"model": "c", "error": "z"}]
